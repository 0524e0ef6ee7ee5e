using TopicBroker.Bench.Clients;
using TopicBroker.Bench.Measurement;
using TopicBroker.Bench.Reporting;

namespace TopicBroker.Bench.Scenarios;

/// <summary>
/// Runs a delivery measurement: connects every subscriber (each must get its snapshot), then for
/// each rate step publishes for warm-up + duration, samples CPU and counters at the window's
/// edges, waits until every line is acked and every subscriber has seen every update, and
/// records the step. A sweep goes up the rates until <see cref="StopReason"/> finds a reason.
/// </summary>
internal static class DeliveryRunner
{
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_ackTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(20);
    private const int KeptSubscriberProblems = 5;

    public static async Task<ScenarioResult> RunAsync(BenchContext context, DeliverySettings settings, CancellationToken cancellationToken)
    {
        var startedUtc = DateTimeOffset.UtcNow;
        var startedAt = MonotonicClock.Now;
        var problems = new List<string>();
        var output = context.Output;
        output.WriteLine(
            $"{settings.Name}: {settings.Subscribers} subscribers on {settings.Topics.Count} topic(s), rates {string.Join(", ", settings.Rates)} updates/s, " +
            $"warm-up {settings.WarmupSeconds} s, measured {settings.DurationSeconds} s per step");

        await using var pool = context.CreateSubscriberPool(settings.Topics, settings.ReceiveBufferBytes);
        var placements = SourceAddresses.Place(settings.Subscribers, settings.Topics.Count, SourceAddresses.For(settings.Subscribers, settings.PerAddress));

        ConnectOutcome connect;
        await using (context.StartProgress(() => $"{settings.Name}: connecting {pool.Attempted}/{placements.Count}"))
        {
            connect = await pool.ConnectAsync(placements, settings.ConnectConcurrency, s_connectTimeout, cancellationToken).ConfigureAwait(false);
        }

        output.WriteLine($"{settings.Name}: {connect.Established} subscribers connected in {connect.Seconds:0.00} s ({connect.Established / Math.Max(connect.Seconds, 1e-9):0} /s)");
        if (connect.Failed > 0)
        {
            problems.Add($"{connect.Failed} of {connect.Requested} subscribers failed to connect, e.g. {string.Join("; ", connect.FailureSamples)}");
        }

        var steps = new List<DeliveryStep>();
        if (connect.Established > 0)
        {
            await using var bridge = await context.ConnectBridgeAsync(settings.MaxInFlight, cancellationToken).ConfigureAwait(false);
            var publisher = new PacedPublisher(bridge, new UpdateLineWriter(settings.Topics, settings.IdPrefix, settings.IdsPerTopic, settings.PayloadBytes));
            long lostBefore = 0;
            long duplicatesBefore = 0;
            foreach (var rate in settings.Rates)
            {
                var step = await RunStepAsync(context, settings, pool, bridge, publisher, rate, connect.Established, lostBefore, duplicatesBefore, problems, cancellationToken)
                    .ConfigureAwait(false);
                steps.Add(step);
                lostBefore += step.FramesLost;
                duplicatesBefore += step.Duplicates;
                output.WriteLine(
                    $"{settings.Name}: {rate:0} upd/s -> {step.DeliveredFramesPerSecond:N0} frames/s, p50 {Format.Ms(step.Latency.P50Ms)} ms, " +
                    $"p99 {Format.Ms(step.Latency.P99Ms)} ms, max {Format.Ms(step.Latency.MaxMs)} ms, lost {step.FramesLost}, " +
                    $"broker CPU {Format.Fixed(step.Cpu.BrokerCpuPercent)} %, generator CPU {Format.Fixed(step.Cpu.GeneratorCpuPercent)} %");
                if (!step.Drained || step.OpenSubscribers < connect.Established || bridge.Failure is not null)
                {
                    break;
                }

                if (settings.Sweep && StopReason(settings, steps) is { } reason)
                {
                    output.WriteLine($"{settings.Name}: stopping the sweep: {reason}");
                    break;
                }
            }

            if (bridge.Rejected > 0)
            {
                problems.Add($"the broker rejected {bridge.Rejected} bridge lines, e.g. {string.Join("; ", bridge.RejectionSamples)}");
            }
        }

        var lostTotal = steps.Sum(s => s.FramesLost);
        var totals = Totals(pool.Subscribers) with { FramesLost = lostTotal };
        var notes = new List<string>();

        // A sweep is meant to overload the broker in its last step; there a slow subscriber is
        // closed with 1013 or has its backlog conflated (Broker:DeliveryPolicies "latest"), and
        // the updates it then misses are the documented way to fail, not a bug.
        var overloadEndedSweep = settings.Sweep && steps.Count > 0 &&
            (steps[^1].OverLimit || steps[^1].Saturated) &&
            lostTotal == steps[^1].FramesLost &&
            totals.CloseCodes.Keys.All(code => code.StartsWith("1013", StringComparison.Ordinal));
        var lossProblems = overloadEndedSweep ? notes : problems;
        if (lostTotal > 0)
        {
            lossProblems.Add($"{lostTotal} frames lost (updates some subscriber never received)");
        }

        if (totals.SubscribersClosed > 0)
        {
            lossProblems.Add($"{totals.SubscribersClosed} subscribers were closed during the run: {string.Join(", ", totals.CloseCodes.Select(c => $"{c.Key} x{c.Value}"))}");
        }

        if (totals.Duplicates > 0 || totals.SeqRegressions > 0)
        {
            problems.Add($"{totals.Duplicates} duplicate/out-of-order updates, {totals.SeqRegressions} seq regressions");
        }

        if (totals.UnparsedUpdates > 0)
        {
            problems.Add($"{totals.UnparsedUpdates} update frames without the expected ts/n/seq fields");
        }

        if (settings.Sweep && steps.Count > 0 && steps[0].Latency.P99Ms > settings.P99LimitMs)
        {
            problems.Add($"even the lowest rate has p99 {Format.Ms(steps[0].Latency.P99Ms)} ms over the {settings.P99LimitMs} ms limit");
        }

        var result = context.CreateResult(settings.Name, startedUtc, startedAt, problems, Summarize(settings, steps, totals));
        return result with
        {
            Notes = notes,
            Delivery = new DeliveryResult(
                Mode: settings.Sweep ? "sweep" : "fixed-rate",
                Topics: settings.Topics.Count,
                SubscribersPerTopic: settings.SubscribersPerTopic,
                Subscribers: settings.Subscribers,
                PayloadBytes: settings.PayloadBytes,
                SendQueueCapacity: settings.SendQueueCapacity,
                ReceiveBufferBytes: settings.ReceiveBufferBytes,
                Connect: connect,
                Steps: steps,
                Totals: totals),
        };
    }

