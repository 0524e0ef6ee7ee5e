using System.Collections.Frozen;
using Microsoft.Extensions.FileProviders;

namespace TopicBroker.Diagnostics;

/// <summary>
/// The operations page at <c>/ops/</c>: plain HTML, CSS and JavaScript embedded in the assembly
/// (the content root is the bin folder, so there is no wwwroot to serve from), read once at start.
/// The page polls the status API; it needs nothing from the network but the broker itself.
/// </summary>
internal static class OpsPageEndpoints
{
    public const string Path = "/ops";

    // The page loads its own script and style only and is never framed.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";

    private static readonly FrozenDictionary<string, (string ContentType, byte[] Content)> Files = LoadFiles();

    public static IEndpointRouteBuilder MapOpsPage(this IEndpointRouteBuilder endpoints)
    {
        // Matches /ops, /ops/ and /ops/ops.js (routing ignores a trailing slash).
        endpoints.MapGet(Path + "/{file?}", Serve);
        return endpoints;
    }

    private static IResult Serve(HttpContext context, string? file)
    {
        if (file is null && !context.Request.Path.Value!.EndsWith('/'))
        {
            // The page links its script and the status API relatively, so it must be served at /ops/.
            return TypedResults.Redirect(context.Request.PathBase + Path + "/");
        }

        if (!Files.TryGetValue(file ?? "index.html", out var entry))
        {
            return TypedResults.NotFound();
        }

        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.CacheControl = "no-cache";
        return TypedResults.Bytes(entry.Content, entry.ContentType);
    }

    private static FrozenDictionary<string, (string, byte[])> LoadFiles()
    {
        const string prefix = "OpsPage/";
        var assembly = typeof(OpsPageEndpoints).Assembly;
        var files = new Dictionary<string, (string, byte[])>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            files[name[prefix.Length..]] = (ContentTypeOf(name), buffer.ToArray());
        }

        // The look the page shares with the sample pages: samples/web/base.css, embedded with them
        // (Broker.csproj), served here as /ops/base.css so the page needs nothing outside /ops.
        var shared = new ManifestEmbeddedFileProvider(assembly, "wwwroot/samples").GetFileInfo("base.css");
        using (var stream = shared.CreateReadStream())
        using (var buffer = new MemoryStream())
        {
            stream.CopyTo(buffer);
            files["base.css"] = (ContentTypeOf("base.css"), buffer.ToArray());
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentTypeOf(string name) => System.IO.Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };
}
