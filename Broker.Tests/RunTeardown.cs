namespace TopicBroker.Tests;

/// <summary>Assembly-wide clean-up after every test (all test namespaces sit below this one).</summary>
[SetUpFixture]
public sealed class RunTeardown
{
    [OneTimeTearDown]
    public Task CloseBrowserAsync() => BrowserFixture.CloseAsync();

    [OneTimeTearDown]
    public void DeletePublishedBroker() => PublishedBroker.Delete();
}
