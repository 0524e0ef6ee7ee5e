using System.Globalization;
using System.Net;
using System.Text;

namespace TopicBroker.Bench.Reporting;

/// <summary>
/// Draws the fanout sweep as a self-contained SVG: latency p50 and p99 (log scale) against the
/// offered update rate (log scale), with the sweep's p99 limit as a dashed line. Hand-written so
/// the tool needs no charting package.
/// </summary>
internal static class SvgLatencyChart
{
    private const double Width = 860;
    private const double Height = 500;
    private const double Left = 80;
    private const double Right = 40;
    private const double Top = 60;
    private const double Bottom = 70;

    public static string Render(string title, string subtitle, IReadOnlyList<DeliveryStep> steps, double p99LimitMs)
    {
        var rates = steps.Select(s => s.OfferedUpdatesPerSecond).ToArray();
        var measured = steps.SelectMany(s => new[] { s.Latency.P50Ms, s.Latency.P99Ms }).Where(v => v > 0).ToArray();

        // The limit line belongs on the chart when it is near the data, not when it would squash it.
        var showLimit = measured.Length == 0 || p99LimitMs <= measured.Max() * 10;
        var latencies = showLimit ? measured.Append(p99LimitMs).ToArray() : measured;
        var xMin = NiceBelow(rates.DefaultIfEmpty(1).Min());
        var xMax = NiceAbove(rates.DefaultIfEmpty(10).Max() * 1.0001);
        var yMin = NiceBelow(latencies.DefaultIfEmpty(0.1).Min());
        var yMax = NiceAbove(latencies.DefaultIfEmpty(100).Max() * 1.05);
        if (xMax <= xMin)
        {
            xMax = xMin * 10;
        }

        if (yMax <= yMin)
        {
            yMax = yMin * 10;
        }

        double X(double rate) => Left + (Math.Log10(rate) - Math.Log10(xMin)) / (Math.Log10(xMax) - Math.Log10(xMin)) * (Width - Left - Right);
        double Y(double ms) => Height - Bottom - (Math.Log10(Math.Max(ms, yMin)) - Math.Log10(yMin)) / (Math.Log10(yMax) - Math.Log10(yMin)) * (Height - Top - Bottom);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" viewBox="0 0 {Width} {Height}" font-family="sans-serif" font-size="12">""").AppendLine();
        svg.AppendLine("""<rect width="100%" height="100%" fill="white"/>""");
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{Escape(title)}</text>""").AppendLine();
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Width / 2}" y="44" text-anchor="middle" fill="#555">{Escape(subtitle)}</text>""").AppendLine();

        // Grid lines and tick labels at 1, 2 and 5 of every decade.
        foreach (var tick in LogTicks(xMin, xMax))
        {
            var x = X(tick);
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{x:0.#}" y1="{Top}" x2="{x:0.#}" y2="{Height - Bottom}" stroke="#e3e3e3"/>""").AppendLine();
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x:0.#}" y="{Height - Bottom + 18}" text-anchor="middle">{Label(tick)}</text>""").AppendLine();
        }

        foreach (var tick in LogTicks(yMin, yMax))
        {
            var y = Y(tick);
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Left}" y1="{y:0.#}" x2="{Width - Right}" y2="{y:0.#}" stroke="#e3e3e3"/>""").AppendLine();
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left - 8}" y="{y + 4:0.#}" text-anchor="end">{Label(tick)}</text>""").AppendLine();
        }

        svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{Left}" y="{Top}" width="{Width - Left - Right}" height="{Height - Top - Bottom}" fill="none" stroke="#333"/>""").AppendLine();
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{(Left + Width - Right) / 2}" y="{Height - 24}" text-anchor="middle">offered rate (updates/s, log scale)</text>""").AppendLine();
        svg.Append(CultureInfo.InvariantCulture, $"""<text transform="translate(22 {(Top + Height - Bottom) / 2}) rotate(-90)" text-anchor="middle">latency publish → receive (ms, log scale)</text>""").AppendLine();

        if (showLimit)
        {
            var limitY = Y(p99LimitMs);
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Left}" y1="{limitY:0.#}" x2="{Width - Right}" y2="{limitY:0.#}" stroke="#999" stroke-dasharray="6 4"/>""").AppendLine();
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Width - Right - 4}" y="{limitY - 6:0.#}" text-anchor="end" fill="#777">p99 limit {Label(p99LimitMs)} ms</text>""").AppendLine();
        }

        AppendSeries(svg, steps, s => s.Latency.P50Ms, "#1f77b4", X, Y);
        AppendSeries(svg, steps, s => s.Latency.P99Ms, "#d62728", X, Y);

        // Legend.
        svg.Append(CultureInfo.InvariantCulture, $"""<g transform="translate({Left + 12} {Top + 14})">""").AppendLine();
        svg.AppendLine("""<line x1="0" y1="0" x2="24" y2="0" stroke="#1f77b4" stroke-width="2"/><text x="30" y="4">p50</text>""");
        svg.AppendLine("""<line x1="0" y1="18" x2="24" y2="18" stroke="#d62728" stroke-width="2"/><text x="30" y="22">p99</text>""");
        svg.AppendLine("</g>");
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static void AppendSeries(StringBuilder svg, IReadOnlyList<DeliveryStep> steps, Func<DeliveryStep, double> value, string color, Func<double, double> x, Func<double, double> y)
    {
        var points = string.Join(" ", steps.Select(s => string.Create(CultureInfo.InvariantCulture, $"{x(s.OfferedUpdatesPerSecond):0.#},{y(value(s)):0.#}")));
        svg.Append(CultureInfo.InvariantCulture, $"""<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>""").AppendLine();
        foreach (var step in steps)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<circle cx="{x(step.OfferedUpdatesPerSecond):0.#}" cy="{y(value(step)):0.#}" r="3.5" fill="{color}"><title>{Label(step.OfferedUpdatesPerSecond)} upd/s: {Format.Ms(value(step))} ms</title></circle>""").AppendLine();
        }
    }

    /// <summary>The largest 1, 2 or 5 times a power of ten at or below <paramref name="value"/>.</summary>
    private static double NiceBelow(double value)
    {
        var decade = Math.Pow(10, Math.Floor(Math.Log10(value)));
        return new[] { 5.0, 2.0, 1.0 }.Select(m => m * decade).First(v => v <= value * 1.0001);
    }

    /// <summary>The smallest 1, 2 or 5 times a power of ten at or above <paramref name="value"/>.</summary>
    private static double NiceAbove(double value)
    {
        var decade = Math.Pow(10, Math.Floor(Math.Log10(value)));
        return new[] { 1.0, 2.0, 5.0, 10.0 }.Select(m => m * decade).First(v => v >= value * 0.9999);
    }

    private static IEnumerable<double> LogTicks(double min, double max)
    {
        for (var decade = Math.Pow(10, Math.Floor(Math.Log10(min))); decade <= max * 1.0001; decade *= 10)
        {
            foreach (var multiple in new[] { 1.0, 2.0, 5.0 })
            {
                var tick = decade * multiple;
                if (tick >= min * 0.9999 && tick <= max * 1.0001)
                {
                    yield return tick;
                }
            }
        }
    }

    private static string Label(double value) =>
        value >= 1 ? value.ToString("#,0.##", CultureInfo.InvariantCulture) : value.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Escape(string text) => WebUtility.HtmlEncode(text);
}