    /// <summary>
    /// Why a sweep should not go higher. One p99 over the limit is not enough: on a shared
    /// machine a single fsync or scheduling hiccup can push one step's p99 up while the next,
    /// busier step (which batches better) is fine. Two in a row, a broker that no longer keeps
    /// up, or any loss ends it.
    /// </summary>
    private static string? StopReason(DeliverySettings settings, IReadOnlyList<DeliveryStep> steps)
    {
        var last = steps[^1];
        if (last.FramesLost > 0 || !last.Drained)
        {
            return $"{last.FramesLost} frames lost at {last.OfferedUpdatesPerSecond:0} upd/s";
        }

        if (last.Saturated)
        {
            return $"the broker delivered {last.DeliveredFramesPerSecond:N0} of {last.OfferedFramesPerSecond:N0} offered frames/s";
        }

        if (last.OverLimit && steps.Count >= 2 && steps[^2].OverLimit)
        {
            return $"p99 over the {settings.P99LimitMs} ms limit in two steps in a row ({Format.Ms(steps[^2].Latency.P99Ms)}, {Format.Ms(last.Latency.P99Ms)} ms)";
        }

        return null;
    }

    private static async Task<DeliveryStep> RunStepAsync(
        BenchContext context,
        DeliverySettings settings,
        SubscriberPool pool,
        BridgeClientConnection bridge,
        PacedPublisher publisher,
        double rate,
        int established,
        long lostBefore,
        long duplicatesBefore,
        List<string> problems,
        CancellationToken cancellationToken)
    {
        var begin = MonotonicClock.Now;
        var window = new MeasurementWindow(
            begin + MonotonicClock.FromSeconds(settings.WarmupSeconds),
            begin + MonotonicClock.FromSeconds(settings.WarmupSeconds + settings.DurationSeconds));
        pool.Window.Current = window;
        bridge.BeginCommitWindow(window);
        var acceptedBefore = bridge.Accepted;
        var rejectedBefore = bridge.Rejected;
        var publishedBefore = publisher.Published;

        var lastUpdates = pool.TotalUpdates();
        var lastAt = MonotonicClock.Now;
        string Describe()
        {
            var now = MonotonicClock.Now;
            var updates = pool.TotalUpdates();
            var perSecond = (updates - lastUpdates) / Math.Max(MonotonicClock.ToSeconds(now - lastAt), 1e-9);
            lastUpdates = updates;
            lastAt = now;
            var phase = now < window.StartTimestamp ? "warm-up" : now < window.EndTimestamp ? "measuring" : "draining";
            return $"{settings.Name} {rate:0} upd/s {phase} {MonotonicClock.ToSeconds(now - begin):0.0}s: published {publisher.Published - publishedBefore:N0}, " +
                   $"acked {bridge.Accepted - acceptedBefore:N0}, delivered {perSecond:N0} frames/s, open {pool.OpenCount()}/{established}";
        }

        CpuSnapshot cpuStart;
        CpuSnapshot cpuEnd;
        long updatesStart;
        long updatesEnd;
        double? rss;
        bool allAnswered;
        bool drained;
        await using (context.StartProgress(Describe))
        {
            var publishing = publisher.RunAsync(rate, window.EndTimestamp, cancellationToken);
            try
            {
                await MonotonicClock.DelayUntilAsync(window.StartTimestamp, cancellationToken).ConfigureAwait(false);
                cpuStart = context.SampleCpu();
                updatesStart = pool.TotalUpdates();
                publisher.ResetLag();
                await MonotonicClock.DelayUntilAsync(window.EndTimestamp, cancellationToken).ConfigureAwait(false);
                cpuEnd = context.SampleCpu();
                updatesEnd = pool.TotalUpdates();
                rss = context.BrokerRssMiB();
            }
            finally
            {
                // The publisher thread is owned here: awaited on every path, also on cancellation.
                try
                {
                    await publishing.ConfigureAwait(false);
                }
                catch (IOException ex)
                {
                    problems.Add($"publisher failed at {rate} upd/s: {ex.Message}");
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                }
            }

            allAnswered = bridge.Failure is null && await bridge.WaitForAllAnsweredAsync(s_ackTimeout, cancellationToken).ConfigureAwait(false);
            if (!allAnswered)
            {
                problems.Add($"at {rate} upd/s, {bridge.InFlight} bridge lines were never answered ({bridge.Failure ?? "timeout"})");
            }

            drained = await pool.WaitForDrainAsync(publisher.PublishedPerTopic(), s_drainTimeout, cancellationToken).ConfigureAwait(false);
            if (!drained)
            {
                problems.Add($"at {rate} upd/s, subscribers had not received every update {s_drainTimeout.TotalSeconds:0} s after publishing stopped");
            }
        }

        pool.Window.Current = null;
        var latency = window.Recorder.Merge();
        var cpu = CpuSnapshot.Between(cpuStart, cpuEnd);
        var delivered = updatesEnd - updatesStart;
        var published = publisher.PublishedPerTopic();
        // Only subscribers that got their snapshot count; one that failed to connect is reported as such.
        var subscribers = pool.Subscribers.Where(s => s.FirstFrameTimestamp != 0).ToList();
        long lost = 0;
        long duplicates = 0;
        foreach (var subscriber in subscribers)
        {
            lost += subscriber.Missing + Math.Max(0, published[subscriber.TopicIndex] - subscriber.ExpectedSequence);
            duplicates += subscriber.Duplicates;
        }

        var latencySummary = latency.Summarize();
        var open = subscribers.Count(s => s.IsOpen);
        var stepLost = lost - lostBefore;
        return new DeliveryStep(
            OfferedUpdatesPerSecond: rate,
            OfferedFramesPerSecond: rate * settings.SubscribersPerTopic,
            WindowSeconds: cpu.WindowSeconds,
            UpdatesPublished: publisher.Published - publishedBefore,
            UpdatesAccepted: bridge.Accepted - acceptedBefore,
            UpdatesRejected: bridge.Rejected - rejectedBefore,
            DeliveredFramesPerSecond: delivered / Math.Max(cpu.WindowSeconds, 1e-9),
            Latency: latencySummary,
            CommitLatency: bridge.CommitLatency.Summarize(),
            Cpu: cpu,
            BrokerCpuMicrosecondsPerFrame: cpu.BrokerCpuSeconds is { } brokerSeconds && delivered > 0 ? brokerSeconds * 1e6 / delivered : null,
            BrokerRssMiB: rss,
            PublisherLag: publisher.Lag.Summarize(),
            PublisherRoomWaits: publisher.RoomWaits,
            FramesLost: stepLost,
            Duplicates: duplicates - duplicatesBefore,
            OpenSubscribers: open,
            Drained: drained,
            OverLimit: latencySummary.P99Ms > settings.P99LimitMs,
            // Below 95% of the offered frames per second the broker is not keeping up.
            Saturated: delivered < 0.95 * rate * settings.SubscribersPerTopic * cpu.WindowSeconds || !allAnswered || open < established);
    }

