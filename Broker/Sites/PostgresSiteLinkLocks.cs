using Microsoft.Extensions.Options;
using Npgsql;
using TopicBroker.Hosting;

namespace TopicBroker.Sites;

/// <summary>
/// Site locks shared by every node on one PostgreSQL store: a session-level advisory lock
/// (<c>pg_try_advisory_lock</c>) per site, keyed by a 64-bit hash of the site's name, held on a
/// connection of its own for the link's whole life. PostgreSQL releases it when that connection
/// ends, so a node killed with kill -9 frees its sites as soon as its connections drop. The
/// connection is checked every <see cref="SitesOptions.LinkLockCheckInterval"/>; once it fails,
/// the lock is lost and the link is ended (the store's seq check still refuses any change
/// already on its way, protocol.md "Sites and upstream replication").
/// </summary>
internal sealed partial class PostgresSiteLinkLocks : ISiteLinkLocks, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeSpan _checkInterval;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<PostgresSiteLinkLocks> _logger;

    public PostgresSiteLinkLocks(IOptions<BrokerOptions> options, TimeProvider timeProvider, ILogger<PostgresSiteLinkLocks> logger)
    {
        var builder = new NpgsqlConnectionStringBuilder(options.Value.Storage.ConnectionString)
        {
            // A lock lives and dies with its connection: never one handed back to a pool.
            Pooling = false,
            ApplicationName = "topicbroker-site-lock",
        };
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        _checkInterval = options.Value.Sites.LinkLockCheckInterval;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public async Task<SiteLinkLease?> TryAcquireAsync(string site, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(hashtextextended('topicbroker/replicate/' || @site, 0))", connection);
            command.Parameters.AddWithValue("site", site);
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true)
            {
                Log.Acquired(_logger, site);
                return new Lease(this, site, connection);
            }
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        await connection.DisposeAsync().ConfigureAwait(false);
        return null;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private sealed class Lease : SiteLinkLease
    {
        private readonly PostgresSiteLinkLocks _owner;
        private readonly NpgsqlConnection _connection;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _watch;
        private int _released;

        public Lease(PostgresSiteLinkLocks owner, string site, NpgsqlConnection connection)
        {
            _owner = owner;
            Site = site;
            _connection = connection;
            _watch = WatchAsync();
        }

        public override string Site { get; }

        public override async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0)
            {
                return;
            }

            await _stop.CancelAsync().ConfigureAwait(false);
            await _watch.ConfigureAwait(false);
            // Closing the connection releases the lock; a physical connection (no pool) really closes.
            await _connection.DisposeAsync().ConfigureAwait(false);
            Log.Released(_owner._logger, Site);
            _stop.Dispose();
            LostSource.Dispose();
        }

        private async Task WatchAsync()
        {
            await Task.Yield();
            using var timer = new PeriodicTimer(_owner._checkInterval, _owner._timeProvider);
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                {
                    await using var command = new NpgsqlCommand("SELECT 1", _connection);
                    await command.ExecuteScalarAsync(_stop.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or OperationCanceledException)
            {
                Log.Lost(_owner._logger, Site, ex.Message);
                await LostSource.CancelAsync().ConfigureAwait(false);
            }
        }
    }
}
