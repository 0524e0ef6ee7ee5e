using System.Globalization;

namespace TopicBroker.Bench.Reporting;

/// <summary>Number formatting for the console tables (invariant culture, thousands separators).</summary>
internal static class Format
{
    public static string Count(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Fixed(double value, int decimals = 1) => value.ToString("N" + decimals, CultureInfo.InvariantCulture);

    public static string Fixed(double? value, int decimals = 1) => value is { } v ? Fixed(v, decimals) : "n/a";

    /// <summary>Milliseconds with precision that suits the magnitude: 0.183, 4.21, 57.3.</summary>
    public static string Ms(double value) => value switch
    {
        < 1 => value.ToString("0.000", CultureInfo.InvariantCulture),
        < 10 => value.ToString("0.00", CultureInfo.InvariantCulture),
        < 1000 => value.ToString("0.0", CultureInfo.InvariantCulture),
        _ => value.ToString("N0", CultureInfo.InvariantCulture),
    };

    public static string Value(SummaryRow row) => row.Unit switch
    {
        "ms" => Ms(row.Value),
        "%" or "MiB" or "KiB" or "µs" or "s" => Fixed(row.Value),
        _ => Count(row.Value),
    };
}