    private static DeliveryTotals Totals(IReadOnlyList<RawWebSocketSubscriber> subscribers)
    {
        long updates = 0, missing = 0, duplicates = 0, regressions = 0, unparsed = 0, snapshots = 0, pings = 0, other = 0, fragmented = 0, oversized = 0;
        var closeCodes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var subscriberProblems = new List<string>();
        var closed = 0;
        foreach (var subscriber in subscribers)
        {
            updates += subscriber.Updates;
            missing += subscriber.Missing;
            duplicates += subscriber.Duplicates;
            regressions += subscriber.SeqRegressions;
            unparsed += subscriber.UnparsedUpdates;
            snapshots += subscriber.Snapshots;
            pings += subscriber.Pings;
            other += subscriber.OtherFrames;
            fragmented += subscriber.FragmentedFrames;
            oversized += subscriber.OversizedFrames;
            if (!subscriber.IsOpen)
            {
                closed++;
                var key = subscriber.CloseStatus is { } status ? $"{status} {subscriber.CloseReason}".Trim() : subscriber.Failure ?? "ended";
                closeCodes[key] = closeCodes.GetValueOrDefault(key) + 1;
            }

            var problem = subscriber.UnexpectedFrame ?? subscriber.Failure;
            if (problem is not null && subscriberProblems.Count < KeptSubscriberProblems && !subscriberProblems.Contains(problem))
            {
                subscriberProblems.Add(problem);
            }
        }

        // Missing n values inside the stream are counted per subscriber; the shortfall at the end
        // (updates never delivered at all) is counted by the steps, which know what was published.
        return new DeliveryTotals(updates, missing, duplicates, regressions, unparsed, snapshots, pings, other, fragmented, oversized, closed, closeCodes, subscriberProblems);
    }

