using System.Text.Json;

namespace TopicBroker.Client.Bridge;

/// <summary>
/// One answer line of the bridge: <c>{"ok":true,"seq":N}</c>, <c>{"ok":true}</c> to an auth line,
/// or <c>{"ok":false,"error":..,"message":..}</c>.
/// </summary>
internal readonly record struct BridgeAnswer(bool Ok, long? Seq, string? Error, string? Message)
{
    /// <summary>
    /// The broker could not take the line right now (protocol.md "TCP bridge"): the line is kept and
    /// sent again later, unlike other rejections, which would fail again however often they are sent.
    /// </summary>
    public bool IsRetryable => Error is "unavailable" or "shutting_down";

    public static bool TryParse(string line, out BridgeAnswer answer)
    {
        answer = default;
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("ok", out var ok))
            {
                return false;
            }

            if (ok.ValueKind == JsonValueKind.True)
            {
                long? seq = null;
                if (root.TryGetProperty("seq", out var seqElement))
                {
                    if (!seqElement.TryGetInt64(out var seqValue))
                    {
                        return false;
                    }

                    seq = seqValue;
                }

                answer = new BridgeAnswer(true, seq, null, null);
                return true;
            }

            if (ok.ValueKind == JsonValueKind.False)
            {
                answer = new BridgeAnswer(false, null, GetString(root, "error") ?? "unknown", GetString(root, "message"));
                return true;
            }

            return false;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string? GetString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
