using System.Globalization;
using System.Text.RegularExpressions;

namespace TopicBroker.Tests.Diagnostics;

/// <summary>
/// A parse of the Prometheus text exposition format (version 0.0.4): every sample with its labels,
/// and the declared type of every family. Strict enough that a malformed line fails the test.
/// </summary>
internal sealed partial class PrometheusText
{
    private PrometheusText(Dictionary<string, string> types, List<Sample> samples)
    {
        Types = types;
        Samples = samples;
    }

    /// <summary>Family name to its <c># TYPE</c> (counter, gauge, histogram, ...).</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    public IReadOnlyList<Sample> Samples { get; }

    public static PrometheusText Parse(string text)
    {
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var samples = new List<Sample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith("# HELP ", StringComparison.Ordinal) || line == "# EOF")
            {
                continue;
            }

            if (TypeLine().Match(line) is { Success: true } type)
            {
                Assert.That(types.TryAdd(type.Groups["name"].Value, type.Groups["type"].Value), Is.True, $"TYPE declared twice: {line}");
                continue;
            }

            var sample = SampleLine().Match(line);
            Assert.That(sample.Success, Is.True, $"not a Prometheus sample line: '{line}'");
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match label in LabelPair().Matches(sample.Groups["labels"].Value))
            {
                labels.Add(label.Groups["name"].Value, Regex.Unescape(label.Groups["value"].Value));
            }

            samples.Add(new Sample(sample.Groups["name"].Value, labels, ParseValue(sample.Groups["value"].Value)));
        }

        return new PrometheusText(types, samples);
    }

    /// <summary>The value of the one sample with this name and these labels (other labels ignored).</summary>
    public double Value(string name, params (string Name, string Value)[] labels)
    {
        var matches = Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value)).ToList();
        Assert.That(matches, Has.Count.EqualTo(1), $"{name}{{{string.Join(",", labels.Select(l => $"{l.Name}=\"{l.Value}\""))}}}");
        return matches[0].Value;
    }

    private static double ParseValue(string value) => value switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    internal sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    [GeneratedRegex(@"^# TYPE (?<name>[a-zA-Z_:][a-zA-Z0-9_:]*) (?<type>counter|gauge|histogram|summary|untyped)$")]
    private static partial Regex TypeLine();

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>(?:[^""}]|""(?:[^""\\]|\\.)*"")*)\})? (?<value>[^ ]+)( -?\d+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"(?<name>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();
}
