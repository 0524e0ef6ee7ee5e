using System.Text;

namespace TopicBroker.Bench.Reporting;

/// <summary>A plain monospace table: first column left-aligned, the others right-aligned.</summary>
internal sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public TextTable Add(params string[] cells)
    {
        _rows.Add(cells);
        return this;
    }

    public void WriteTo(TextWriter output)
    {
        var widths = new int[headers.Length];
        foreach (var row in _rows.Prepend(headers))
        {
            for (var i = 0; i < widths.Length && i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var text = new StringBuilder();
        AppendRow(text, headers, widths);
        text.AppendJoin("  ", widths.Select(w => new string('-', w))).AppendLine();
        foreach (var row in _rows)
        {
            AppendRow(text, row, widths);
        }

        output.Write(text.ToString());
    }

    private static void AppendRow(StringBuilder text, string[] row, int[] widths)
    {
        for (var i = 0; i < widths.Length; i++)
        {
            var cell = i < row.Length ? row[i] : string.Empty;
            if (i > 0)
            {
                text.Append("  ");
            }

            text.Append(i == 0 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]));
        }

        text.AppendLine();
    }
}
