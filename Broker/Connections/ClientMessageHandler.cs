using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Security;

namespace TopicBroker.Connections;

/// <summary>
/// Answers what clients send on a WebSocket (protocol.md "Frames", "Client to server"). Bad input
/// gets an <c>error</c> frame and the connection goes on.
/// </summary>
internal sealed class ClientMessageHandler(TokenValidator tokens, TimeProvider timeProvider)
{
    public ValueTask HandleAsync(WebSocketConnection connection, ReadOnlyMemory<byte> message)
    {
        if (!ClientMessageReader.TryRead(message.Span, out var inbound))
        {
            Reply(connection, FrameSerializer.Error(connection.Topic.Name, ErrorCodes.InvalidJson, "The message is not a JSON object."));
            return ValueTask.CompletedTask;
        }

        switch (inbound.Type)
        {
            case ClientMessageType.Auth:
                return new ValueTask(RefreshTokenAsync(connection, inbound.Data));
            case ClientMessageType.Pong:
                // Arrival alone is the answer: the receive loop has already noted the activity.
                break;
            case ClientMessageType.Ping:
                Reply(connection, FrameSerializer.Pong(connection.Topic.Name, inbound.Data));
                break;
            case ClientMessageType.Missing:
                Reply(connection, FrameSerializer.Error(connection.Topic.Name, ErrorCodes.MissingType, "The message has no string 'type'."));
                break;
            default:
                Reply(connection, FrameSerializer.Error(connection.Topic.Name, ErrorCodes.UnknownType, "Clients may send 'ping', 'pong' and 'auth'."));
                break;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// <c>{"type":"auth","data":{"token":"..."}}</c>: a new token replaces the connection's, in place,
    /// if it is valid and still allows the topic; otherwise the old one stays (protocol.md "Security").
    /// </summary>
    private async Task RefreshTokenAsync(WebSocketConnection connection, byte[]? data)
    {
        var token = data is null ? null : TokenReader.FromAuthData(data);
        var check = await tokens.ValidateAsync(token).ConfigureAwait(false);
        if (!check.Ok)
        {
            Reply(connection, FrameSerializer.Error(connection.Topic.Name, ErrorCodes.InvalidToken, check.Error!));
            return;
        }

        if (!check.Grants!.MaySubscribe(connection.Topic.Name))
        {
            Reply(connection, FrameSerializer.Error(connection.Topic.Name, ErrorCodes.Forbidden, "The new token does not allow this topic; the old one stays in force."));
            return;
        }

        connection.TokenExpiresTimestamp = ToTimestamp(check.ExpiresAt);
        Reply(connection, FrameSerializer.Auth(connection.Topic.Name, check.ExpiresAt == DateTimeOffset.MaxValue ? null : check.ExpiresAt.ToUnixTimeMilliseconds()));
    }

    /// <summary>Converts a wall-clock expiry into the monotonic timestamps the heartbeat compares.</summary>
    public long ToTimestamp(DateTimeOffset expiresAt)
    {
        if (expiresAt == DateTimeOffset.MaxValue)
        {
            return long.MaxValue;
        }

        var remaining = expiresAt - timeProvider.GetUtcNow();
        return timeProvider.GetTimestamp() + (long)(Math.Max(0, remaining.TotalSeconds) * timeProvider.TimestampFrequency);
    }

    private static void Reply(WebSocketConnection connection, OutboundFrame frame) => connection.EnqueueReply(frame);
}
