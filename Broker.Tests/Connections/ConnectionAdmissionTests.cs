using System.Net;
using TopicBroker.Connections;
using TopicBroker.Protocol;

namespace TopicBroker.Tests.Connections;

[Category("Unit")]
public sealed class ConnectionAdmissionTests
{
    private static readonly IPAddress A = IPAddress.Parse("10.0.0.1");
    private static readonly IPAddress B = IPAddress.Parse("10.0.0.2");

    [Test]
    public void TotalCap_RefusesTheNextConnection_FromAnyAddress()
    {
        var admission = new ConnectionAdmission(maxConnections: 2, maxPerAddress: 10);
        Assert.That(admission.TryAdmit(A, out _), Is.True);
        Assert.That(admission.TryAdmit(B, out _), Is.True);

        Assert.That(admission.TryAdmit(B, out var refusal), Is.False);
        Assert.That(refusal, Is.EqualTo(CloseCodes.TooManyConnectionsReason));
        Assert.That(admission.Total, Is.EqualTo(2), "a refusal holds no slot");
    }

    [Test]
    public void PerAddressCap_RefusesThatAddressOnly()
    {
        var admission = new ConnectionAdmission(maxConnections: 10, maxPerAddress: 2);
        admission.TryAdmit(A, out _);
        admission.TryAdmit(A, out _);

        Assert.That(admission.TryAdmit(A, out var refusal), Is.False);
        Assert.That(refusal, Is.EqualTo(CloseCodes.TooManyConnectionsFromAddressReason));
        Assert.That(admission.TryAdmit(B, out refusal), Is.True);
        Assert.That(refusal, Is.Null);
        Assert.That(admission.Total, Is.EqualTo(3), "the refused one holds neither a total nor a per-address slot");
    }

    [Test]
    public void Release_FreesBothTheTotalAndTheAddressSlot()
    {
        var admission = new ConnectionAdmission(maxConnections: 2, maxPerAddress: 1);
        admission.TryAdmit(A, out _);
        admission.TryAdmit(B, out _);

        admission.Release(A);

        Assert.That(admission.Total, Is.EqualTo(1));
        Assert.That(admission.TryAdmit(A, out _), Is.True, "A's slot is free again");
        Assert.That(admission.TryAdmit(A, out _), Is.False);
    }

    [Test]
    public void AdmitAndRelease_RacingThreads_LeaveNothingHeld()
    {
        var admission = new ConnectionAdmission(maxConnections: 1000, maxPerAddress: 1000);

        Parallel.For(0, 10_000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var address = (i % 2 == 0) ? A : B;
            if (admission.TryAdmit(address, out _))
            {
                admission.Release(address);
            }
        });

        Assert.That(admission.Total, Is.Zero);
        var admitted = 0;
        while (admission.TryAdmit(A, out _))
        {
            admitted++;
        }

        Assert.That(admitted, Is.EqualTo(1000), "A's per-address count went back to zero");
    }
}
