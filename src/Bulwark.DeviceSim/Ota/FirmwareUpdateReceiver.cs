using System.Text;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Ota;

/// <summary>What the device sends back for one OTA message, and whether an image is ready to apply.</summary>
public sealed record OtaStep(IReadOnlyList<CoapMessage> Replies, ReadOnlyMemory<byte>? CompletedImage = null)
{
    public static readonly OtaStep Nothing = new([]);
}

/// <summary>
/// The device side of legacy OTA v1 over TCP (device-protocol.md 1.6 and 7.4-7.6; device-os <c>chunked_transfer.cpp</c>):
/// UpdateBegin, Chunk (normal and fast), UpdateDone with ChunkMissed. Receives the module into memory.
/// </summary>
/// <remarks>
/// Pure protocol state: it builds the replies and hands back the finished image; the caller sends, validates and applies.
/// Not thread-safe; the device's receive loop is its only caller.
/// </remarks>
public sealed class FirmwareUpdateReceiver
{
    /// <summary>UpdateDone result when no update is running (live).</summary>
    public const int NoUpdateResult = -210;

    /// <summary>ChunkMissed carries at most this many indices.</summary>
    public const int MaxMissedIndices = 40;

    // UpdateBegin's payload is honoured only when the whole message is at least this long and byte 7 (the payload
    // marker after a 1-byte token and the one-byte "u" option) is 0xFF.
    private const int MinimumUpdateBeginLength = 20;

    private readonly uint _maxBinarySize;
    private readonly ushort _defaultChunkSize;
    private byte[]? _image;
    private bool[]? _received;
    private int _chunkSize;
    private int _nextChunk;
    private bool _fast;

    public FirmwareUpdateReceiver(uint maxBinarySize, ushort defaultChunkSize)
    {
        ArgumentOutOfRangeException.ThrowIfZero(defaultChunkSize);
        _maxBinarySize = maxBinarySize;
        _defaultChunkSize = defaultChunkSize;
    }

    /// <summary>True between an accepted UpdateBegin and a successful UpdateDone; the device sends no pings meanwhile.</summary>
    public bool InProgress => _image is not null;

    /// <summary>True when the running update uses fast OTA (indexed chunks, no per-chunk replies).</summary>
    public bool IsFast => _fast;

    /// <summary>Chunks written so far.</summary>
    public int ReceivedChunkCount => _received?.Count(r => r) ?? 0;

    /// <summary>CON POST /u: start receiving.</summary>
    public OtaStep OnUpdateBegin(CoapMessage request, Func<ushort> nextMessageId)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(nextMessageId);
        UpdateBeginParameters parameters = ReadParameters(request);
        if (parameters.Store != 0 || parameters.FileSize == 0 || parameters.FileSize > _maxBinarySize)
        {
            Abort();
            return new OtaStep([ParticleMessages.Acknowledge(request, CoapCode.ServiceUnavailable)]);
        }

        _chunkSize = parameters.ChunkSize == 0 ? _defaultChunkSize : parameters.ChunkSize;
        _image = new byte[parameters.FileSize];
        _received = new bool[(int)((parameters.FileSize + (uint)_chunkSize - 1) / (uint)_chunkSize)];
        _nextChunk = 0;
        _fast = parameters.FastOta;

