using System.Security.Cryptography;
using Bulwark.DeviceSim.Ota;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Tests;

/// <summary>The v3 receiver against the behaviour device-os's own unit tests (test/unit_tests/communication/firmware_update.cpp) pin down.</summary>
public sealed class FirmwareUpdateReceiverV3Tests
{
    private const int ChunkSize = 512;
    private readonly ManualClock _clock = new();
    private readonly FirmwareUpdateReceiverV3 _receiver;
    private ushort _ids = 100;

    public FirmwareUpdateReceiverV3Tests()
    {
        _receiver = new FirmwareUpdateReceiverV3(10 * 1024 * 1024, 1024, _clock);
    }

    [Fact]
    public void Start_is_answered_with_an_empty_ack_then_a_confirmable_2_01_carrying_the_window()
    {
        CoapMessage start = new UpdateStartRequest(1000, ChunkSize).ToMessage(7, new byte[] { 0x61 });
        OtaStep step = _receiver.OnUpdateStart(start, NextId);

        Assert.Equal(2, step.Replies.Count);
        Assert.Equal((CoapMessageType.Acknowledgement, CoapCode.Empty, (ushort)7), (step.Replies[0].Type, step.Replies[0].Code, step.Replies[0].MessageId));
        CoapMessage answer = step.Replies[1];
        Assert.Equal((CoapMessageType.Confirmable, CoapCode.Created), (answer.Type, answer.Code));
        Assert.Equal(start.Token.ToArray(), answer.Token.ToArray());
        Assert.True(UpdateStartResponse.TryParse(answer, out UpdateStartResponse? response));
        Assert.Equal(new UpdateStartResponse(128 * 1024 / ChunkSize, 0), response);
        Assert.True(answer.Payload.IsEmpty);
        Assert.True(_receiver.InProgress);
    }

    [Fact]
    public void A_malformed_start_gets_its_error_piggybacked_and_starts_nothing()
    {
        CoapMessage start = new UpdateStartRequest(1000, 510).ToMessage(7, new byte[] { 0x61 });
        OtaStep step = _receiver.OnUpdateStart(start, NextId);

        CoapMessage reply = Assert.Single(step.Replies);
        Assert.Equal((CoapMessageType.Acknowledgement, CoapCode.InternalServerError), (reply.Type, reply.Code));
        Assert.True(OtaV3Diagnostic.TryParse(reply.Payload.Span, out OtaV3Diagnostic? diagnostic));
        Assert.Equal(new OtaV3Diagnostic(OtaV3Diagnostic.ProtocolError, "Invalid chunk size: 510"), diagnostic);
        Assert.False(_receiver.InProgress);
    }

    [Fact]
    public void Every_second_in_order_chunk_is_acknowledged_and_a_lone_one_after_the_delay()
    {
        Start(2560);
        Assert.Empty(Chunk(1).Replies);
        Assert.Equal((2u, 0), ReadAck(Assert.Single(Chunk(2).Replies)));
        Assert.Empty(Chunk(3).Replies);
        Assert.Null(_receiver.TakeDueAck(NextId));
        _clock.Advance(OtaV3.AckDelay);
        CoapMessage? due = _receiver.TakeDueAck(NextId);
        Assert.NotNull(due);
        Assert.Equal((3u, 0), ReadAck(due));
        Assert.False(_receiver.OwesAck);
    }

    [Fact]
    public void A_gap_is_reported_selectively_on_every_chunk_until_it_is_filled()
    {
        Start(4096);
        UpdateAck ack = ParseAck(Assert.Single(Chunk(2).Replies));
        Assert.Equal(0u, ack.CumulativeIndex);
        Assert.Equal([2u], ack.SelectivelyAcknowledged);
        ack = ParseAck(Assert.Single(Chunk(3).Replies));
        Assert.Equal([2u, 3u], ack.SelectivelyAcknowledged);
        ack = ParseAck(Assert.Single(Chunk(1).Replies));
        Assert.Equal(3u, ack.CumulativeIndex);
        Assert.True(ack.Bitmap.IsEmpty);
        // Back to every second chunk once the gap is closed.
        Assert.Empty(Chunk(4).Replies);
    }

    [Fact]
    public void A_duplicate_is_always_acknowledged_and_the_last_chunk_too()
    {
        Start(1536);
        Assert.Empty(Chunk(1).Replies);
        Assert.Equal((1u, 0), ReadAck(Assert.Single(Chunk(1).Replies)));
        Assert.Empty(Chunk(2).Replies);
        Assert.Equal((3u, 0), ReadAck(Assert.Single(Chunk(3).Replies)));
    }

    [Fact]
    public void A_bad_chunk_index_or_size_is_answered_with_a_reset_and_ends_the_update()
    {
        Start(1024);
        CoapMessage tooFar = new UpdateChunkRequest(3, new byte[ChunkSize]).ToMessage(40);
        Assert.Equal((CoapMessageType.Reset, (ushort)40), Single(_receiver.OnUpdateChunk(tooFar, NextId)));
        Assert.False(_receiver.InProgress);

        Start(1024);
        CoapMessage shortChunk = new UpdateChunkRequest(1, new byte[ChunkSize - 1]).ToMessage(41);
        Assert.Equal((CoapMessageType.Reset, (ushort)41), Single(_receiver.OnUpdateChunk(shortChunk, NextId)));
        Assert.False(_receiver.InProgress);

        // No update at all: also a reset.
        Assert.Equal((CoapMessageType.Reset, (ushort)42), Single(_receiver.OnUpdateChunk(new UpdateChunkRequest(1, new byte[ChunkSize]).ToMessage(42), NextId)));
    }

