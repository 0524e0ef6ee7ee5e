namespace RobotBridge.Simulation;

internal readonly record struct Point(double X, double Y)
{
    public double DistanceTo(Point other) => Math.Sqrt(((X - other.X) * (X - other.X)) + ((Y - other.Y) * (Y - other.Y)));
}

/// <summary>A table's fixed place on the floor and the spot in the aisle where a robot serves it.</summary>
internal sealed record TableLayout(string Id, int Seats, Point Position, Point ServingSpot);

/// <summary>
/// The restaurant floor, in metres: 20 x 12, the kitchen along the left wall (x &lt; 3), the robot
/// docks at its edge, and twelve tables in three rows with aisles between them. The web dashboard
/// draws the same kitchen area, and the tables from the coordinates published here.
/// </summary>
internal static class FloorPlan
{
    public const double Width = 20;
    public const double Height = 12;

    // Robots leave the kitchen along this lane and reach the tables along the two aisles, so
    // they never drive through a table.
    private const double LaneX = 4.2;
    private const double DockX = 2.4;
    private static readonly double[] s_columns = [6.5, 10.25, 14, 17.75];
    private static readonly double[] s_rows = [2.25, 6, 9.75];
    private static readonly double[] s_aisles = [4.1, 7.9];
    private static readonly int[] s_seats = [2, 4, 4, 6, 4, 2, 6, 4, 4, 4, 2, 6];

    public static IReadOnlyList<TableLayout> Tables { get; } = CreateTables();

    /// <summary>Where robot <paramref name="index"/> of <paramref name="count"/> waits, charges and is loaded.</summary>
    public static Point Dock(int index, int count)
    {
        const double top = 1.0, bottom = Height - 1.0;
        return count == 1
            ? new Point(DockX, Height / 2)
            : new Point(DockX, top + ((bottom - top) * index / (count - 1)));
    }

    /// <summary>
    /// Waypoints from <paramref name="from"/> to <paramref name="to"/> (each a dock or a serving
    /// spot) that keep to the lane and the aisles.
    /// </summary>
    public static IEnumerable<Point> Route(Point from, Point to)
    {
        if (from.X > LaneX)
        {
            yield return new Point(LaneX, from.Y); // back along the aisle to the lane
        }

        if (to.X > LaneX)
        {
            yield return new Point(LaneX, to.Y); // along the lane to the target's aisle
        }

        yield return to;
    }

    private static TableLayout[] CreateTables()
    {
        var tables = new List<TableLayout>();
        for (var row = 0; row < s_rows.Length; row++)
        {
            for (var column = 0; column < s_columns.Length; column++)
            {
                var number = tables.Count + 1;
                var position = new Point(s_columns[column], s_rows[row]);
                var aisle = row == s_rows.Length - 1 ? s_aisles[1] : s_aisles[0];
                tables.Add(new TableLayout($"T{number}", s_seats[number - 1], position, new Point(position.X, aisle)));
            }
        }

        return [.. tables];
    }
}
