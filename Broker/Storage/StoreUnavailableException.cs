namespace TopicBroker.Storage;

/// <summary>The store cannot commit right now (disk full, read-only file, locked too long, server unreachable).</summary>
internal sealed class StoreUnavailableException(string message, Exception inner) : Exception(message, inner);
