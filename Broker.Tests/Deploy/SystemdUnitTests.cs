using System.Net;

namespace TopicBroker.Tests.Deploy;

/// <summary>
/// deploy/topicbroker.service: what README "Deploy" promises of it (its own user, the database
/// in its state directory, restarts, hardening), checked by systemd's own verifier and by starting
/// the published broker with the unit's settings.
/// </summary>
public sealed class SystemdUnitTests
{
    private const string SystemdAnalyze = "/usr/bin/systemd-analyze";

    private static string UnitFile => Path.Combine(PublishedBroker.RepositoryRoot, "deploy", "topicbroker.service");

    [Test]
    public void Unit_RunsThePublishedBrokerAsItsOwnUser_WithItsDatabaseInTheStateDirectory_Hardened()
    {
        var unit = SystemdUnit.Parse(File.ReadAllText(UnitFile));

        Assert.That(unit.Single("Service", "ExecStart"), Does.Match(@"^/usr/bin/dotnet /opt/topicbroker/TopicBroker\.dll$"));
        Assert.That(unit.Single("Service", "DynamicUser") == "yes" || unit.Values("Service", "User").Any(), Is.True, "a dedicated user");
        var state = unit.Single("Service", "StateDirectory");
        Assert.That(unit.Environment()["Broker__Database"], Does.StartWith($"/var/lib/{state}/"), "the database is in the state directory");
        Assert.That(unit.Single("Service", "Restart"), Is.EqualTo("on-failure"));
        foreach (var (key, value) in new[]
                 {
                     ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                     ("PrivateDevices", "yes"), ("ProtectKernelTunables", "yes"), ("ProtectControlGroups", "yes"),
                     ("RestrictSUIDSGID", "yes"), ("CapabilityBoundingSet", ""),
                 })
        {
            Assert.That(unit.Single("Service", key), Is.EqualTo(value), key);
        }

        Assert.That(unit.Values("Service", "MemoryDenyWriteExecute"), Is.Empty, "the JIT needs writable code pages");
        Assert.That(unit.Single("Install", "WantedBy"), Is.EqualTo("multi-user.target"));
    }

    [Test, CancelAfter(120_000)]
    public async Task Unit_PassesSystemdAnalyzeVerify()
    {
        await SystemPackages.RequireAsync(SystemdAnalyze, "systemd");
        var folder = Directory.CreateTempSubdirectory("topicbroker-unit-").FullName;
        try
        {
            var text = await File.ReadAllTextAsync(UnitFile);
            // verify checks that ExecStart's program exists; the SDK may live elsewhere than /usr/bin here.
            if (!File.Exists("/usr/bin/dotnet"))
            {
                text = text.Replace("ExecStart=/usr/bin/dotnet ", $"ExecStart={Environment.ProcessPath} ", StringComparison.Ordinal);
            }

            var copy = Path.Combine(folder, "topicbroker.service");
            await File.WriteAllTextAsync(copy, text);
            var verify = await CommandRun.RunAsync(ServerProcess.CreateStartInfo(SystemdAnalyze, ["verify", copy], folder), TimeSpan.FromSeconds(60));
            var output = verify.Output;

            Assert.That(verify.ExitCode, Is.Zero, output);
            // verify exits 0 on unknown keys and bad values, but names the file in a warning.
            Assert.That(output.Split('\n').Where(line => line.Contains("topicbroker.service", StringComparison.Ordinal)), Is.Empty, output);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test, CancelAfter(600_000)]
    public async Task PublishedBroker_WithTheUnitsEnvironment_KeepsItsDatabaseInTheStateDirectory()
    {
        var unit = SystemdUnit.Parse(await File.ReadAllTextAsync(UnitFile));
        var root = Directory.CreateTempSubdirectory("topicbroker-systemd-").FullName;
        try
        {
            // What systemd would make: /var/lib/<StateDirectory>, here below a temp folder.
            var stateDirectory = $"/var/lib/{unit.Single("Service", "StateDirectory")}";
            Directory.CreateDirectory(root + stateDirectory);
            var environment = unit.Environment().ToDictionary(
                pair => pair.Key,
                pair => pair.Value.StartsWith(stateDirectory + "/", StringComparison.Ordinal) ? root + pair.Value : pair.Value);
            // The operator's /etc/topicbroker/topicbroker.env: an open broker behind the proxy, on purpose.
            environment["Broker__Auth__AllowAnonymous"] = "true";
            var app = await PublishedBroker.DirectoryAsync();

            // The unit's Urls (port 5000) give way to a free port on the command line.
            await using (var broker = await BrokerProcess.StartPublishedAsync(Path.Combine(app, "TopicBroker.dll"), app, environment))
            {
                using var http = new HttpClient { BaseAddress = broker.HttpUri, Timeout = TaskTimeouts.Default };
                Assert.That((await http.GetAsync("/ready")).StatusCode, Is.EqualTo(HttpStatusCode.OK), broker.Output);
            }

            Assert.That(File.Exists(root + unit.Environment()["Broker__Database"]), Is.True, "the database is where Broker__Database says");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A unit file's lines by section, as systemd reads them (no continuation lines are used).</summary>
    private sealed class SystemdUnit
    {
        private readonly List<(string Section, string Key, string Value)> _lines = [];

        public static SystemdUnit Parse(string text)
        {
            var unit = new SystemdUnit();
            var section = "";
            foreach (var raw in text.Split('\n'))
            {
                var line = raw.Trim();
                if (line.Length == 0 || line[0] is '#' or ';')
                {
                    continue;
                }

                if (line.StartsWith('[') && line.EndsWith(']'))
                {
                    section = line[1..^1];
                    continue;
                }

                var equals = line.IndexOf('=');
                Assert.That(equals, Is.GreaterThan(0), $"not a key=value line: {line}");
                unit._lines.Add((section, line[..equals].Trim(), line[(equals + 1)..].Trim()));
            }

            return unit;
        }

        public IEnumerable<string> Values(string section, string key) =>
            _lines.Where(l => l.Section == section && l.Key == key).Select(l => l.Value);

        public string Single(string section, string key)
        {
            var values = Values(section, key).ToList();
            Assert.That(values, Has.Count.EqualTo(1), $"[{section}] {key}= once");
            return values[0];
        }

        /// <summary>The <c>Environment=</c> assignments (one per line, unquoted, as in our unit).</summary>
        public Dictionary<string, string> Environment() =>
            Values("Service", "Environment").Select(v => v.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);
    }
}