    private static IReadOnlyList<SummaryRow> Summarize(DeliverySettings settings, IReadOnlyList<DeliveryStep> steps, DeliveryTotals totals)
    {
        if (steps.Count == 0)
        {
            return [new SummaryRow("subscribers connected", 0, "count")];
        }

        var rows = new List<SummaryRow>();
        DeliveryStep headline;
        if (settings.Sweep)
        {
            var withinLimit = steps.Where(s => !s.OverLimit && !s.Saturated && s.FramesLost == 0).ToList();
            headline = withinLimit.Count > 0 ? withinLimit[^1] : steps[0];
            rows.Add(new SummaryRow($"max offered rate with p99 <= {settings.P99LimitMs} ms", withinLimit.Count > 0 ? headline.OfferedUpdatesPerSecond : 0, "updates/s"));
        }
        else
        {
            headline = steps[^1];
            rows.Add(new SummaryRow("offered rate", headline.OfferedUpdatesPerSecond, "updates/s"));
        }

        rows.Add(new SummaryRow("subscribers", settings.Subscribers, "count"));
        rows.Add(new SummaryRow("delivered", headline.DeliveredFramesPerSecond, "frames/s"));
        rows.Add(new SummaryRow("latency p50", headline.Latency.P50Ms, "ms"));
        rows.Add(new SummaryRow("latency p99", headline.Latency.P99Ms, "ms"));
        rows.Add(new SummaryRow("latency p99.9", headline.Latency.P999Ms, "ms"));
        rows.Add(new SummaryRow("latency max", headline.Latency.MaxMs, "ms"));
        rows.Add(new SummaryRow("frames lost (whole run)", steps.Sum(s => s.FramesLost), "count"));
        if (headline.BrokerCpuMicrosecondsPerFrame is { } perFrame)
        {
            rows.Add(new SummaryRow("broker CPU per delivered frame", perFrame, "µs"));
        }

        if (headline.Cpu.BrokerCpuPercent is { } brokerCpu)
        {
            rows.Add(new SummaryRow("broker CPU", brokerCpu, "%"));
        }

        rows.Add(new SummaryRow("generator CPU", headline.Cpu.GeneratorCpuPercent, "%"));
        rows.Add(new SummaryRow("subscribers closed", totals.SubscribersClosed, "count"));
        return rows;
    }
}
