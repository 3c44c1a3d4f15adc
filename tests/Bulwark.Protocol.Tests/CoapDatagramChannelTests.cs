using System.Collections.Concurrent;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.Protocol.Tests;

/// <summary>The CoAP reliability layer for datagrams: retransmission, acknowledgement and de-duplication. Timers are
/// real but short; assertions wait generously and never depend on exact timing.</summary>
public class CoapDatagramChannelTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private sealed class Wire
    {
        public ConcurrentQueue<byte[]> Sent { get; } = new();

        public ValueTask SendAsync(ReadOnlyMemory<byte> datagram, CancellationToken cancellationToken)
        {
            Sent.Enqueue(datagram.ToArray());
            return ValueTask.CompletedTask;
        }

        public int Count(CoapMessage message) => Sent.Count(d => d.AsSpan().SequenceEqual(Encode(message)));
    }

    private static byte[] Encode(CoapMessage message)
    {
        var bytes = new byte[message.GetEncodedLength()];
        message.TryEncode(bytes, out _);
        return bytes;
    }

    private static CoapDatagramChannel Channel(Wire wire, int maxRetransmit = 4, int ackTimeoutMs = 30) =>
        new(wire.SendAsync, 100, new CoapDatagramOptions { AckTimeout = TimeSpan.FromMilliseconds(ackTimeoutMs), MaxRetransmit = maxRetransmit });

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task A_confirmable_message_is_resent_until_acknowledged_and_then_no_more()
    {
        var wire = new Wire();
        await using var channel = Channel(wire, maxRetransmit: 50);
        var ping = ParticleMessages.Ping(channel.NextMessageId());
        await channel.SendAsync(ping);
        await Until(() => wire.Count(ping) >= 3);

        Assert.True(channel.Deliver(Encode(ParticleMessages.EmptyAck(ping.MessageId))));
        var received = await channel.ReceiveAsync().AsTask().WaitAsync(Patience);
        Assert.Equal(CoapMessageType.Acknowledgement, received.Message!.Type);
        Assert.Equal(0, channel.OutstandingCount);
        var afterAck = wire.Count(ping);
        await Task.Delay(300);
        Assert.InRange(wire.Count(ping), afterAck, afterAck + 1); // at most one resend already in flight
    }

    [Fact]
    public async Task A_peer_that_never_acknowledges_ends_the_channel_as_unreachable()
    {
        var wire = new Wire();
        await using var channel = Channel(wire, maxRetransmit: 2, ackTimeoutMs: 10);
        var ping = ParticleMessages.Ping(channel.NextMessageId());
        await channel.SendAsync(ping);

        var result = await channel.ReceiveAsync().AsTask().WaitAsync(Patience);
        Assert.Null(result.Message);
        Assert.Equal(CoapChannelError.PeerUnreachable, result.Error);
        Assert.Equal(3, wire.Count(ping)); // the first send and two retransmissions
        await Assert.ThrowsAsync<IOException>(async () => await channel.SendAsync(ParticleMessages.Ping(channel.NextMessageId())));
    }

    [Fact]
    public async Task A_repeated_confirmable_message_is_read_once_and_answered_with_the_same_acknowledgement()
    {
        var wire = new Wire();
        await using var channel = Channel(wire);
        var time = ParticleMessages.TimeRequest(0x0707, 0x2a);

        Assert.True(channel.Deliver(Encode(time)));
        var first = await channel.ReceiveAsync();
        var reply = ParticleMessages.TimeResponse(first.Message!, 1_700_000_000);
        await channel.SendAsync(reply);
        Assert.Equal(1, wire.Count(reply));

        Assert.False(channel.Deliver(Encode(time)));
        await Until(() => wire.Count(reply) == 2);
        using var none = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await channel.ReceiveAsync(none.Token));
    }

    [Fact]
    public async Task A_repeated_non_confirmable_message_is_dropped_and_a_new_id_is_not()
    {
        var wire = new Wire();
        await using var channel = Channel(wire);
        var evt = ParticleMessages.Event(CoapMessageType.NonConfirmable, 9, "temp", "21"u8.ToArray(), 60);

        Assert.True(channel.Deliver(Encode(evt)));
        Assert.False(channel.Deliver(Encode(evt)));
        Assert.True(channel.Deliver(Encode(ParticleMessages.Event(CoapMessageType.NonConfirmable, 10, "temp", "22"u8.ToArray(), 60))));
        Assert.Equal(9, (await channel.ReceiveAsync()).Message!.MessageId);
        Assert.Equal(10, (await channel.ReceiveAsync()).Message!.MessageId);
        Assert.Empty(wire.Sent);
    }

    [Fact]
    public async Task A_late_second_acknowledgement_is_not_read_twice()
    {
        var wire = new Wire();
        await using var channel = Channel(wire, maxRetransmit: 50);
        var call = ParticleMessages.FunctionCall(channel.NextMessageId(), 5, "led", "on");
        var answer = Task.Run(() => channel.SendConfirmableAsync(call));
        await Until(() => channel.OutstandingCount == 1);
        var piggybacked = ParticleMessages.Acknowledge(call, CoapCode.Changed, new byte[] { 0, 0, 0, 1 });

        Assert.True(channel.Deliver(Encode(piggybacked)));
        Assert.False(channel.Deliver(Encode(piggybacked)));
        Assert.Equal(CoapCode.Changed, (await answer.WaitAsync(Patience)).Code);
        Assert.Equal(CoapCode.Changed, (await channel.ReceiveAsync()).Message!.Code);
        using var none = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await channel.ReceiveAsync(none.Token));
    }

    [Fact]
    public async Task Garbage_is_reported_and_the_channel_carries_on()
    {
        var wire = new Wire();
        await using var channel = Channel(wire);
        Assert.True(channel.Deliver(new byte[] { 0x4f, 0x01 }));
        Assert.True(channel.Deliver(Encode(ParticleMessages.Ping(3))));

        var bad = await channel.ReceiveAsync();
        Assert.Equal(CoapChannelError.MalformedCoap, bad.Error);
        Assert.Equal(ParticleMessageKind.Ping, ParticleMessageClassifier.Classify((await channel.ReceiveAsync()).Message!));
    }

    [Fact]
    public async Task A_message_larger_than_the_device_accepts_is_refused_before_sending()
    {
        var wire = new Wire();
        await using var channel = Channel(wire);
        var huge = ParticleMessages.Event(CoapMessageType.NonConfirmable, 1, "big", new byte[1200], 60);
        await Assert.ThrowsAsync<ArgumentException>(async () => await channel.SendAsync(huge));
        Assert.Empty(wire.Sent);
    }

    [Fact]
    public async Task Closing_lets_the_reader_drain_queued_messages_then_reports_the_end()
    {
        var wire = new Wire();
        var channel = Channel(wire);
        channel.Deliver(Encode(ParticleMessages.Ping(1)));
        channel.Close();

        Assert.NotNull((await channel.ReceiveAsync()).Message);
        Assert.Equal(CoapChannelError.EndOfStream, (await channel.ReceiveAsync()).Error);
        Assert.False(channel.Deliver(Encode(ParticleMessages.Ping(2))));
    }
}
