using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Bulwark.Protocol.Coap;

namespace Bulwark.Protocol.Messages;

/// <summary>The numbers Device OS fixes for OTA v3 (device-os <c>firmware_update.h</c>, <c>protocol_defs.h</c>).</summary>
public static class OtaV3
{
    /// <summary>Smallest chunk the device accepts (<c>MIN_OTA_CHUNK_SIZE</c>); every chunk size must also be a multiple of 4.</summary>
    public const int MinChunkSize = 512;

    /// <summary>The device's receive window in bytes (<c>OTA_RECEIVE_WINDOW_SIZE</c>); in chunks it is this over the chunk size.</summary>
    public const int ReceiveWindowBytes = 128 * 1024;

    /// <summary>The device acknowledges at the latest every this many in-order chunks (<c>OTA_CHUNK_ACK_COUNT</c>).</summary>
    public const int AckEveryChunks = 2;

    /// <summary>Length of the File-SHA-256 option value.</summary>
    public const int Sha256Length = 32;

    /// <summary>How long the device holds back an acknowledgement for a lone chunk (<c>OTA_CHUNK_ACK_DELAY</c>).</summary>
    public static readonly TimeSpan AckDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>The device cancels an update when no chunk or UpdateFinish arrives this long (<c>OTA_TRANSFER_TIMEOUT</c>).</summary>
    public static readonly TimeSpan TransferTimeout = TimeSpan.FromMinutes(5);

    internal static readonly ReadOnlyMemory<byte> PathStart = "S"u8.ToArray();
    internal static readonly ReadOnlyMemory<byte> PathChunk = "C"u8.ToArray();
    internal static readonly ReadOnlyMemory<byte> PathFinish = "F"u8.ToArray();
    internal static readonly ReadOnlyMemory<byte> PathAck = "A"u8.ToArray();

    /// <summary>The window in chunks a device announces for <paramref name="chunkSize"/>.</summary>
    public static int WindowChunks(int chunkSize) => ReceiveWindowBytes / chunkSize;

    /// <summary>True when the device takes this chunk size: at least 512, at most its maximum, a multiple of 4.</summary>
    public static bool IsValidChunkSize(uint chunkSize, uint maxChunkSize) =>
        chunkSize >= MinChunkSize && chunkSize <= maxChunkSize && chunkSize % 4 == 0;

    // Device OS reads an option carrying no value as present and any value at all as a protocol error.
    internal static bool TryReadFlag(CoapMessage message, CoapOptionNumber number, out bool present, ref string? problem)
    {
        present = message.TryGetOption(number, out CoapOption option);
        if (present && !option.Value.IsEmpty)
        {
            problem ??= $"{number} must be empty";
            return false;
        }

        return true;
    }
}

/// <summary>UpdateStart (S→D): CON POST /S with a token; File-Size and Chunk-Size required, File-SHA-256 makes the update
/// resumable, an empty Discard-Data drops what an earlier transfer left (device-os <c>decodeStartRequest</c>).</summary>
public sealed record UpdateStartRequest(uint FileSize, uint ChunkSize, ReadOnlyMemory<byte> FileSha256 = default, bool DiscardData = false)
{
    public CoapMessage ToMessage(ushort messageId, ReadOnlyMemory<byte> token)
    {
        var options = new List<CoapOption>(5)
        {
            new(CoapOptionNumber.UriPath, OtaV3.PathStart),
            CoapOption.FromUInt(CoapOptionNumber.OtaFileSize, FileSize),
            CoapOption.FromUInt(CoapOptionNumber.OtaChunkSize, ChunkSize),
        };
        if (!FileSha256.IsEmpty)
        {
            options.Add(new CoapOption(CoapOptionNumber.OtaFileSha256, FileSha256));
        }

        if (DiscardData)
        {
            options.Add(new CoapOption(CoapOptionNumber.OtaDiscardData, ReadOnlyMemory<byte>.Empty));
        }

        return new CoapMessage(CoapMessageType.Confirmable, CoapCode.Post, messageId, token, options);
    }

