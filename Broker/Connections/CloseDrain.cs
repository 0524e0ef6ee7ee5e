namespace TopicBroker.Connections;

/// <summary>
/// What a close lets out of the connection's queues before its close frame
/// (protocol.md "Close codes", "What goes out before a close").
/// </summary>
internal enum CloseDrain
{
    /// <summary>Nothing more: the client closed, or the connection failed.</summary>
    Nothing,

    /// <summary>The replies the broker owes (pongs, error and auth answers); queued data is dropped.</summary>
    OwedReplies,

    /// <summary>Everything queued before the close: owed replies and data.</summary>
    Everything,
}
