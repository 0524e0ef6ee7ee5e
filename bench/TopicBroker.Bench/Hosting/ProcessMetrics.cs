using System.Diagnostics;
using System.Globalization;

namespace TopicBroker.Bench.Hosting;

/// <summary>
/// Reads another process's CPU time and resident memory from /proc (Linux only). CPU time is
/// utime + stime of /proc/&lt;pid&gt;/stat in clock ticks; memory is VmRSS of /proc/&lt;pid&gt;/status.
/// </summary>
internal static class ProcessMetrics
{
    /// <summary>
    /// USER_HZ, the unit of /proc times (<c>getconf CLK_TCK</c>): 100 on every mainstream Linux
    /// architecture whatever the kernel's own tick rate, so a CPU sample has 10 ms resolution.
    /// </summary>
    public const long ClockTicksPerSecond = 100;

    public static TimeSpan? TryReadCpuTime(int pid)
    {
        if (TryReadStatAfterName(pid) is not { } text)
        {
            return null;
        }

        var afterName = text.AsSpan();
        // utime and stime are fields 14 and 15.
        Span<Range> fields = stackalloc Range[16];
        var count = afterName.Split(fields, ' ');
        if (count < 14)
        {
            return null;
        }

        // Field 3 (state) is index 0 here, so utime (14) is index 11 and stime (15) index 12.
        if (!long.TryParse(afterName[fields[11]], NumberStyles.None, CultureInfo.InvariantCulture, out var utime) ||
            !long.TryParse(afterName[fields[12]], NumberStyles.None, CultureInfo.InvariantCulture, out var stime))
        {
            return null;
        }

        return TimeSpan.FromSeconds((utime + stime) / (double)ClockTicksPerSecond);
    }

    /// <summary>
    /// The CPU time of <paramref name="rootPid"/> and every process below it (a PostgreSQL
    /// postmaster and its backends), or null when the root is gone. A child that exited since the
    /// last call takes its time with it, so this suits long-lived trees only.
    /// </summary>
    public static TimeSpan? TryReadTreeCpuTime(int rootPid)
    {
        if (TryReadCpuTime(rootPid) is not { } total)
        {
            return null;
        }

        var children = new Dictionary<int, List<int>>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && TryReadParent(pid) is { } parent)
            {
                (children.TryGetValue(parent, out var list) ? list : children[parent] = []).Add(pid);
            }
        }

        var pending = new Stack<int>([rootPid]);
        while (pending.TryPop(out var pid))
        {
            foreach (var child in children.GetValueOrDefault(pid) ?? [])
            {
                total += TryReadCpuTime(child) ?? TimeSpan.Zero;
                pending.Push(child);
            }
        }

        return total;
    }

    private static int? TryReadParent(int pid)
    {
        // Field 4 (ppid) is the second field after the command name.
        var fields = TryReadStatAfterName(pid)?.Split(' ', 3);
        return fields is { Length: > 1 } && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent) ? parent : null;
    }

    /// <summary>
    /// /proc/&lt;pid&gt;/stat from field 3 (state) on, or null when the process is gone. The second
    /// field is the command name in parentheses and may contain spaces, so the fixed fields are
    /// counted from the last ')'.
    /// </summary>
    private static string? TryReadStatAfterName(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..];
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static long? TryReadResidentKiB(int pid) => TryReadStatusKiB(pid, "VmRSS:");

    public static long? TryReadStatusKiB(int pid, string key)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(key, StringComparison.Ordinal))
                {
                    var digits = line.AsSpan(key.Length).Trim();
                    var space = digits.IndexOf(' ');
                    return long.Parse(space < 0 ? digits : digits[..space], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>The soft limit on open files of this process ("Max open files" in /proc/self/limits).</summary>
    public static long? TryReadOpenFilesLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return parts.Length > 0 && long.TryParse(parts[0], CultureInfo.InvariantCulture, out var limit) ? limit : null;
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    public static TimeSpan CurrentProcessCpuTime()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }
}