    /// <summary>Reads an UpdateStart as the device checks it; <paramref name="problem"/> says what it would refuse.</summary>
    public static bool TryParse(CoapMessage message, uint maxChunkSize, [NotNullWhen(true)] out UpdateStartRequest? request, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(message);
        request = null;
        problem = message.Type != CoapMessageType.Confirmable ? "Invalid message type"
            : message.Token.IsEmpty ? "Invalid token size"
            : null;
        if (!message.TryGetOption(CoapOptionNumber.OtaFileSize, out CoapOption sizeOption) || !sizeOption.TryGetUInt(out uint fileSize))
        {
            problem ??= "Invalid message options";
            return false;
        }

        if (fileSize == 0)
        {
            problem ??= "Invalid file size: 0";
        }

        ReadOnlyMemory<byte> hash = default;
        if (message.TryGetOption(CoapOptionNumber.OtaFileSha256, out CoapOption hashOption))
        {
            if (hashOption.Value.Length == OtaV3.Sha256Length)
            {
                hash = hashOption.Value;
            }
            else
            {
                problem ??= "Invalid option size";
            }
        }

        if (!message.TryGetOption(CoapOptionNumber.OtaChunkSize, out CoapOption chunkOption) || !chunkOption.TryGetUInt(out uint chunkSize))
        {
            problem ??= "Invalid message options";
            return false;
        }

        if (!OtaV3.IsValidChunkSize(chunkSize, maxChunkSize))
        {
            problem ??= $"Invalid chunk size: {chunkSize}";
        }

        OtaV3.TryReadFlag(message, CoapOptionNumber.OtaDiscardData, out bool discard, ref problem);
        if (problem is not null)
        {
            return false;
        }

        request = new UpdateStartRequest(fileSize, chunkSize, hash, discard);
        return true;
    }
}

/// <summary>The device's answer to UpdateStart: a separate 2.01 with the request's token and the request's type, carrying
/// Window-Size (chunks) and File-Size (the offset it already holds; 0 or absent for a fresh start) (device-os
/// <c>handleStartRequest</c>).</summary>
public sealed record UpdateStartResponse(uint WindowSize, uint FileOffset)
{
    public CoapMessage ToMessage(CoapMessageType type, ushort messageId, ReadOnlyMemory<byte> token) =>
        new(type, CoapCode.Created, messageId, token,
            [CoapOption.FromUInt(CoapOptionNumber.OtaWindowSize, WindowSize), CoapOption.FromUInt(CoapOptionNumber.OtaFileSize, FileOffset)]);

    /// <summary>Reads a 2.01 answer; false for anything else (an error answer, or no usable window).</summary>
    public static bool TryParse(CoapMessage message, [NotNullWhen(true)] out UpdateStartResponse? response)
    {
        ArgumentNullException.ThrowIfNull(message);
        response = null;
        if (message.Code != CoapCode.Created
            || !message.TryGetOption(CoapOptionNumber.OtaWindowSize, out CoapOption windowOption) || !windowOption.TryGetUInt(out uint window) || window == 0)
        {
            return false;
        }

        uint offset = 0;
        if (message.TryGetOption(CoapOptionNumber.OtaFileSize, out CoapOption offsetOption) && !offsetOption.TryGetUInt(out offset))
        {
            return false;
        }

        response = new UpdateStartResponse(window, offset);
        return true;
    }
}

/// <summary>UpdateChunk (S→D): NON POST /C, no token, Chunk-Index (1-based, counted from the offset UpdateStart's answer
/// gave), the data as payload. Every chunk but the last is exactly the chunk size (device-os <c>decodeChunkRequest</c>).</summary>
public sealed record UpdateChunkRequest(uint Index, ReadOnlyMemory<byte> Data)
{
    public CoapMessage ToMessage(ushort messageId) =>
        new(CoapMessageType.NonConfirmable, CoapCode.Post, messageId, options:
            [new(CoapOptionNumber.UriPath, OtaV3.PathChunk), CoapOption.FromUInt(CoapOptionNumber.OtaChunkIndex, Index)], payload: Data);

