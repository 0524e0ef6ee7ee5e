using System.Net;
using Microsoft.Extensions.Options;
using TopicBroker.Topics;

namespace TopicBroker.Hosting;

/// <summary>Checks what data annotations cannot: durations, topic names and cross-field rules.</summary>
internal sealed class BrokerOptionsValidator : IValidateOptions<BrokerOptions>
{
    public ValidateOptionsResult Validate(string? name, BrokerOptions options)
    {
        var failures = new List<string>();

        if (options.Topics is null || options.Topics.Length == 0)
        {
            failures.Add("Broker:Topics must name at least one topic.");
        }
        else
        {
            foreach (var topic in options.Topics)
            {
                if (!TopicName.IsValid(topic))
                {
                    failures.Add($"Broker:Topics contains '{topic}'; a topic name is 1-64 characters of a-z, 0-9, '_' and '-'.");
                }
            }

            var duplicates = options.Topics.GroupBy(t => t, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            if (duplicates.Count > 0)
            {
                failures.Add($"Broker:Topics lists {string.Join(", ", duplicates)} more than once.");
            }
        }

        foreach (var topic in options.RebroadcastTopics ?? [])
        {
            if (options.Topics is not null && !options.Topics.Contains(topic, StringComparer.Ordinal))
            {
                failures.Add($"Broker:RebroadcastTopics names '{topic}', which is not in Broker:Topics.");
            }
        }

        RequirePositive(failures, "PingInterval", options.PingInterval);
        RequirePositive(failures, "PongTimeout", options.PongTimeout);
        RequirePositive(failures, "CloseTimeout", options.CloseTimeout);
        RequirePositive(failures, "ShutdownTimeout", options.ShutdownTimeout);
        RequirePositive(failures, "PollingInterval", options.PollingInterval);
        RequirePositive(failures, "HandshakeTimeout", options.HandshakeTimeout);
        RequirePositive(failures, "TcpBridge:IdleTimeout", options.TcpBridge.IdleTimeout);
        if (options.Auth.Enabled && System.Text.Encoding.UTF8.GetByteCount(options.Auth.SigningKey!) < 32)
        {
            failures.Add("Broker:Auth:SigningKey must be at least 32 bytes: HS256 with a shorter key is guessable.");
        }

        foreach (var topic in options.DeliveryPolicies.Keys)
        {
            if (options.Topics is not null && !options.Topics.Contains(topic, StringComparer.Ordinal))
            {
                failures.Add($"Broker:DeliveryPolicies names '{topic}', which is not in Broker:Topics.");
            }
        }
        if (options.ShutdownReconnectSpread < TimeSpan.Zero)
        {
            failures.Add("Broker:ShutdownReconnectSpread must not be negative.");
        }

        if (options.SendWriteDelay < TimeSpan.Zero || options.SendWriteDelay > TimeSpan.FromSeconds(1))
        {
            failures.Add($"Broker:SendWriteDelay ({options.SendWriteDelay}) must be from 0 to 1 second: every frame waits that long.");
        }

        if (options.Storage.Provider == StorageProvider.Postgres)
        {
            if (string.IsNullOrWhiteSpace(options.Storage.ConnectionString))
            {
                failures.Add("Broker:Storage:ConnectionString must be set when Broker:Storage:Provider is Postgres.");
            }
            else
            {
                try
                {
                    _ = new Npgsql.NpgsqlConnectionStringBuilder(options.Storage.ConnectionString);
                }
                catch (ArgumentException ex)
                {
                    failures.Add($"Broker:Storage:ConnectionString is not a valid Npgsql connection string: {ex.Message}");
                }
            }
        }

        if (!string.IsNullOrWhiteSpace(options.Cluster.Redis))
        {
            if (options.Storage.Provider != StorageProvider.Postgres)
            {
                failures.Add("Broker:Cluster:Redis needs Broker:Storage:Provider Postgres: every node of a cluster shares one PostgreSQL store.");
            }

            try
            {
                _ = StackExchange.Redis.ConfigurationOptions.Parse(options.Cluster.Redis);
            }
            catch (ArgumentException ex)
            {
                failures.Add($"Broker:Cluster:Redis is not a StackExchange.Redis configuration string: {ex.Message}");
            }

            RequirePositive(failures, "Cluster:RepairDelay", options.Cluster.RepairDelay);
            RequirePositive(failures, "Cluster:GapHoldTime", options.Cluster.GapHoldTime);
            RequirePositive(failures, "Cluster:HeartbeatInterval", options.Cluster.HeartbeatInterval);
            RequirePositive(failures, "Cluster:StoreLossDeadline", options.Cluster.StoreLossDeadline);
            if (string.IsNullOrWhiteSpace(options.Cluster.Channel))
            {
                failures.Add("Broker:Cluster:Channel must not be empty.");
            }

            if (options.Cluster.TestFaults.DropEvery < 0 || options.Cluster.TestFaults.DuplicateEvery < 0 || options.Cluster.TestFaults.ReorderEvery < 0)
            {
                failures.Add("Broker:Cluster:TestFaults counts must not be negative.");
            }
        }

        if (options.PongTimeout <= options.PingInterval)
        {
            failures.Add($"Broker:PongTimeout ({options.PongTimeout}) must be longer than Broker:PingInterval ({options.PingInterval}), or every client would time out between two pings.");
        }

        if (options.MaxIngestBatch > options.SendQueueCapacity / 2)
        {
            failures.Add($"Broker:MaxIngestBatch ({options.MaxIngestBatch}) must be at most half of Broker:SendQueueCapacity ({options.SendQueueCapacity}): one committed batch is fanned out at once.");
        }

        if (options.TcpBridge.Enabled && !IPAddress.TryParse(options.TcpBridge.Address, out _))
        {
            failures.Add($"Broker:TcpBridge:Address '{options.TcpBridge.Address}' is not an IP address.");
        }

        ValidateSites(failures, options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Broker:Sites and Broker:Upstream (protocol.md "Sites and upstream replication").</summary>
    private static void ValidateSites(List<string> failures, BrokerOptions options)
    {
        if (options.Sites.Enabled && options.Topics?.Contains("entities", StringComparer.Ordinal) == true)
        {
            // /api/topics/<site>/entities/entities/<id> would be ambiguous with /api/topics/<topic>/entities/<id>.
            failures.Add("Broker:Topics may not contain 'entities' while Broker:Sites:Enabled is true.");
        }

        if (options.Sites.MaxSites < 1)
        {
            failures.Add($"Broker:Sites:MaxSites must be at least 1, not {options.Sites.MaxSites}.");
        }

        if (options.Sites.LinkLockCheckInterval <= TimeSpan.Zero)
        {
            failures.Add($"Broker:Sites:LinkLockCheckInterval must be positive, not {options.Sites.LinkLockCheckInterval}.");
        }

        var upstream = options.Upstream;
        if (!upstream.Enabled)
        {
            return;
        }

        if (!Uri.TryCreate(upstream.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https" or "ws" or "wss"))
        {
            failures.Add($"Broker:Upstream:Url '{upstream.Url}' must be an absolute http(s) URL, the head office's base URL.");
        }

        if (upstream.Site is null || !SiteTopicName.IsValidSite(upstream.Site))
        {
            failures.Add($"Broker:Upstream:Site '{upstream.Site}' must be 1-63 characters of a-z, 0-9 and '-', not starting with '-'.");
        }

        foreach (var topic in upstream.Topics)
        {
            if (options.Topics is not null && !options.Topics.Contains(topic, StringComparer.Ordinal))
            {
                failures.Add($"Broker:Upstream:Topics names '{topic}', which is not in Broker:Topics.");
            }
        }

        if (upstream.Window is < 1 or > 1_000_000)
        {
            failures.Add($"Broker:Upstream:Window must be between 1 and 1000000, not {upstream.Window}.");
        }

        RequirePositive(failures, "Upstream:ReconnectDelay", upstream.ReconnectDelay);
        RequirePositive(failures, "Upstream:MaxReconnectDelay", upstream.MaxReconnectDelay);
        RequirePositive(failures, "Upstream:ReportInterval", upstream.ReportInterval);
    }

    private static void RequirePositive(List<string> failures, string key, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"Broker:{key} must be a positive duration (hh:mm:ss), not {value}.");
        }
    }
}
