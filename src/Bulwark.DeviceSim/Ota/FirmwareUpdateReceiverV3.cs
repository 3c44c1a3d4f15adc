using System.Security.Cryptography;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Ota;

/// <summary>
/// The device side of OTA v3 as Device OS runs it on Gen3 (device-os <c>firmware_update.cpp</c>; the rules are listed in
/// src/Bulwark.Server/Gateway/Ota/README.md): UpdateStart, windowed UpdateChunks acknowledged by UpdateAck with a
/// selective bitmap, UpdateFinish that validates (here: the whole file's SHA-256, then the caller's module checks) and an
/// apply that waits for the cloud's ACK of the 2.04 answer.
/// </summary>
/// <remarks>
/// Pure protocol state like <see cref="FirmwareUpdateReceiver"/>: it builds replies and hands back the finished image; the
/// caller sends, validates and applies. Not thread-safe: the caller serialises the receive loop and the delayed-ack timer.
/// </remarks>
public sealed class FirmwareUpdateReceiverV3
{
    private readonly uint _maxBinarySize;
    private readonly uint _maxChunkSize;
    private readonly TimeProvider _time;
    private byte[]? _image;
    private bool[]? _received;
    private byte[]? _expectedHash;
    private int _chunkSize;
    private uint _chunkCount;
    private uint _window;
    private uint _cumulative;
    private int _unacknowledged;
    private bool _hadGaps;
    private long _lastChunkAt;
    private ushort? _finishResponseId;

    public FirmwareUpdateReceiverV3(uint maxBinarySize, uint maxChunkSize, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _maxBinarySize = maxBinarySize;
        _maxChunkSize = maxChunkSize;
        _time = time;
    }

    /// <summary>True from an accepted UpdateStart until the update is applied or cancelled; the device sends no pings meanwhile.</summary>
    public bool InProgress => _image is not null;

    /// <summary>Chunks held so far, in order or not.</summary>
    public int ReceivedChunkCount => _received?.Count(r => r) ?? 0;

    /// <summary>True while chunks wait for a held-back acknowledgement (see <see cref="TakeDueAck"/>).</summary>
    public bool OwesAck => InProgress && _unacknowledged > 0;

    /// <summary>CON POST /S: (re)start an update. Answers an empty ACK, then a separate 2.01 with Window-Size and File-Size 0.</summary>
    public OtaStep OnUpdateStart(CoapMessage request, Func<ushort> nextMessageId)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(nextMessageId);
        bool valid = UpdateStartRequest.TryParse(request, _maxChunkSize, out UpdateStartRequest? start, out string? problem);
        if (Prologue(request, nextMessageId, valid, problem, out List<CoapMessage> replies) is { } early)
        {
            return early;
        }

        // A new UpdateStart cancels whatever update was running.
        Abort();

        if (start!.FileSize > _maxBinarySize)
        {
            replies.Add(ErrorAnswer(request, nextMessageId, OtaV3Diagnostic.TooLarge, $"File size {start.FileSize} exceeds {_maxBinarySize}"));
            return new OtaStep(replies);
        }