    public static bool TryParse(CoapMessage message, [NotNullWhen(true)] out UpdateChunkRequest? chunk, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(message);
        chunk = null;
        problem = message.Type != CoapMessageType.NonConfirmable ? "Invalid message type"
            : !message.Token.IsEmpty ? "Invalid token size"
            : message.Payload.IsEmpty ? "Invalid payload size"
            : null;
        if (!message.TryGetOption(CoapOptionNumber.OtaChunkIndex, out CoapOption indexOption) || !indexOption.TryGetUInt(out uint index))
        {
            problem ??= "Invalid message options";
            return false;
        }

        if (problem is not null)
        {
            return false;
        }

        chunk = new UpdateChunkRequest(index, message.Payload);
        return true;
    }
}

/// <summary>UpdateFinish (S→D): CON POST /F with a token. Plain, it asks the device to validate the file; the device
/// applies it once the cloud ACKs the 2.04 answer. Empty Cancel-Update abandons the update, with Discard-Data also
/// dropping the stored part (device-os <c>decodeFinishRequest</c>, <c>handleFinishRequest</c>, <c>responseAck</c>).</summary>
public sealed record UpdateFinishRequest(bool CancelUpdate = false, bool DiscardData = false)
{
    public CoapMessage ToMessage(ushort messageId, ReadOnlyMemory<byte> token)
    {
        var options = new List<CoapOption>(3) { new(CoapOptionNumber.UriPath, OtaV3.PathFinish) };
        if (CancelUpdate)
        {
            options.Add(new CoapOption(CoapOptionNumber.OtaCancelUpdate, ReadOnlyMemory<byte>.Empty));
        }

        if (DiscardData)
        {
            options.Add(new CoapOption(CoapOptionNumber.OtaDiscardData, ReadOnlyMemory<byte>.Empty));
        }

        return new CoapMessage(CoapMessageType.Confirmable, CoapCode.Post, messageId, token, options);
    }

    public static bool TryParse(CoapMessage message, [NotNullWhen(true)] out UpdateFinishRequest? request, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(message);
        request = null;
        problem = message.Type != CoapMessageType.Confirmable ? "Invalid message type"
            : message.Token.IsEmpty ? "Invalid token size"
            : null;
        OtaV3.TryReadFlag(message, CoapOptionNumber.OtaCancelUpdate, out bool cancel, ref problem);
        OtaV3.TryReadFlag(message, CoapOptionNumber.OtaDiscardData, out bool discard, ref problem);
        if (problem is not null)
        {
            return false;
        }

        request = new UpdateFinishRequest(cancel, discard);
        return true;
    }
}

/// <summary>UpdateAck (D→S): NON POST /A, no token. Chunk-Index is the count of chunks received without a gap; the payload
/// is a bitmap of little-endian 32-bit words where bit <c>b</c> (word by word, least significant first) stands for chunk
/// <c>index + 1 + b</c> received beyond the gap. No payload means no gap (device-os <c>initChunkAck</c>).</summary>
public sealed record UpdateAck(uint CumulativeIndex, ReadOnlyMemory<byte> Bitmap)
{
    /// <summary>An acknowledgement of everything up to <paramref name="cumulativeIndex"/> plus the given later chunks.</summary>
    public static UpdateAck Create(uint cumulativeIndex, IEnumerable<uint> receivedBeyond)
    {
        ArgumentNullException.ThrowIfNull(receivedBeyond);
        uint[] bits = receivedBeyond.Select(i => i > cumulativeIndex + 1 ? i - cumulativeIndex - 1 : throw new ArgumentOutOfRangeException(nameof(receivedBeyond), "Selective acknowledgements lie past a gap.")).ToArray();
        var bitmap = new byte[bits.Length == 0 ? 0 : (int)(bits.Max() / 32 + 1) * 4];
        foreach (uint bit in bits)
        {
            bitmap[bit / 8] |= (byte)(1 << (int)(bit % 8));
        }

        return new UpdateAck(cumulativeIndex, bitmap);
    }

