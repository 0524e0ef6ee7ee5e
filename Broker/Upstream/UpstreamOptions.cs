namespace TopicBroker.Upstream;

/// <summary>
/// <c>Broker:Upstream</c>: this broker forwards its committed changes to a head-office broker
/// (protocol.md "Sites and upstream replication"). Off while <see cref="Url"/> is not set.
/// </summary>
public sealed class UpstreamOptions
{
    /// <summary>The head-office broker's base URL, the one its screens use (<c>https://hq.example</c>, <c>http://127.0.0.1:5000</c>).</summary>
    public string? Url { get; set; }

    /// <summary>This restaurant's site name at head office.</summary>
    public string? Site { get; set; }

    /// <summary>A token the head office accepts, with publish rights on <c>&lt;site&gt;/*</c>; none for a head office without a signing key.</summary>
    public string? Token { get; set; }

    /// <summary>The topics forwarded; every configured topic when empty. (Empty, not pre-filled: the binder appends to arrays.)</summary>
    public string[] Topics { get; set; } = [];

    /// <summary>Changes sent per topic before the head office's acknowledgement; bounds what a resend repeats.</summary>
    public int Window { get; set; } = 1024;

    /// <summary>The first wait before reconnecting after the link fails; doubled per failure up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the acknowledged positions are saved to the store, and the position is reported to the head office.</summary>
    public TimeSpan ReportInterval { get; set; } = TimeSpan.FromSeconds(1);

    public bool Enabled => !string.IsNullOrWhiteSpace(Url);
}
