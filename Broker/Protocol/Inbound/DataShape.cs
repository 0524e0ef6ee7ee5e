namespace TopicBroker.Protocol.Inbound;

/// <summary>The outcome of <see cref="EntityRules.CheckData"/>; only <see cref="Object"/> is entity data.</summary>
internal enum DataShape
{
    Object,
    NotUtf8,
    /// <summary>Not JSON, empty, or more than one value.</summary>
    NotJson,
    NotObject,
}
