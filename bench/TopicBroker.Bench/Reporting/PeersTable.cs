using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using TopicBroker.Bench.Hosting;

namespace TopicBroker.Bench.Reporting;

/// <summary>What the peers mode measured; written as bench/results/peers-&lt;utc&gt;.json and .md.</summary>
internal sealed record PeersResult(
    DateTimeOffset StartedUtc,
    double ElapsedSeconds,
    bool Passed,
    IReadOnlyList<string> Arguments,
    RunEnvironment Environment,
    IReadOnlyList<string> Peers,
    IReadOnlyList<double> Rates,
    int Rounds,
    string Table,
    IReadOnlyList<PeerRun> Runs);

/// <summary>One scenario on one server in one round.</summary>
internal sealed record PeerRun(string Peer, int Round, ScenarioResult Result);

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(PeersResult))]
internal sealed partial class PeersJsonContext : JsonSerializerContext;

/// <summary>The side-by-side table of the peers mode, in Markdown (BENCHMARKS.md takes it as is).</summary>
internal static class PeersTable
{
    public static string Markdown(IReadOnlyList<string> peers, IReadOnlyList<double> rates, int subscribers, IReadOnlyList<PeerRun> runs)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"| updates/s × {subscribers:N0} subscribers |");
        foreach (var peer in peers)
        {
            text.Append(' ').Append(PeerNames.Display(peer)).Append(" |");
        }

        text.AppendLine().Append("|---|").Append(string.Concat(Enumerable.Repeat("---|", peers.Count))).AppendLine();
        foreach (var rate in rates)
        {
            text.Append(CultureInfo.InvariantCulture, $"| {rate:0} ({rate * subscribers:N0} frames/s): CPU per frame, p50, p99 |");
            foreach (var peer in peers)
            {
                var steps = runs.Where(r => r.Peer == peer && r.Result.Delivery is not null)
                    .SelectMany(r => r.Result.Delivery!.Steps)
                    .Where(s => s.OfferedUpdatesPerSecond == rate)
                    .ToList();
                if (steps.Count == 0)
                {
                    text.Append(" – |");
                    continue;
                }

                var lost = steps.Sum(s => s.FramesLost);
                text.Append(' ')
                    .Append(Range(steps.Select(s => s.BrokerCpuMicrosecondsPerFrame), "0.00")).Append(" µs, p50 ")
                    .Append(Range(steps.Select(s => (double?)s.Latency.P50Ms), "0.0")).Append(" ms, p99 ")
                    .Append(Range(steps.Select(s => (double?)s.Latency.P99Ms), "0.0")).Append(" ms")
                    .Append(lost > 0 ? $", **{lost} lost**" : string.Empty)
                    .Append(" |");
            }

            text.AppendLine();
        }

        text.Append("| RSS at the highest rate |");
        foreach (var peer in peers)
        {
            var rss = runs.Where(r => r.Peer == peer && r.Result.Delivery is { Steps.Count: > 0 })
                .Select(r => r.Result.Delivery!.Steps[^1].BrokerRssMiB);
            text.Append(' ').Append(Range(rss, "0")).Append(" MiB |");
        }

        text.AppendLine();
        var idle = runs.Where(r => r.Result.Connections is not null).Select(r => r.Result.Connections!).FirstOrDefault();
        text.Append(CultureInfo.InvariantCulture, $"| memory per idle connection ({idle?.Requested ?? 0:N0} on a fresh process), connect rate |");
        foreach (var peer in peers)
        {
            var held = runs.Where(r => r.Peer == peer && r.Result.Connections is not null).Select(r => r.Result.Connections!).ToList();
            text.Append(' ')
                .Append(Range(held.Select(c => c.BrokerKiBPerConnection), "0.0")).Append(" KiB, ")
                .Append(Range(held.Select(c => (double?)c.ConnectionsPerSecond), "N0")).Append(" /s |");
        }

        text.AppendLine();
        return text.ToString();
    }

    public static async Task<string> WriteAsync(ResultStore store, PeersResult result, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(store.Directory);
        var path = store.PathFor("peers", result.StartedUtc, "json");
        await using (var stream = File.Create(path))
        {
            await JsonSerializer.SerializeAsync(stream, result, PeersJsonContext.Default.PeersResult, cancellationToken).ConfigureAwait(false);
        }

        await store.WriteTextAsync("peers", result.StartedUtc, "md", result.Table, cancellationToken).ConfigureAwait(false);
        return path;
    }

    /// <summary>"1.2" for one value (or equal ones), "1.2-1.5" for a range, "n/a" for none.</summary>
    private static string Range(IEnumerable<double?> values, string format)
    {
        var known = values.Where(v => v is not null).Select(v => v!.Value).ToList();
        if (known.Count == 0)
        {
            return "n/a";
        }

        var low = known.Min().ToString(format, CultureInfo.InvariantCulture);
        var high = known.Max().ToString(format, CultureInfo.InvariantCulture);
        return low == high ? low : $"{low}-{high}";
    }
}
