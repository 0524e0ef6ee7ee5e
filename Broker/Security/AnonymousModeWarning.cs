using Microsoft.Extensions.Options;
using TopicBroker.Hosting;

namespace TopicBroker.Security;

/// <summary>Says at start-up, every time, that the broker runs without authentication.</summary>
internal sealed partial class AnonymousModeWarning(IOptions<BrokerOptions> options, ILogger<AnonymousModeWarning> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.Auth.Enabled)
        {
            Log.Anonymous(logger, options.Value.Auth.AllowAnonymous);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "No Broker:Auth:SigningKey is set: anyone who can reach the broker may subscribe and publish (AllowAnonymous={AllowAnonymous})")]
        public static partial void Anonymous(ILogger logger, bool allowAnonymous);
    }
}
