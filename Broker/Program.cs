using Serilog;
using TopicBroker.Hosting;

// Until the host's logging is configured, start-up failures (a bad option, a port in use) go to
// the console through this bootstrap logger.
Log.Logger = new LoggerConfiguration().WriteTo.Console().CreateBootstrapLogger();
try
{
    var app = BrokerApplication.Build(args);
    await app.RunAsync();
    return 0;
}
catch (Exception ex) when (ex is not OperationCanceledException)
{
    Log.Fatal(ex, "TopicBroker failed to start or stopped unexpectedly");
    return 1;
}
finally
{
    await Log.CloseAndFlushAsync();
}
