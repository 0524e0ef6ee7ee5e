namespace TopicBroker.Bench.Reporting;

/// <summary>The final console tables of each scenario and of <c>all</c>.</summary>
internal static class ResultTables
{
    public static void Write(ScenarioResult result, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"== {result.Scenario} ({(result.Passed ? "passed" : "FAILED")}, {Format.Fixed(result.ElapsedSeconds)} s) ==");
        if (result.Delivery is { } delivery)
        {
            WriteDelivery(delivery, output);
        }

        if (result.Connections is { } connections)
        {
            WriteConnections(connections, output);
        }

        if (result.Ingest is { } ingest)
        {
            WriteIngest(ingest, output);
        }

        if (result.Cluster is not null)
        {
            var table = new TextTable("metric", "value", "unit");
            foreach (var row in result.Summary)
            {
                table.Add(row.Metric, Format.Value(row), row.Unit);
            }

            table.WriteTo(output);
        }

        if (result.BrokerStatus is { } status && status.ValueKind == System.Text.Json.JsonValueKind.Object &&
            status.TryGetProperty("totals", out var totals) && totals.ValueKind == System.Text.Json.JsonValueKind.Object)
        {
            // The broker's own counters (GET /api/status), to compare with what the generator counted.
            output.WriteLine(
                $"broker's own totals: updates in {Number(totals, "updatesIn")}, frames out {Number(totals, "framesOut")}, " +
                $"conflated {Number(totals, "framesConflated")}, dropped {Number(totals, "framesDropped")}, slow-consumer closes {Number(totals, "slowConsumerCloses")}");
        }

        foreach (var note in result.Notes)
        {
            output.WriteLine($"note: {note}");
        }

        foreach (var problem in result.Problems)
        {
            output.WriteLine($"problem: {problem}");
        }

