using TopicBroker.Bench.Reporting;

namespace TopicBroker.Bench.Measurement;

/// <summary>CPU time of the broker (when its pid is known) and of this generator at one instant.</summary>
internal readonly record struct CpuSnapshot(long Timestamp, TimeSpan? Broker, TimeSpan Generator, int GeneratorCollections, TimeSpan GeneratorGcPause)
{
    public static CpuSnapshot Take(int? brokerProcessId) => new(
        MonotonicClock.Now,
        brokerProcessId is { } pid ? Hosting.ProcessMetrics.TryReadCpuTime(pid) : null,
        Hosting.ProcessMetrics.CurrentProcessCpuTime(),
        GC.CollectionCount(0),
        GC.GetTotalPauseDuration());

    public static CpuUsage Between(CpuSnapshot start, CpuSnapshot end)
    {
        var seconds = MonotonicClock.ToSeconds(end.Timestamp - start.Timestamp);
        double? broker = start.Broker is { } b0 && end.Broker is { } b1 ? (b1 - b0).TotalSeconds : null;
        var generator = (end.Generator - start.Generator).TotalSeconds;
        return new CpuUsage(
            WindowSeconds: seconds,
            BrokerCpuSeconds: broker,
            BrokerCpuPercent: broker is { } cpu && seconds > 0 ? cpu / seconds * 100 : null,
            GeneratorCpuSeconds: generator,
            GeneratorCpuPercent: seconds > 0 ? generator / seconds * 100 : 0,
            GeneratorCollections: end.GeneratorCollections - start.GeneratorCollections,
            GeneratorGcPauseMs: (end.GeneratorGcPause - start.GeneratorGcPause).TotalMilliseconds);
    }
}
