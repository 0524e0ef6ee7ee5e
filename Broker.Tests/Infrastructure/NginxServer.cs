namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// Debian's nginx (installed when missing) running a site file of <c>deploy/nginx/</c> as it is,
/// with only its listen port and its upstream rewritten to the test's, in a temp prefix of its
/// own (pid, logs, temp files), in the foreground. Ready once nginx says it started its worker.
/// nginx cannot listen on port 0 ("invalid port"), so its port is drawn from a range below the
/// ephemeral ports and another one tried if it is taken.
/// </summary>
internal sealed class NginxServer : IAsyncDisposable
{
    public const string NginxPath = "/usr/sbin/nginx";

    // The master logs this once its sockets are bound and the worker is forked.
    private const string ReadyLine = "start worker process";

    private readonly ServerProcess _server;
    private readonly string _prefix;

    private NginxServer(ServerProcess server, string prefix, int port)
    {
        _server = server;
        _prefix = prefix;
        Port = port;
    }

    /// <summary>The port nginx listens on (127.0.0.1), in place of the site's 8080.</summary>
    public int Port { get; }

    public string Output => _server.Output;

    /// <summary>
    /// Starts nginx with <paramref name="siteFile"/>, its <c>listen 8080;</c> moved to a free
    /// loopback port and its <c>server 127.0.0.1:5000;</c> to <paramref name="upstreamPort"/>.
    /// </summary>
    public static async Task<NginxServer> StartAsync(string siteFile, int upstreamPort)
    {
        await SystemPackages.RequireAsync(NginxPath, "nginx");
        var site = await File.ReadAllTextAsync(siteFile);
        Assert.That(site, Does.Contain("listen 8080;").And.Contain("server 127.0.0.1:5000;"), $"{siteFile} listens on 8080 and proxies to 127.0.0.1:5000");

        var prefix = Directory.CreateTempSubdirectory("topicbroker-nginx-").FullName;
        // Workers run as nobody when the master is root: they must reach the temp folders.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(prefix, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

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

        try
        {
            var (port, server) = await ServerProcess.StartOnFreePortAsync(ReadyLine, 10_000, 12_000, port =>
            {
                File.WriteAllText(Path.Combine(prefix, "site.conf"), site
                    .Replace("listen 8080;", $"listen 127.0.0.1:{port};", StringComparison.Ordinal)
                    .Replace("server 127.0.0.1:5000;", $"server 127.0.0.1:{upstreamPort};", StringComparison.Ordinal));
                return [NginxPath, "-p", prefix, "-c", Path.Combine(prefix, "nginx.conf"), "-e", "stderr", "-g", "daemon off;"];
            });
            return new NginxServer(server, prefix, port);
        }
        catch
        {
            Directory.Delete(prefix, recursive: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_prefix, recursive: true);
    }
}
