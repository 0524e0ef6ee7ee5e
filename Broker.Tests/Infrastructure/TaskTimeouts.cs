namespace TopicBroker.Tests.Infrastructure;

/// <summary>Every wait in a test is on a real signal and bounded, as aspnetcore's DefaultTimeout.</summary>
internal static class TaskTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(15);

    public static Task DefaultTimeout(this Task task, TimeSpan? timeout = null) => task.WaitAsync(timeout ?? Default);

    public static Task<T> DefaultTimeout<T>(this Task<T> task, TimeSpan? timeout = null) => task.WaitAsync(timeout ?? Default);

    public static Task DefaultTimeout(this ValueTask task, TimeSpan? timeout = null) => task.AsTask().WaitAsync(timeout ?? Default);

    public static Task<T> DefaultTimeout<T>(this ValueTask<T> task, TimeSpan? timeout = null) => task.AsTask().WaitAsync(timeout ?? Default);
}
