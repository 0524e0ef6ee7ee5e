using System.Text;
using TopicBroker.Protocol.Inbound;

namespace TopicBroker.Tests.Protocol.Inbound;

/// <summary>What a client sends on a WebSocket, as the broker reads it (protocol.md "Client to server").</summary>
[Category("Unit")]
public sealed class ClientMessageReaderTests
{
    [TestCase("""{"type":"ping"}""", nameof(ClientMessageType.Ping))]
    [TestCase("""{"type":"pong"}""", nameof(ClientMessageType.Pong))]
    [TestCase("""{"type":"auth","data":{"token":"t"}}""", nameof(ClientMessageType.Auth))]
    [TestCase("""{"type":"p\u0069ng"}""", nameof(ClientMessageType.Ping))]
    [TestCase("""{"type":"PING"}""", nameof(ClientMessageType.Unknown))]
    [TestCase("""{"type":"subscribe"}""", nameof(ClientMessageType.Unknown))]
    [TestCase("""{"type":""}""", nameof(ClientMessageType.Unknown))]
    [TestCase("""{}""", nameof(ClientMessageType.Missing))]
    [TestCase("""{"type":7}""", nameof(ClientMessageType.Missing))]
    [TestCase("""{"type":null}""", nameof(ClientMessageType.Missing))]
    [TestCase("""{"type":"ping","type":3}""", nameof(ClientMessageType.Missing))]
    [TestCase("""{"type":3,"type":"ping"}""", nameof(ClientMessageType.Ping))]
    public void Type_IsRead(string message, string expected) =>
        Assert.That(Read(message).Type, Is.EqualTo(Enum.Parse<ClientMessageType>(expected)));

    [Test]
    public void Data_IsKeptVerbatim_WhateverItIs()
    {
        Assert.That(Encoding.UTF8.GetString(Read("""{"type":"ping","data":{"n": 1,"s":[true]}}""").Data!), Is.EqualTo("""{"n": 1,"s":[true]}"""));
        Assert.That(Encoding.UTF8.GetString(Read("""{"data":42,"type":"ping"}""").Data!), Is.EqualTo("42"));
        Assert.That(Encoding.UTF8.GetString(Read("""{"type":"ping","data":null}""").Data!), Is.EqualTo("null"));
    }

    [Test]
    public void Data_Absent_IsNull() => Assert.That(Read("""{"type":"ping","extra":{"data":1}}""").Data, Is.Null);

    [TestCase("", TestName = "Empty")]
    [TestCase("ping", TestName = "Not JSON")]
    [TestCase("""[{"type":"ping"}]""", TestName = "An array")]
    [TestCase("\"ping\"", TestName = "A string")]
    [TestCase("""{"type":"ping"} {}""", TestName = "Two objects")]
    [TestCase("""{"type":"ping"} x""", TestName = "Trailing garbage")]
    [TestCase("""{"type":"ping",""", TestName = "Truncated")]
    [TestCase("""{"type":"\ud800"}""", TestName = "A lone surrogate in the type")]
    public void NotOneJsonObject_IsRefused(string message) =>
        Assert.That(ClientMessageReader.TryRead(Encoding.UTF8.GetBytes(message), out _), Is.False);

    [Test]
    public void InvalidUtf8_IsRefused() =>
        Assert.That(ClientMessageReader.TryRead([.. "{\"type\":\""u8, 0xC3, 0x28, .. "\"}"u8], out _), Is.False);

    [Test]
    public void NestingDeeperThan64_IsRefused() =>
        Assert.That(ClientMessageReader.TryRead(Encoding.UTF8.GetBytes("""{"type":"ping","data":""" + new string('[', 70) + new string(']', 70) + "}"), out _), Is.False);

    private static ClientMessage Read(string message)
    {
        Assert.That(ClientMessageReader.TryRead(Encoding.UTF8.GetBytes(message), out var result), Is.True, message);
        return result;
    }
}