    [Fact]
    public void Finish_before_every_chunk_arrived_is_refused_with_a_separate_error()
    {
        Start(1024);
        Chunk(1);
        CoapMessage finish = new UpdateFinishRequest().ToMessage(50, new byte[] { 0x62 });
        OtaStep step = _receiver.OnUpdateFinish(finish, NextId);

        Assert.Null(step.CompletedImage);
        Assert.Equal(CoapCode.Empty, step.Replies[0].Code);
        CoapMessage error = step.Replies[1];
        Assert.Equal((CoapMessageType.Confirmable, CoapCode.InternalServerError), (error.Type, error.Code));
        Assert.True(OtaV3Diagnostic.TryParse(error.Payload.Span, out OtaV3Diagnostic? diagnostic));
        Assert.Equal("Incomplete file transfer", diagnostic.Message);
        Assert.False(_receiver.InProgress);
    }

    [Fact]
    public void Finish_checks_the_whole_file_sha256()
    {
        byte[] file = RandomNumberGenerator.GetBytes(700);
        byte[] wrongHash = SHA256.HashData(file.AsSpan(1));
        _receiver.OnUpdateStart(new UpdateStartRequest((uint)file.Length, ChunkSize, wrongHash).ToMessage(1, new byte[] { 1 }), NextId);
        _receiver.OnUpdateChunk(new UpdateChunkRequest(1, file.AsMemory(0, ChunkSize)).ToMessage(2), NextId);
        _receiver.OnUpdateChunk(new UpdateChunkRequest(2, file.AsMemory(ChunkSize)).ToMessage(3), NextId);
        OtaStep step = _receiver.OnUpdateFinish(new UpdateFinishRequest().ToMessage(4, new byte[] { 2 }), NextId);

        Assert.Null(step.CompletedImage);
        Assert.True(OtaV3Diagnostic.TryParse(step.Replies[1].Payload.Span, out OtaV3Diagnostic? diagnostic));
        Assert.Equal(OtaV3Diagnostic.IntegrityCheckFailed, diagnostic.Code);
    }

    [Fact]
    public void A_validated_finish_applies_only_when_the_cloud_acks_the_2_04()
    {
        byte[] file = RandomNumberGenerator.GetBytes(700);
        _receiver.OnUpdateStart(new UpdateStartRequest((uint)file.Length, ChunkSize, SHA256.HashData(file)).ToMessage(1, new byte[] { 1 }), NextId);
        _receiver.OnUpdateChunk(new UpdateChunkRequest(2, file.AsMemory(ChunkSize)).ToMessage(2), NextId);
        _receiver.OnUpdateChunk(new UpdateChunkRequest(1, file.AsMemory(0, ChunkSize)).ToMessage(3), NextId);
        CoapMessage finish = new UpdateFinishRequest().ToMessage(4, new byte[] { 2 });
        OtaStep step = _receiver.OnUpdateFinish(finish, NextId);

        Assert.Equal(file, step.CompletedImage!.Value.ToArray());
        CoapMessage accepted = _receiver.AcceptFinish(finish, 77);
        Assert.Equal((CoapMessageType.Confirmable, CoapCode.Changed, (ushort)77), (accepted.Type, accepted.Code, accepted.MessageId));
        Assert.False(_receiver.OnEmptyAck(ParticleMessages.EmptyAck(76)));
        Assert.True(_receiver.InProgress);
        Assert.True(_receiver.OnEmptyAck(ParticleMessages.EmptyAck(77)));
        Assert.False(_receiver.InProgress);
    }

    [Fact]
    public void Cancel_ends_the_update_with_a_2_04()
    {
        Start(1024);
        OtaStep step = _receiver.OnUpdateFinish(new UpdateFinishRequest(CancelUpdate: true).ToMessage(5, new byte[] { 3 }), NextId);
        Assert.Equal(CoapCode.Changed, step.Replies[1].Code);
        Assert.False(_receiver.InProgress);
        // Nothing running now: UpdateFinish is answered 5.03 (invalid state).
        step = _receiver.OnUpdateFinish(new UpdateFinishRequest().ToMessage(6, new byte[] { 4 }), NextId);
        Assert.Equal(CoapCode.ServiceUnavailable, step.Replies[1].Code);
    }

    private ushort NextId() => _ids++;

    private void Start(int fileSize) =>
        Assert.Equal(CoapCode.Created, _receiver.OnUpdateStart(new UpdateStartRequest((uint)fileSize, ChunkSize).ToMessage(NextId(), new byte[] { 9 }), NextId).Replies[1].Code);

    private OtaStep Chunk(uint index) => _receiver.OnUpdateChunk(new UpdateChunkRequest(index, new byte[ChunkSize]).ToMessage(NextId()), NextId);

    private static (CoapMessageType, ushort) Single(OtaStep step)
    {
        CoapMessage reply = Assert.Single(step.Replies);
        return (reply.Type, reply.MessageId);
    }

    private static UpdateAck ParseAck(CoapMessage message)
    {
        Assert.Equal((CoapMessageType.NonConfirmable, ParticleMessageKind.UpdateAckV3), (message.Type, ParticleMessageClassifier.Classify(message)));
        Assert.True(message.Token.IsEmpty);
        Assert.True(UpdateAck.TryParse(message, out UpdateAck? ack));
        return ack;
    }

    private static (uint Cumulative, int Selective) ReadAck(CoapMessage message)
    {
        UpdateAck ack = ParseAck(message);
        return (ack.CumulativeIndex, ack.SelectivelyAcknowledged.Count);
    }

    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
