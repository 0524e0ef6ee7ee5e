namespace TopicBroker.Security;

/// <summary>
/// What a token allows: the topics it may subscribe to and publish to. A pattern is a topic name,
/// <c>*</c> (every topic), or a prefix ending in <c>*</c> (<c>kitchen-*</c>).
/// </summary>
internal sealed class TopicGrants(IReadOnlyList<string> subscribe, IReadOnlyList<string> publish)
{
    /// <summary>Everything, for a broker without a signing key.</summary>
    public static readonly TopicGrants Anonymous = new(["*"], ["*"]);

    public IReadOnlyList<string> Subscribe { get; } = subscribe;

    public IReadOnlyList<string> Publish { get; } = publish;

    public bool MaySubscribe(string topic) => Matches(Subscribe, topic);

    public bool MayPublish(string topic) => Matches(Publish, topic);

    private static bool Matches(IReadOnlyList<string> patterns, string topic)
    {
        foreach (var pattern in patterns)
        {
            if (pattern == "*"
                || string.Equals(pattern, topic, StringComparison.Ordinal)
                || (pattern.EndsWith('*') && topic.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal)))
            {
                return true;
            }
        }

        return false;
    }
}
