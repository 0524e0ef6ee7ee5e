namespace TopicBroker.Ingest;

/// <summary>A way changes come in from outside (the TCP bridge). Shutdown stops each before draining the pipeline.</summary>
internal interface IIngestSource
{
    /// <summary>Stops taking new input and returns once everything already taken has been answered.</summary>
    Task StopAcceptingAsync(CancellationToken cancellationToken);
}
