using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// Debian's nginx (installed when missing) running a site file of <c>deploy/nginx/</c> as it is,
/// with only its listen port and its upstream rewritten to the test's, in a temp prefix of its
/// own (pid, logs, temp files), in the foreground. Ready once nginx says it started its worker.
/// </summary>
internal sealed class NginxServer : IAsyncDisposable
{
    public const string NginxPath = "/usr/sbin/nginx";

    private readonly Process _process;
    private readonly string _prefix;
    private readonly List<string> _output = [];
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NginxServer(Process process, string prefix, int port)
    {
        _process = process;
        _prefix = prefix;
        Port = port;
    }

    /// <summary>The port nginx listens on (127.0.0.1), in place of the site's 8080.</summary>
    public int Port { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    /// <summary>
    /// Starts nginx with <paramref name="siteFile"/>, its <c>listen 8080;</c> moved to a free
    /// loopback port and its <c>server 127.0.0.1:5000;</c> to <paramref name="upstreamPort"/>.
    /// </summary>
    public static async Task<NginxServer> StartAsync(string siteFile, int upstreamPort)
    {
        await SystemPackages.RequireAsync(NginxPath, "nginx");
        var site = await File.ReadAllTextAsync(siteFile);
        Assert.That(site, Does.Contain("listen 8080;").And.Contain("server 127.0.0.1:5000;"), $"{siteFile} listens on 8080 and proxies to 127.0.0.1:5000");

        // A free port is found by binding port 0 and letting it go; another process may take it in
        // between, so a bind failure is retried on a new one.
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var server = await TryStartAsync(site.Replace("listen 8080;", $"listen 127.0.0.1:{port};", StringComparison.Ordinal)
                .Replace("server 127.0.0.1:5000;", $"server 127.0.0.1:{upstreamPort};", StringComparison.Ordinal), port);
            if (server is not null)
            {
                return server;
            }

            Assert.That(attempt, Is.LessThan(5), "nginx found no free port");
        }
    }

    private static async Task<NginxServer?> TryStartAsync(string site, int port)
    {
        var prefix = Directory.CreateTempSubdirectory("topicbroker-nginx-").FullName;
        // Workers run as nobody when the master is root: they must reach the temp folders.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(prefix, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        await File.WriteAllTextAsync(Path.Combine(prefix, "site.conf"), site);
        await File.WriteAllTextAsync(Path.Combine(prefix, "nginx.conf"), $$"""
            worker_processes 1;
            pid {{prefix}}/nginx.pid;
            error_log stderr notice;
            events { worker_connections 256; }
            http {
                access_log {{prefix}}/access.log;
                client_body_temp_path {{prefix}}/client_body;
                proxy_temp_path {{prefix}}/proxy;
                fastcgi_temp_path {{prefix}}/fastcgi;
                uwsgi_temp_path {{prefix}}/uwsgi;
                scgi_temp_path {{prefix}}/scgi;
                include {{prefix}}/site.conf;
            }
            """);

        var info = new ProcessStartInfo(NginxPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-p", prefix, "-c", Path.Combine(prefix, "nginx.conf"), "-e", "stderr", "-g", "daemon off;" })
        {
            info.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new NginxServer(process, prefix, port);
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        process.Exited += (_, _) => server._started.TrySetException(new InvalidOperationException("nginx exited"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server._started.Task.DefaultTimeout(TimeSpan.FromSeconds(30));
            return server;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            await server.DisposeAsync();
            var output = server.Output;
            if (output.Contains("Address already in use", StringComparison.Ordinal))
            {
                return null;
            }

            Assert.Fail("nginx did not start:\n" + output);
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync().DefaultTimeout();
        _process.Dispose();
        Directory.Delete(_prefix, recursive: true);
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }

        // The master logs this once its sockets are bound and the worker is forked.
        if (line.Contains("start worker process", StringComparison.Ordinal))
        {
            _started.TrySetResult();
        }
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