        foreach (var file in result.Files)
        {
            output.WriteLine($"wrote {file}");
        }
    }

    public static void WriteSummary(IReadOnlyList<ScenarioResult> results, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine("== summary ==");
        var table = new TextTable("scenario", "metric", "value", "unit");
        foreach (var result in results)
        {
            table.Add(result.Scenario, "passed", result.Passed ? "yes" : "NO", string.Empty);
            foreach (var row in result.Summary)
            {
                table.Add(result.Scenario, row.Metric, Format.Value(row), row.Unit);
            }
        }

        table.WriteTo(output);
    }

    private static string Number(System.Text.Json.JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == System.Text.Json.JsonValueKind.Number && value.TryGetDouble(out var number)
            ? Format.Count(number)
            : "n/a";

    private static void WriteDelivery(DeliveryResult delivery, TextWriter output)
    {
        output.WriteLine(
            $"{delivery.Subscribers} subscribers on {delivery.Topics} topic(s) ({delivery.SubscribersPerTopic} per topic), " +
            $"{delivery.PayloadBytes}-byte data, connected in {Format.Fixed(delivery.Connect.Seconds, 2)} s ({delivery.Connect.Failed} failed)");
        var table = new TextTable(
            "offered upd/s", "frames/s offered", "frames/s delivered", "p50 ms", "p99 ms", "p99.9 ms", "max ms",
            "commit p50/p99 ms", "pub lag p99/max ms", "lost", "broker CPU %", "broker µs/frame", "gen CPU %");
        foreach (var step in delivery.Steps)
        {
            table.Add(
                Format.Count(step.OfferedUpdatesPerSecond),
                Format.Count(step.OfferedFramesPerSecond),
                Format.Count(step.DeliveredFramesPerSecond),
                Format.Ms(step.Latency.P50Ms),
                Format.Ms(step.Latency.P99Ms),
                Format.Ms(step.Latency.P999Ms),
                Format.Ms(step.Latency.MaxMs),
                $"{Format.Ms(step.CommitLatency.P50Ms)} / {Format.Ms(step.CommitLatency.P99Ms)}",
                $"{Format.Ms(step.PublisherLag.P99Ms)} / {Format.Ms(step.PublisherLag.MaxMs)}",
                Format.Count(step.FramesLost),
                Format.Fixed(step.Cpu.BrokerCpuPercent),
                Format.Fixed(step.BrokerCpuMicrosecondsPerFrame, 2),
                Format.Fixed(step.Cpu.GeneratorCpuPercent));
        }

        table.WriteTo(output);
        output.WriteLine("latency is publish -> receive from each update's scheduled send time; it includes the broker's commit (commit column) and any publisher lag");
        var totals = delivery.Totals;
        output.WriteLine(
            $"updates received {Format.Count(totals.UpdatesReceived)}, lost {totals.FramesLost}, duplicates {totals.Duplicates}, " +
            $"seq regressions {totals.SeqRegressions}, unparsed {totals.UnparsedUpdates}; other frames: snapshots {totals.Snapshots}, " +
            $"pings {totals.Pings}, other {totals.OtherFrames}, fragmented {totals.FragmentedFrames}, oversized {totals.OversizedFrames}; " +
            $"subscribers closed {totals.SubscribersClosed}; generator GCs in the measured windows " +
            $"{delivery.Steps.Sum(s => s.Cpu.GeneratorCollections)} ({Format.Fixed(delivery.Steps.Sum(s => s.Cpu.GeneratorGcPauseMs))} ms paused)");
    }

    private static void WriteConnections(ConnectionsResult connections, TextWriter output)
    {
        var table = new TextTable("metric", "value");
        table.Add("connections established", $"{Format.Count(connections.Established)} of {Format.Count(connections.Requested)}");
        table.Add("topics", string.Join(",", connections.Topics));
        table.Add(
            "source addresses",
            connections.SourceAddresses.Count <= 2
                ? string.Join(",", connections.SourceAddresses)
                : $"{connections.SourceAddresses[0]} .. {connections.SourceAddresses[^1]} ({connections.SourceAddresses.Count})");
        table.Add("connect time (until every snapshot)", $"{Format.Fixed(connections.ConnectSeconds, 2)} s");
        table.Add("connect rate", $"{Format.Count(connections.ConnectionsPerSecond)} /s");
        table.Add("broker CPU while connecting", $"{Format.Fixed(connections.ConnectCpu.BrokerCpuPercent)} %");
        table.Add("broker RSS before / after", $"{Format.Fixed(connections.BrokerRssBeforeMiB)} / {Format.Fixed(connections.BrokerRssAfterMiB)} MiB");
        table.Add("broker memory per connection", $"{Format.Fixed(connections.BrokerKiBPerConnection)} KiB");
        for (var i = 0; i < connections.Broadcasts.Count; i++)
        {
            var round = connections.Broadcasts[i];
            table.Add(
                $"one update to all, round {i + 1}: p50 / p99 / last",
                $"{Format.Ms(round.Latency.P50Ms)} / {Format.Ms(round.Latency.P99Ms)} / {Format.Ms(round.LastArrivalMs)} ms " +
                $"(commit {Format.Ms(round.CommitMaxMs)} ms; CPU broker {Format.Fixed(round.Cpu.BrokerCpuSeconds * 1000, 0)} ms, generator {Format.Fixed(round.Cpu.GeneratorCpuSeconds * 1000, 0)} ms)");
        }

        table.Add("broker CPU idle, held open", $"{Format.Fixed(connections.HoldCpu.BrokerCpuPercent)} % over {Format.Fixed(connections.HoldSeconds)} s");
        table.Add("closed while held", Format.Count(connections.ClosedDuringHold));
        table.Add("generator RSS", $"{Format.Fixed(connections.GeneratorRssMiB)} MiB");
        table.Add("open-files limit (generator)", connections.OpenFilesLimit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "n/a");
        table.WriteTo(output);
        foreach (var failure in connections.FailureSamples)
        {
            output.WriteLine($"connect failure: {failure}");
        }
    }

    private static void WriteIngest(IngestResult ingest, TextWriter output)
    {
        var table = new TextTable(
            "mode", "acked/s", "acked", "rejected", "commit p50 ms", "commit p99 ms", "commit max ms", "broker CPU %", "broker µs/update", "gen CPU %");
        foreach (var mode in ingest.Modes)
        {
            table.Add(
                mode.Name,
                Format.Count(mode.AcceptedPerSecond),
                Format.Count(mode.Accepted),
                Format.Count(mode.Rejected),
                Format.Ms(mode.CommitLatency.P50Ms),
                Format.Ms(mode.CommitLatency.P99Ms),
                Format.Ms(mode.CommitLatency.MaxMs),
                Format.Fixed(mode.Cpu.BrokerCpuPercent),
                Format.Fixed(mode.BrokerCpuMicrosecondsPerUpdate, 2),
                Format.Fixed(mode.Cpu.GeneratorCpuPercent));
        }

        table.WriteTo(output);
        foreach (var mode in ingest.Modes)
        {
            foreach (var rejection in mode.RejectionSamples)
            {
                output.WriteLine($"{mode.Name} rejected: {rejection}");
            }
        }
    }
}
