namespace TopicBroker.Topics;

internal static class TopicName
{
    public const int MaxLength = 64;

    /// <summary>1-64 characters of a-z, 0-9, '_' and '-' (protocol.md "Concepts").</summary>
    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }
}
