using Microsoft.Extensions.Options;

namespace TopicBroker.Diagnostics;

/// <summary>
/// The <c>Broker:Diagnostics</c> section: log format and the sampling behind the status API and
/// the operations page. docs/operations.md "Configuration" lists these keys; keep the two in step.
/// </summary>
public sealed class DiagnosticsOptions
{
    public const string SectionName = "Broker:Diagnostics";

    /// <summary>
    /// <see cref="LogFormat.Text"/> for people at a console; <see cref="LogFormat.Json"/> (compact
    /// JSON, one event per line) for log shippers.
    /// </summary>
    public LogFormat LogFormat { get; set; } = LogFormat.Text;

    /// <summary>
    /// How often the status sampler records every topic's counters: the resolution of the
    /// operations page's charts. One second costs one walk over the connections per second.
    /// </summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How far back the sampled history (and so the charts) reaches: 300 samples at the default interval.</summary>
    public TimeSpan History { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The span the status API's rates are averaged over: long enough that one batch does not
    /// read as a spike, short enough that a stalled publisher shows within seconds.
    /// </summary>
    public TimeSpan RateWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Samples kept: the history divided by the interval, plus the one the oldest rate is computed from.</summary>
    internal int SamplesKept => (int)Math.Ceiling(History / SampleInterval) + 1;
}

public enum LogFormat
{
    /// <summary>The human-readable console output configured under <c>Serilog:WriteTo</c>.</summary>
    Text,

    /// <summary>Serilog's rendered compact JSON (CLEF) on the console, in place of the text console sinks.</summary>
    Json,
}

internal sealed class DiagnosticsOptionsValidator : IValidateOptions<DiagnosticsOptions>
{
    /// <summary>More samples than this would make the history endpoint's answer needlessly large.</summary>
    private const int MaxSamples = 100_000;

    public ValidateOptionsResult Validate(string? name, DiagnosticsOptions options)
    {
        var failures = new List<string>();
        if (!Enum.IsDefined(options.LogFormat))
        {
            failures.Add($"{DiagnosticsOptions.SectionName}:LogFormat must be Text or Json.");
        }

        if (options.SampleInterval < TimeSpan.FromMilliseconds(10))
        {
            failures.Add($"{DiagnosticsOptions.SectionName}:SampleInterval must be at least 00:00:00.010, not {options.SampleInterval}.");
        }
        else
        {
            if (options.RateWindow < options.SampleInterval)
            {
                failures.Add($"{DiagnosticsOptions.SectionName}:RateWindow ({options.RateWindow}) must be at least SampleInterval ({options.SampleInterval}).");
            }

            if (options.History < options.RateWindow)
            {
                failures.Add($"{DiagnosticsOptions.SectionName}:History ({options.History}) must be at least RateWindow ({options.RateWindow}): the rates are computed from the history.");
            }
            else if (options.SamplesKept > MaxSamples)
            {
                failures.Add($"{DiagnosticsOptions.SectionName}:History / SampleInterval must be at most {MaxSamples} samples.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