        byte replyFlags = (byte)(parameters.Flags & 0x01);
        return new OtaStep(
        [
            ParticleMessages.EmptyAck(request.MessageId),
            ParticleMessages.SeparateResponse(CoapMessageType.NonConfirmable, nextMessageId(), request.Token, CoapCode.Changed, new[] { replyFlags }),
        ]);
    }

    /// <summary>CON POST /c: one chunk. Fast chunks (those with an index option) get no ACK and no ChunkReceived.</summary>
    public OtaStep OnChunk(CoapMessage request, Func<ushort> nextMessageId)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(nextMessageId);
        if (_image is null || _received is null)
        {
            return new OtaStep([ParticleMessages.EmptyAck(request.MessageId)]);
        }

        bool parsed = ChunkMessage.TryParse(request, out ChunkMessage? chunk);
        if (parsed && chunk!.ChunkIndex is { } index)
        {
            // Any second option switches fast OTA on, even mid-update (device-protocol.md 7.4).
            _fast = true;
            if (chunk.IsCrcValid && index < _received.Length && TryWrite(index, chunk.Data.Span))
            {
                _received[index] = true;
            }

            return OtaStep.Nothing;
        }

        bool ok = parsed && chunk!.IsCrcValid && _nextChunk < _received.Length && TryWrite(_nextChunk, chunk.Data.Span);
        if (ok)
        {
            _received[_nextChunk++] = true;
        }

        return new OtaStep(
        [
            ParticleMessages.EmptyAck(request.MessageId),
            ParticleMessages.SeparateResponse(CoapMessageType.NonConfirmable, nextMessageId(), request.Token, ok ? CoapCode.Changed : CoapCode.BadRequest),
        ]);
    }

    /// <summary>CON PUT /u: report missing chunks (fast OTA) or hand back the finished image with its ACK left to <see cref="Complete"/>.</summary>
    public OtaStep OnUpdateDone(CoapMessage request, Func<ushort> nextMessageId)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(nextMessageId);
        if (_image is null || _received is null)
        {
            return new OtaStep([ResultAck(request, NoUpdateResult)]);
        }

        if (_fast)
        {
            ushort[] missing = Enumerable.Range(0, _received.Length).Where(i => !_received[i]).Take(MaxMissedIndices).Select(i => (ushort)i).ToArray();
            if (missing.Length > 0)
            {
                return new OtaStep(
                [
                    ParticleMessages.Acknowledge(request, CoapCode.BadRequest),
                    ParticleMessages.ChunkMissed(CoapMessageType.NonConfirmable, nextMessageId(), missing),
                ]);
            }
        }

        // Normal OTA never notices missing chunks: whatever arrived is the image (device-protocol.md 7.5).
        return new OtaStep([], _image);
    }

    /// <summary>The ACK for UpdateDone once the image was applied (0) or refused (a Device OS error code); ends the update.</summary>
    public CoapMessage Complete(CoapMessage updateDone, int result)
    {
        ArgumentNullException.ThrowIfNull(updateDone);
        Abort();
        return ResultAck(updateDone, result);
    }

    /// <summary>Forgets any update in progress (connection lost).</summary>
    public void Abort()
    {
        _image = null;
        _received = null;
        _nextChunk = 0;
        _fast = false;
    }

    private bool TryWrite(int index, ReadOnlySpan<byte> data)
    {
        long offset = (long)index * _chunkSize;
        if (data.Length > _chunkSize || offset + data.Length > _image!.Length)
        {
            return false;
        }

        data.CopyTo(_image.AsSpan((int)offset));
        return true;
    }

    private UpdateBeginParameters ReadParameters(CoapMessage request)
    {
        bool shapeOk = request.Token.Length == 1
            && request.Options.Count == 1
            && request.Options[0].Number == CoapOptionNumber.UriPath
            && request.Options[0].Value.Length == 1
            && request.GetEncodedLength() >= MinimumUpdateBeginLength;
        if (shapeOk && UpdateBeginParameters.TryParse(request.Payload.Span, out UpdateBeginParameters? parameters))
        {
            return parameters;
        }

        // Device OS ignores a misshapen payload and falls back to its defaults.
        return new UpdateBeginParameters(0, _defaultChunkSize, _maxBinarySize, 0, 0);
    }

    private static CoapMessage ResultAck(CoapMessage request, int result) =>
        ParticleMessages.Acknowledge(request, CoapCode.Changed, Encoding.ASCII.GetBytes($"{{\"r\":{result}}}"));
}
