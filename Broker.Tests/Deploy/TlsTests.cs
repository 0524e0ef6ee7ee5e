using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace TopicBroker.Tests.Deploy;

/// <summary>
/// docs/operations.md "TLS": Kestrel serves https and wss from a PEM certificate and key named in
/// configuration. The test makes its own certificate and trusts exactly that one.
/// </summary>
public sealed class TlsTests
{
    [Test, CancelAfter(60_000)]
    public async Task CertificateInConfiguration_ServesWssSubscriptionsAndHttpsPublishes()
    {
        var folder = Directory.CreateTempSubdirectory("topicbroker-tls-").FullName;
        try
        {
            using var certificate = SelfSigned("localhost");
            var certPath = Path.Combine(folder, "broker.crt");
            var keyPath = Path.Combine(folder, "broker.key");
            await File.WriteAllTextAsync(certPath, certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(keyPath, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

            await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
            {
                ["Kestrel:Endpoints:Https:Url"] = "https://127.0.0.1:0",
                ["Kestrel:Endpoints:Https:Certificate:Path"] = certPath,
                ["Kestrel:Endpoints:Https:Certificate:KeyPath"] = keyPath,
            });
            Assert.That(broker.HttpUri.Scheme, Is.EqualTo("https"));
            var port = broker.HttpUri.Port;
            using var client = new SourceAddressClient(IPAddress.Loopback, (_, presented, _, errors) => IsTrusted(certificate, presented, errors));

            await using var subscriber = await client.ConnectWebSocketAsync(new Uri($"wss://localhost:{port}/ws/orders"));
            await subscriber.ReceiveFrameAsync("snapshot");
            using var https = client.HttpClient(new Uri($"https://localhost:{port}"));
            var publish = await https.PostAsync("/api/topics/orders/entities/o-1",
                new StringContent("""{"status":"new"}""", Encoding.UTF8, "application/json")).DefaultTimeout();
            Assert.That((await publish.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("seq").GetInt64(), Is.EqualTo(1));
            var update = await subscriber.ReceiveFrameAsync("update");
            Assert.That(update.GetProperty("data").GetProperty("status").GetString(), Is.EqualTo("new"));

            // A client that does not trust the certificate gets no answer: this really is TLS with it.
            using var untrusting = new SourceAddressClient(IPAddress.Loopback);
            using var plain = untrusting.HttpClient(new Uri($"https://localhost:{port}"));
            var refused = Assert.ThrowsAsync<HttpRequestException>(() => plain.GetAsync("/health"));
            Assert.That(refused!.InnerException, Is.InstanceOf<System.Security.Authentication.AuthenticationException>());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static X509Certificate2 SelfSigned(string host)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={host}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(host);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
    }

    /// <summary>Trusts <paramref name="trusted"/> as the only root; the host name must still match.</summary>
    private static bool IsTrusted(X509Certificate2 trusted, System.Security.Cryptography.X509Certificates.X509Certificate? presented, SslPolicyErrors errors)
    {
        if (presented is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        return chain.Build(leaf);
    }
}
