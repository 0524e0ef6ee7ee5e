using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/TopicBroker.MicroBench -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
