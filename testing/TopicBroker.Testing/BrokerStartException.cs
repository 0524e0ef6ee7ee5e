namespace TopicBroker.Testing;

/// <summary>A child broker that did not come up: it exited, or never said where it listens. The message holds its output.</summary>
public sealed class BrokerStartException(string message) : Exception(message);
