using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TopicBroker.Sites;

namespace TopicBroker.Tests.Upstream;

/// <summary>
/// A real WebSocket server between a restaurant and its real head office, on 127.0.0.1 port 0:
/// it relays every replication message both ways, except that on the first link it sends the
/// restaurant one malformed message of the test's (instead of the welcome, or after the first
/// ack it relays). Later links are relayed untouched, so the head office behind it judges what
/// arrives: protocol.md "The upstream link".
/// </summary>
internal sealed class HeadOfficeRelay : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Uri _headOffice;
    private readonly string _malformed;
    private readonly bool _insteadOfWelcome;
    private int _links;

    private HeadOfficeRelay(WebApplication app, Uri headOffice, string malformed, bool insteadOfWelcome)
    {
        _app = app;
        _headOffice = headOffice;
        _malformed = malformed;
        _insteadOfWelcome = insteadOfWelcome;
    }

    public Uri HttpUri { get; private set; } = null!;

    /// <summary>The number of each link the restaurant opened (1, 2, ...), as they are accepted.</summary>
    public EventRecorder<int> Links { get; } = new();

    /// <summary>Set once the malformed message went out.</summary>
    public TaskCompletionSource MalformedSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<HeadOfficeRelay> StartAsync(Uri headOffice, string malformed, bool insteadOfWelcome)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var relay = new HeadOfficeRelay(app, headOffice, malformed, insteadOfWelcome);
        app.UseWebSockets();
        app.Map(ReplicationMessages.Path + "/{site}", relay.RelayAsync);
        await app.StartAsync().DefaultTimeout();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        relay.HttpUri = new Uri(address);
        return relay;
    }

    private async Task RelayAsync(HttpContext context, string site)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var number = Interlocked.Increment(ref _links);
        using var upstream = new ClientWebSocket();
        var target = new UriBuilder(_headOffice) { Scheme = "ws", Path = ReplicationMessages.Path + "/" + site }.Uri;
        await upstream.ConnectAsync(target, context.RequestAborted);
        using var restaurant = await context.WebSockets.AcceptWebSocketAsync();
        Links.Add(number);
        var faulty = number == 1;
        var down = PumpAsync(upstream, restaurant, faulty);
        var up = PumpAsync(restaurant, upstream, inject: false);
        await Task.WhenAny(down, up);
        // Either side gone ends the link on both, as a proxy does.
        restaurant.Abort();
        upstream.Abort();
        await Task.WhenAll(Quietly(down), Quietly(up));
    }

    /// <summary>Relays messages from <paramref name="from"/> to <paramref name="to"/>, the only writer of <paramref name="to"/>.</summary>
    private async Task PumpAsync(WebSocket from, WebSocket to, bool inject)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        var first = true;
        while (await ReplicationMessages.ReceiveAsync(from, buffer, 16 * 1024 * 1024, CancellationToken.None) is { } message)
        {
            var isWelcome = first;
            first = false;
            if (inject && isWelcome && _insteadOfWelcome)
            {
                await SendMalformedAsync(to);
                continue;
            }

            await ReplicationMessages.SendAsync(to, message, CancellationToken.None);
            if (inject && !_insteadOfWelcome && !isWelcome && !MalformedSent.Task.IsCompleted
                && Encoding.UTF8.GetString(message).Contains("\"type\":\"ack\"", StringComparison.Ordinal))
            {
                await SendMalformedAsync(to);
            }
        }
    }

    private async Task SendMalformedAsync(WebSocket to)
    {
        await ReplicationMessages.SendAsync(to, Encoding.UTF8.GetBytes(_malformed), CancellationToken.None);
        MalformedSent.TrySetResult();
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().DefaultTimeout();
        await _app.DisposeAsync();
    }
}
