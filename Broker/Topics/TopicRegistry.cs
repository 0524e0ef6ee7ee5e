using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;

namespace TopicBroker.Topics;

/// <summary>The configured topics, fixed at start-up.</summary>
internal sealed class TopicRegistry
{
    private readonly FrozenDictionary<string, TopicState> _topics;

    public TopicRegistry(IOptions<BrokerOptions> options)
    {
        var historySize = options.Value.HistorySize;
        _topics = options.Value.Topics.ToFrozenDictionary(name => name, name => new TopicState(name, historySize), StringComparer.Ordinal);
        All = [.. _topics.Values.OrderBy(t => t.Name, StringComparer.Ordinal)];
    }

    public IReadOnlyList<TopicState> All { get; }

    public bool TryGet(string name, [NotNullWhen(true)] out TopicState? topic) => _topics.TryGetValue(name, out topic);
}