    /// <summary>The chunks acknowledged past the gap, ascending.</summary>
    public IReadOnlyList<uint> SelectivelyAcknowledged
    {
        get
        {
            var indices = new List<uint>();
            ReadOnlySpan<byte> span = Bitmap.Span;
            for (int b = 0; b < span.Length * 8 && (ulong)CumulativeIndex + 1 + (ulong)b <= uint.MaxValue; b++)
            {
                // Little-endian words read byte by byte put bit b of the stream at byte b/8, bit b%8.
                if ((span[b / 8] & (1 << (b % 8))) != 0)
                {
                    indices.Add(CumulativeIndex + 1 + (uint)b);
                }
            }

            return indices;
        }
    }

    public CoapMessage ToMessage(ushort messageId) =>
        new(CoapMessageType.NonConfirmable, CoapCode.Post, messageId, options:
            [new(CoapOptionNumber.UriPath, OtaV3.PathAck), CoapOption.FromUInt(CoapOptionNumber.OtaChunkIndex, CumulativeIndex)], payload: Bitmap);

    /// <summary>Reads an UpdateAck; false without Chunk-Index or with a bitmap that is not whole words.</summary>
    public static bool TryParse(CoapMessage message, [NotNullWhen(true)] out UpdateAck? ack)
    {
        ArgumentNullException.ThrowIfNull(message);
        ack = null;
        if (!message.TryGetOption(CoapOptionNumber.OtaChunkIndex, out CoapOption indexOption) || !indexOption.TryGetUInt(out uint index)
            || message.Payload.Length % 4 != 0)
        {
            return false;
        }

        ack = new UpdateAck(index, message.Payload);
        return true;
    }
}

/// <summary>The JSON a device puts in an OTA v3 error answer, <c>{"code":-240,"message":"Invalid chunk size: 3"}</c>
/// (device-os <c>formatDiagnosticPayload</c>), and the CoAP code it picks for a system error (<c>coapCodeForSystemError</c>).</summary>
public sealed record OtaV3Diagnostic(int Code, string? Message)
{
    /// <summary>SYSTEM_ERROR_INVALID_STATE: a chunk or UpdateFinish with no update running.</summary>
    public const int InvalidState = -210;

    /// <summary>SYSTEM_ERROR_PROTOCOL: a malformed request, a bad chunk index or size, an incomplete file.</summary>
    public const int ProtocolError = -240;

    /// <summary>SYSTEM_ERROR_TOO_LARGE.</summary>
    public const int TooLarge = -190;

    /// <summary>SYSTEM_ERROR_OTA_INTEGRITY_CHECK_FAILED: the file's SHA-256 does not match File-SHA-256.</summary>
    public const int IntegrityCheckFailed = -1330;

    public byte[] ToPayload() => JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object?> { ["code"] = Code, ["message"] = Message });

    /// <summary>The CoAP code Device OS answers a system error with; most map to 5.00.</summary>
    public static CoapCode ToCoapCode(int error) => error switch
    {
        0 => CoapCode.Created,
        -270 or -280 or -290 or -190 or -191 or -1000 => CoapCode.BadRequest, // invalid argument, bad data, out of range, too large, not enough data, CoAP
        -110 or -140 or -150 or -210 => CoapCode.ServiceUnavailable, // busy, cancelled, aborted, invalid state
        -170 => CoapCode.NotFound,
        -130 => CoapCode.Forbidden,
        -160 => CoapCode.From(5, 4),
        -120 or -300 => CoapCode.NotImplemented,
        _ => CoapCode.InternalServerError,
    };

    /// <summary>Reads the diagnostic payload of an error answer; false when there is none.</summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out OtaV3Diagnostic? diagnostic)
    {
        diagnostic = null;
        try
        {
            var reader = new Utf8JsonReader(payload);
            using var json = JsonDocument.ParseValue(ref reader);
            if (json.RootElement.ValueKind != JsonValueKind.Object
                || !json.RootElement.TryGetProperty("code", out JsonElement code) || !code.TryGetInt32(out int value))
            {
                return false;
            }

            string? message = json.RootElement.TryGetProperty("message", out JsonElement text) && text.ValueKind == JsonValueKind.String ? text.GetString() : null;
            diagnostic = new OtaV3Diagnostic(value, message);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public override string ToString() => Message is null ? Code.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{Code} ({Message})";
}
