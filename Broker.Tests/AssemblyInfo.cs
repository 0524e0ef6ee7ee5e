// Each fixture starts its own brokers on port 0; fixtures may run side by side. Two cores: keep it modest.
[assembly: Parallelizable(ParallelScope.Fixtures)]
[assembly: LevelOfParallelism(2)]
