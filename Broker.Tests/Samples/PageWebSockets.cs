using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Playwright;

namespace TopicBroker.Tests.Samples;

/// <summary>
/// Every WebSocket a page opens, with the frames it receives, as the browser reports them. The
/// frame handler is attached inside the page's WebSocket event, before Playwright dispatches the
/// socket's first frame; a handler attached after an awaited wait could miss it.
/// </summary>
internal sealed class PageWebSockets
{
    private readonly Lock _opening = new();
    private readonly EventRecorder<PageWebSocket> _sockets = new();

    public PageWebSockets(IPage page) => page.WebSocket += OnWebSocket;

    /// <summary>How many sockets the page has opened so far; a later wait can ask for newer ones only.</summary>
    public int Count => _sockets.Count;

    /// <summary>The sockets of <paramref name="topic"/> opened since the first <paramref name="skip"/> sockets, failed attempts included.</summary>
    public IReadOnlyList<PageWebSocket> OfTopic(string topic, int skip = 0) =>
        [.. _sockets.Snapshot().Skip(skip).Where(s => s.Topic == topic)];

    /// <summary>
    /// Waits for the first socket of <paramref name="topic"/>, among those opened after the first
    /// <paramref name="skip"/>, that receives topic data (a snapshot or an update): the
    /// connection that got through. Attempts refused or closed at once receive none.
    /// </summary>
    public Task<PageWebSocket> WaitForSubscribedAsync(string topic, int skip = 0) =>
        _sockets.WaitForAsync(socket => socket.Topic == topic && socket.DataFrames.Count > 0, skip);

    /// <summary>
    /// Expects that every reconnect attempt of <paramref name="topic"/> after the first
    /// <paramref name="skip"/> sockets asked for the changes after <paramref name="seq"/>, and
    /// that the broker answered with those changes, the first missed one first, and no snapshot.
    /// </summary>
    public async Task ExpectResumedAsync(string topic, int skip, long seq)
    {
        var resumed = await WaitForSubscribedAsync(topic, skip);
        Assert.That(OfTopic(topic, skip).Select(s => s.Since), Is.All.EqualTo(seq), $"{topic}: every reconnect resumes from the page's seq");
        var frames = resumed.DataFrames;
        Assert.That(frames.Select(f => f.GetProperty("type").GetString()), Is.All.EqualTo("update"), $"{topic}: resumed, not sent a snapshot");
        Assert.That(frames[0].GetProperty("seq").GetInt64(), Is.EqualTo(seq + 1), $"{topic}: the first missed change comes first");
    }

    private void OnWebSocket(object? sender, IWebSocket socket)
    {
        PageWebSocket recorded;
        lock (_opening)
        {
            // The index is the socket's place in the recorder, which is what a wait's skip counts.
            recorded = new PageWebSocket(_sockets.Count, socket.Url);
            _sockets.Add(recorded);
        }

        socket.FrameReceived += (_, frame) =>
        {
            if (frame.Text is { } text)
            {
                recorded.Add(text);
                _sockets.Changed(recorded);
            }
        };
    }
}

internal sealed class PageWebSocket
{
    private readonly Lock _lock = new();
    private readonly List<JsonElement> _frames = [];

    public PageWebSocket(int index, string url)
    {
        Index = index;
        Url = new Uri(url);
        Topic = Url.Segments[^1];
        Since = QueryHelpers.ParseQuery(Url.Query).TryGetValue("since", out var since) ? long.Parse(since.ToString(), System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    public int Index { get; }

    public Uri Url { get; }

    public string Topic { get; }

    /// <summary>The <c>since</c> the page resumed from, or null for a fresh subscription.</summary>
    public long? Since { get; }

    /// <summary>The snapshot and update frames received, in order (pings and the like left out).</summary>
    public IReadOnlyList<JsonElement> DataFrames
    {
        get
        {
            lock (_lock)
            {
                return [.. _frames.Where(f => f.GetProperty("type").GetString() is "snapshot" or "update")];
            }
        }
    }

    public void Add(string text)
    {
        var frame = JsonDocument.Parse(text).RootElement.Clone();
        lock (_lock)
        {
            _frames.Add(frame);
        }
    }
}
