using System.Text.Json.Nodes;

namespace RobotBridge.Simulation;

/// <summary>One change for the broker: an upsert of <see cref="Data"/>, or a delete when it is null.</summary>
internal readonly record struct EntityChange(string Topic, string Id, JsonObject? Data);
