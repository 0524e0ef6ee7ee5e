using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;

namespace TopicBroker.Hosting;

/// <summary>
/// The static pages the broker serves besides its endpoints: a short list of content roots, each a
/// request path and a folder embedded in the assembly (Broker.csproj, under <c>wwwroot/</c>), so a
/// published broker started from any working directory serves them. A configured folder on disk
/// may replace a root's embedded copy.
/// </summary>
internal static partial class StaticContent
{
    /// <summary>
    /// One served folder: <paramref name="EmbeddedFolder"/> is its path inside the assembly (the
    /// EmbeddedResource item's Link). <paramref name="Override"/> picks the setting that names a
    /// folder on disk to serve instead, <paramref name="OverrideKey"/> that setting's key.
    /// </summary>
    internal sealed record Root(string RequestPath, string EmbeddedFolder, Func<SamplesOptions, string?>? Override = null, string? OverrideKey = null);

    /// <summary>The roots, served in this order; a new folder of pages or modules is one more line here and one EmbeddedResource item.</summary>
    internal static readonly Root[] Roots =
    [
        new("", "wwwroot/samples", samples => samples.Path, SamplesOptions.SectionName + ":Path"),
        // The JavaScript client package's module (clients/js/lib), which the pages import from /lib.
        new("/lib", "wwwroot/lib"),
    ];

    public static IServiceCollection AddStaticContent(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SamplesOptions>()
            .Bind(configuration.GetSection(SamplesOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SamplesOptions>, FolderValidator>();
        return services;
    }

    public static WebApplication UseStaticContent(this WebApplication app)
    {
        var samples = app.Services.GetRequiredService<IOptions<SamplesOptions>>().Value;
        if (!samples.Enabled)
        {
            return app;
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(StaticContent));
        foreach (var root in Roots)
        {
            IFileProvider files;
            if (root.Override?.Invoke(samples) is { } path)
            {
                // Validated at start: the folder exists.
                var folder = SamplesOptions.Resolve(path)!;
                files = new PhysicalFileProvider(folder);
                Log.ServingFolder(logger, root.RequestPath + "/", folder);
            }
            else
            {
                files = new ManifestEmbeddedFileProvider(typeof(StaticContent).Assembly, root.EmbeddedFolder);
                Log.ServingEmbedded(logger, root.RequestPath + "/");
            }

            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files, RequestPath = root.RequestPath });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files, RequestPath = root.RequestPath });
        }

        return app;
    }

    /// <summary>A folder that is configured but missing stops the broker at start, naming the key.</summary>
    private sealed class FolderValidator : IValidateOptions<SamplesOptions>
    {
        public ValidateOptionsResult Validate(string? name, SamplesOptions samples)
        {
            var missing = samples.Enabled
                ? Roots.Where(root => root.Override?.Invoke(samples) is { } path && SamplesOptions.Resolve(path) is null)
                    .Select(root => $"{root.OverrideKey} '{root.Override!(samples)}' was not found (looked in {Environment.CurrentDirectory} and upwards from {AppContext.BaseDirectory})")
                    .ToList()
                : [];
            return missing.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(missing);
        }
    }
}
