using System.Text.RegularExpressions;

namespace TopicBroker.Tests.Deploy;

/// <summary>README "Set-up" is two commands, and CI runs the second one as it is written there.</summary>
public sealed partial class SetupTests
{
    [Test]
    public void ReadmeSetup_IsTwoCommands_AndCiRunsItsTestCommand()
    {
        var readme = File.ReadAllText(Path.Combine(PublishedBroker.RepositoryRoot, "README.md"));
        var start = readme.IndexOf("## Set-up", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), "README has a Set-up section");
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var block = FirstShellBlock().Match(readme[start..(end < 0 ? readme.Length : end)]);
        Assert.That(block.Success, Is.True, "Set-up has a sh block");
        var commands = block.Groups[1].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split('#', 2)[0].Trim())
            .Where(line => line.Length > 0)
            .ToList();

        Assert.That(commands, Has.Count.EqualTo(2), string.Join('\n', commands));
        var test = commands.Single(c => c.StartsWith("dotnet test", StringComparison.Ordinal));
        var ci = File.ReadAllText(Path.Combine(PublishedBroker.RepositoryRoot, ".ci", "run"));
        Assert.That(ci, Does.Contain($" {test} 2>&1"), ".ci/run runs the README's test command as it is");
    }

    [GeneratedRegex("```sh\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex FirstShellBlock();
}
