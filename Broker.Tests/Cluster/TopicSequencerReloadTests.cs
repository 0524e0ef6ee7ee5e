using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using TopicBroker.Cluster;
using TopicBroker.Hosting;
using TopicBroker.Storage;
using TopicBroker.Topics;

namespace TopicBroker.Tests.Cluster;

/// <summary>
/// The sequencer's side of a resynchronised topic (protocol.md "Cluster", resynchronised topics):
/// a reload or replace may move the applied seq back; what was held, and what a store read taken
/// before it holds, belongs to the replaced state and is never applied after it.
/// </summary>
[Category("Unit")]
public sealed class TopicSequencerReloadTests
{
    private TopicState _orders = null!;
    private TopicSequencer _sequencer = null!;

    [SetUp]
    public void CreateSequencer()
    {
        var topics = new TopicRegistry(Options.Create(new BrokerOptions { Topics = ["orders"] }));
        Assert.That(topics.TryGet("orders", out var orders), Is.True);
        _orders = orders!;
        _sequencer = new TopicSequencer(topics, TimeProvider.System);
        _sequencer.CompleteStartupLoad();
    }

    private static StoredChange Change(long seq, string id) => new("orders", seq, id, Encoding.UTF8.GetBytes($$"""{"seq":{{seq}}}"""));

    private static StoredTopic Stored(long seq, params string[] ids) =>
        new("orders", seq, [.. ids.Select(id => KeyValuePair.Create(id, Encoding.UTF8.GetBytes("{}")))], []);

    private void OfferAll(long from, long to, string prefix)
    {
        for (var seq = from; seq <= to; seq++)
        {
            Assert.That(_sequencer.Offer(Change(seq, prefix + seq)), Is.True);
        }
    }

    private List<string> EntityIds()
    {
        using var snapshot = JsonDocument.Parse(_orders.GetSnapshot().Payload);
        return [.. snapshot.RootElement.GetProperty("data").EnumerateObject().Select(entity => entity.Name)];
    }

    [Test]
    public void Reload_ToALowerSeq_AppliesWhatWasHeldAfterIt_AndTheNextSeqs()
    {
        OfferAll(1, 30, "old");
        var generation = _sequencer.MarkForReload(_orders);
        // Offered between the mark and the read: held, whatever its seq.
        _sequencer.Offer(Change(6, "new6"));

        Assert.That(_sequencer.Reload(_orders, Stored(5, "new1", "new5"), generation), Is.True);
        _sequencer.Offer(Change(7, "new7"));

        Assert.That(_orders.Seq, Is.EqualTo(7));
        Assert.That(EntityIds(), Is.EquivalentTo(new[] { "new1", "new5", "new6", "new7" }));
    }

    [Test]
    public void Reload_DropsWhatWasHeldBeforeTheMark_SoTheNewSeqsApply()
    {
        OfferAll(1, 3, "old");
        _sequencer.Offer(Change(5, "old5"));
        _sequencer.Reload(_orders, Stored(1, "new1"), _sequencer.MarkForReload(_orders));

        OfferAll(2, 5, "new");

        Assert.That(_orders.Seq, Is.EqualTo(5));
        Assert.That(EntityIds(), Is.EquivalentTo(new[] { "new1", "new2", "new3", "new4", "new5" }));
    }

    [Test]
    public void WhileMarked_NothingIsApplied()
    {
        OfferAll(1, 3, "old");
        _sequencer.MarkForReload(_orders);

        _sequencer.Offer(Change(4, "new4"));

        Assert.That(_orders.Seq, Is.EqualTo(3));
    }

    [Test]
    public void StoreRead_TakenBeforeAReload_IsDropped()
    {
        OfferAll(1, 3, "old");
        var beforeRead = _sequencer.GenerationOf(_orders);
        _sequencer.Reload(_orders, Stored(1, "new1"), _sequencer.MarkForReload(_orders));

        Assert.That(_sequencer.OfferRead(Change(2, "old2"), beforeRead), Is.True);
        Assert.That(_orders.Seq, Is.EqualTo(1), "the replaced state's seq 2");
        _sequencer.OfferRead(Change(2, "new2"), _sequencer.GenerationOf(_orders));

        Assert.That(_orders.Seq, Is.EqualTo(2));
        Assert.That(EntityIds(), Is.EquivalentTo(new[] { "new1", "new2" }));
    }

    [Test]
    public void Reload_OfAnOlderMark_IsIgnored_TheNewerOneApplies()
    {
        OfferAll(1, 10, "old");
        var first = _sequencer.MarkForReload(_orders);
        var second = _sequencer.MarkForReload(_orders);

        Assert.That(_sequencer.Reload(_orders, Stored(2, "a"), first), Is.False);
        Assert.That(_orders.Seq, Is.EqualTo(10));
        Assert.That(_sequencer.Reload(_orders, Stored(3, "b"), second), Is.True);
        Assert.That(_orders.Seq, Is.EqualTo(3));
    }

    [Test]
    public void Replace_DropsWhatWasHeld_SoTheNewSeqsApply()
    {
        OfferAll(1, 1, "old");
        _sequencer.Offer(Change(5, "old5"));

        _sequencer.Replace(_orders, 2, new Dictionary<string, byte[]> { ["new2"] = Encoding.UTF8.GetBytes("{}") });
        OfferAll(3, 5, "new");

        Assert.That(_orders.Seq, Is.EqualTo(5));
        Assert.That(EntityIds(), Is.EquivalentTo(new[] { "new2", "new3", "new4", "new5" }));
    }

    [Test]
    public void HistoryGoneResynchronization_FromAReadBeforeAReload_IsIgnored()
    {
        OfferAll(1, 3, "old");
        var beforeRead = _sequencer.GenerationOf(_orders);
        _sequencer.Reload(_orders, Stored(1, "new1"), _sequencer.MarkForReload(_orders));

        Assert.That(_sequencer.Resynchronize(_orders, Stored(9, "old9"), beforeRead), Is.False);
        Assert.That(_orders.Seq, Is.EqualTo(1));
    }
}
