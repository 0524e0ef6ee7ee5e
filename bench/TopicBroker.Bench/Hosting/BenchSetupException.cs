namespace TopicBroker.Bench.Hosting;

/// <summary>The benchmark cannot start: bad options, no broker build, a broker that does not come up.</summary>
internal sealed class BenchSetupException(string message, Exception? inner = null) : Exception(message, inner);
