namespace TopicBroker.Tests.Cluster;

/// <summary>
/// The servers every cluster fixture runs its nodes on: the run's Redis, and the run's PostgreSQL
/// (started once per run, stopped by <see cref="RunTeardown"/>) or, for a fixture whose tests crash
/// it, a PostgreSQL of the fixture's own, stopped after its tests.
/// </summary>
public abstract class ClusterTestsBase
{
    private protected PostgresServer Postgres { get; private set; } = null!;

    private protected RedisServer Redis { get; private set; } = null!;

    /// <summary>True: this fixture gets a PostgreSQL of its own, since its tests crash or stop it.</summary>
    private protected virtual bool OwnsPostgres => false;

    [OneTimeSetUp]
    public async Task StartServersAsync()
    {
        Postgres = OwnsPostgres ? await PostgresServer.StartPrivateAsync() : await PostgresServer.SharedAsync();
        Redis = await RedisServer.SharedAsync();
    }

    [OneTimeTearDown]
    public async Task StopOwnPostgresAsync()
    {
        if (OwnsPostgres)
        {
            await Postgres.StopAsync();
        }
    }
}
