using System.Diagnostics;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// Makes the broker's SQLite file and its WAL immutable (<c>chattr +i</c>, which binds root too),
/// so the broker's already-open connection gets real I/O errors on write, as on a failing or
/// read-only disk; disposing clears the flag again. The -shm file is left alone: it is mapped
/// into memory, and SQLite needs it writable even to read.
/// </summary>
internal sealed class UnwritableDatabase : IDisposable
{
    private readonly string[] _files;

    private UnwritableDatabase(string[] files) => _files = files;

    public static UnwritableDatabase Apply(string databasePath)
    {
        var files = new[] { databasePath, databasePath + "-wal" }.Where(File.Exists).ToArray();
        Chattr("+i", files);
        return new UnwritableDatabase(files);
    }

    public void Dispose() => Chattr("-i", _files);

    private static void Chattr(string flag, string[] files)
    {
        var info = new ProcessStartInfo("chattr") { RedirectStandardError = true };
        info.ArgumentList.Add(flag);
        foreach (var file in files)
        {
            info.ArgumentList.Add(file);
        }

        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"chattr {flag} failed (needs root and a filesystem with attributes): {error}");
    }
}