        // This device keeps nothing between updates, so every start begins at offset 0 (what a fresh device answers).
        _image = new byte[start.FileSize];
        _chunkSize = (int)start.ChunkSize;
        _chunkCount = (uint)((start.FileSize + start.ChunkSize - 1) / start.ChunkSize);
        _received = new bool[_chunkCount + 1];
        _window = (uint)OtaV3.WindowChunks(_chunkSize);
        _expectedHash = start.FileSha256.IsEmpty ? null : start.FileSha256.ToArray();
        // The first chunk's acknowledgement is held back like any other.
        _lastChunkAt = _time.GetTimestamp();
        replies.Add(new UpdateStartResponse(_window, 0).ToMessage(request.Type, nextMessageId(), request.Token));
        return new OtaStep(replies);
    }

    /// <summary>NON POST /C: store one chunk and acknowledge when Device OS would (every second chunk, at once on a gap, a
    /// duplicate or the last chunk; otherwise after <see cref="OtaV3.AckDelay"/> via <see cref="TakeDueAck"/>).</summary>
    public OtaStep OnUpdateChunk(CoapMessage request, Func<ushort> nextMessageId)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(nextMessageId);
        bool valid = UpdateChunkRequest.TryParse(request, out UpdateChunkRequest? chunk, out string? problem);
        if (Prologue(request, nextMessageId, valid, problem, out List<CoapMessage> replies) is { } early)
        {
            return early;
        }

        if (_image is null || _received is null)
        {
            return Fail(request, nextMessageId, replies, OtaV3Diagnostic.InvalidState, "No update is in progress");
        }

        uint index = chunk!.Index;
        int size = chunk.Data.Length;
        if (index == 0 || index > _chunkCount)
        {
            return Fail(request, nextMessageId, replies, OtaV3Diagnostic.ProtocolError, $"Invalid chunk index: {index}");
        }

        if ((index < _chunkCount && size != _chunkSize) || (index == _chunkCount && (long)(index - 1) * _chunkSize + size > _image.Length))
        {
            return Fail(request, nextMessageId, replies, OtaV3Diagnostic.ProtocolError, $"Invalid chunk size: {size}");
        }

        bool duplicate = index <= _cumulative || (index <= _cumulative + _window && _received[index]);
        if (!duplicate && index <= _cumulative + _window)
        {
            _received[index] = true;
            chunk.Data.Span.CopyTo(_image.AsSpan((int)(index - 1) * _chunkSize));
            while (_cumulative < _chunkCount && _received[_cumulative + 1])
            {
                _cumulative++;
            }
        }

        // Chunks past the window are dropped unseen; like Device OS, only a duplicate or a gap forces an answer for them.
        bool hasGaps = HeldBeyondGap().Any();
        _unacknowledged++;
        bool ackNow = duplicate || hasGaps || hasGaps != _hadGaps || _cumulative == _chunkCount
            || _unacknowledged >= OtaV3.AckEveryChunks || _time.GetElapsedTime(_lastChunkAt) >= OtaV3.AckDelay;
        _hadGaps = hasGaps;
        _lastChunkAt = _time.GetTimestamp();
        if (ackNow)
        {
            replies.Add(BuildAck(nextMessageId));
        }

        return new OtaStep(replies);
    }

    /// <summary>The held-back UpdateAck once <see cref="OtaV3.AckDelay"/> has passed since the last chunk; else null.</summary>
    public CoapMessage? TakeDueAck(Func<ushort> nextMessageId)
    {
        ArgumentNullException.ThrowIfNull(nextMessageId);
        return InProgress && _unacknowledged > 0 && _time.GetElapsedTime(_lastChunkAt) >= OtaV3.AckDelay ? BuildAck(nextMessageId) : null;
    }

    /// <summary>CON POST /F: cancel, or check the transfer is whole and its SHA-256 right and hand the image back for the
    /// caller's module checks, which end in <see cref="AcceptFinish"/> or <see cref="RefuseFinish"/>.</summary>
    public OtaStep OnUpdateFinish(CoapMessage request, Func<ushort> nextMessageId)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(nextMessageId);
        bool valid = UpdateFinishRequest.TryParse(request, out UpdateFinishRequest? finish, out string? problem);
        if (Prologue(request, nextMessageId, valid, problem, out List<CoapMessage> replies) is { } early)
        {
            return early;
        }

        if (_image is null)
        {
            replies.Add(ErrorAnswer(request, nextMessageId, OtaV3Diagnostic.InvalidState, "No update is in progress"));
            return new OtaStep(replies);
        }

        if (finish!.CancelUpdate)
        {
            Abort();
            replies.Add(ParticleMessages.SeparateResponse(request.Type, nextMessageId(), request.Token, CoapCode.Changed));
            return new OtaStep(replies);
        }

        if (_cumulative != _chunkCount)
        {
            return Fail(request, nextMessageId, replies, OtaV3Diagnostic.ProtocolError, "Incomplete file transfer");
        }

        if (_expectedHash is not null && !SHA256.HashData(_image).AsSpan().SequenceEqual(_expectedHash))
        {
            return Fail(request, nextMessageId, replies, OtaV3Diagnostic.IntegrityCheckFailed, "File SHA-256 mismatch");
        }

        return new OtaStep(replies, _image);
    }

    /// <summary>The 2.04 answer to a validated UpdateFinish; the image is applied when the cloud ACKs it (<see cref="OnEmptyAck"/>).</summary>
    public CoapMessage AcceptFinish(CoapMessage finish, ushort messageId)
    {
        ArgumentNullException.ThrowIfNull(finish);
        _finishResponseId = messageId;
        return ParticleMessages.SeparateResponse(finish.Type, messageId, finish.Token, CoapCode.Changed);
    }

    /// <summary>The error answer to an UpdateFinish whose image failed validation; ends the update.</summary>
    public CoapMessage RefuseFinish(CoapMessage finish, ushort messageId, int error, string message)
    {
        ArgumentNullException.ThrowIfNull(finish);
        Abort();
        return new CoapMessage(finish.Type, OtaV3Diagnostic.ToCoapCode(error), messageId, finish.Token, payload: new OtaV3Diagnostic(error, message).ToPayload());
    }

    /// <summary>An empty ACK arrived: true when it acknowledges the accepted UpdateFinish answer, i.e. apply now. Ends the update.</summary>
    public bool OnEmptyAck(CoapMessage ack)
    {
        ArgumentNullException.ThrowIfNull(ack);
        if (_image is null || _finishResponseId != ack.MessageId || ack.Type != CoapMessageType.Acknowledgement)
        {
            return false;
        }

        Abort();
        return true;
    }

    /// <summary>Forgets any update in progress (connection lost, new UpdateStart, error).</summary>
    public void Abort()
    {
        _image = null;
        _received = null;
        _expectedHash = null;
        _chunkSize = 0;
        _chunkCount = 0;
        _window = 0;
        _cumulative = 0;
        _unacknowledged = 0;
        _hadGaps = false;
        _finishResponseId = null;
    }

    // Device OS's handleRequest around every handler: the shape check of a CON request, its empty ACK, then a protocol
    // error (ending any update) for a malformed request the shape check let through (a NON one). Null: go on.
    private OtaStep? Prologue(CoapMessage request, Func<ushort> nextMessageId, bool valid, string? problem, out List<CoapMessage> replies)
    {
        replies = new List<CoapMessage>(2);
        if (TryRefuseBeforeHandling(request, valid, problem, out OtaStep? refused))
        {
            return refused;
        }

        AckIfConfirmable(request, replies);
        return valid ? null : Fail(request, nextMessageId, replies, OtaV3Diagnostic.ProtocolError, problem!);
    }

    // Device OS first checks a CON request's shape alone: a bad one gets its error piggybacked on the ACK and nothing else
    // happens (not even a cancel). Every CON request must carry a token.
    private static bool TryRefuseBeforeHandling(CoapMessage request, bool valid, string? problem, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out OtaStep? refused)
    {
        refused = null;
        if (request.Type != CoapMessageType.Confirmable || (valid && !request.Token.IsEmpty))
        {
            return false;
        }

        string reason = request.Token.IsEmpty ? "Message token is missing" : problem!;
        refused = new OtaStep([new CoapMessage(CoapMessageType.Acknowledgement, OtaV3Diagnostic.ToCoapCode(OtaV3Diagnostic.ProtocolError), request.MessageId,
            request.Token, payload: new OtaV3Diagnostic(OtaV3Diagnostic.ProtocolError, reason).ToPayload())]);
        return true;
    }

    private static void AckIfConfirmable(CoapMessage request, List<CoapMessage> replies)
    {
        if (request.Type == CoapMessageType.Confirmable)
        {
            replies.Add(ParticleMessages.EmptyAck(request.MessageId));
        }
    }

    // A handler error ends the update; it is answered with a separate response when the request had a token, else an RST.
    private OtaStep Fail(CoapMessage request, Func<ushort> nextMessageId, List<CoapMessage> replies, int error, string message)
    {
        Abort();
        replies.Add(ErrorAnswer(request, nextMessageId, error, message));
        return new OtaStep(replies);
    }

    private static CoapMessage ErrorAnswer(CoapMessage request, Func<ushort> nextMessageId, int error, string message) =>
        request.Token.IsEmpty
            ? ParticleMessages.Reset(request.MessageId)
            : new CoapMessage(request.Type, OtaV3Diagnostic.ToCoapCode(error), nextMessageId(), request.Token, payload: new OtaV3Diagnostic(error, message).ToPayload());

    private IEnumerable<uint> HeldBeyondGap()
    {
        uint last = Math.Min(_chunkCount, _cumulative + _window);
        for (uint i = _cumulative + 2; i <= last; i++)
        {
            if (_received![i])
            {
                yield return i;
            }
        }
    }

    private CoapMessage BuildAck(Func<ushort> nextMessageId)
    {
        _unacknowledged = 0;
        return UpdateAck.Create(_cumulative, HeldBeyondGap()).ToMessage(nextMessageId());
    }
}
