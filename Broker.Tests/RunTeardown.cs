namespace TopicBroker.Tests;

/// <summary>Assembly-wide clean-up after every test (all test namespaces sit below this one).</summary>
[SetUpFixture]
public sealed class RunTeardown
{
    [OneTimeTearDown]
    public async Task StopSharedServersAsync()
    {
        await BrowserFixture.CloseAsync();
        await PostgresServer.StopSharedAsync();
        await RedisServer.StopSharedAsync();
    }

    [OneTimeTearDown]
    public void DeletePublishedBroker() => PublishedBroker.Delete();
}
