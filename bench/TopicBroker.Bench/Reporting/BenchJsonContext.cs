using System.Text.Json.Serialization;

namespace TopicBroker.Bench.Reporting;

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(ScenarioResult))]
[JsonSerializable(typeof(AllResult))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
