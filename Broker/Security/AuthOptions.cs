namespace TopicBroker.Security;

/// <summary><c>Broker:Auth</c>: token authentication (protocol.md "Security").</summary>
public sealed class AuthOptions
{
    /// <summary>
    /// The HS256 signing key (at least 32 bytes of UTF-8). When set, every WebSocket, HTTP publish
    /// and bridge connection needs a valid JWT; when empty, the broker runs open.
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>When set, tokens must carry this <c>iss</c>.</summary>
    public string? Issuer { get; set; }

    /// <summary>When set, tokens must carry this <c>aud</c>.</summary>
    public string? Audience { get; set; }

    /// <summary>Tolerance for clocks that disagree, applied to <c>exp</c> and <c>nbf</c>.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// With no signing key, the broker refuses to listen on anything but loopback unless this is
    /// true: an open broker on a shared restaurant network must be a deliberate choice.
    /// </summary>
    public bool AllowAnonymous { get; set; }

    internal bool Enabled => !string.IsNullOrEmpty(SigningKey);
}
