namespace TopicBroker.Topics;

/// <summary>
/// Site-scoped topic names, <c>&lt;site&gt;/&lt;topic&gt;</c> (protocol.md "Sites and upstream
/// replication"): a site is 1-63 characters of a-z, 0-9 and '-', not starting with '-'; the topic
/// part is a configured topic.
/// </summary>
internal static class SiteTopicName
{
    public const int MaxSiteLength = 63;

    public static bool IsValidSite(ReadOnlySpan<char> site)
    {
        if (site.IsEmpty || site.Length > MaxSiteLength || site[0] == '-')
        {
            return false;
        }

        foreach (var c in site)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Splits <c>site/topic</c>; true when the site is valid and the topic part is a valid topic name (configured or not).</summary>
    public static bool TrySplit(string name, out string site, out string topic)
    {
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0 && IsValidSite(name.AsSpan(0, slash)) && TopicName.IsValid(name[(slash + 1)..]))
        {
            site = name[..slash];
            topic = name[(slash + 1)..];
            return true;
        }

        site = topic = "";
        return false;
    }

    public static string Combine(string site, string topic) => site + "/" + topic;
}
