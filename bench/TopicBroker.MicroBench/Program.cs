using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/TopicBroker.MicroBench -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(TopicBroker.MicroBench.InboundParseBenchmarks).Assembly).Run(args);
