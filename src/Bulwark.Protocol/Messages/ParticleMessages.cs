using System.Buffers.Binary;
using System.Text;
using Bulwark.Protocol.Coap;

namespace Bulwark.Protocol.Messages;

/// <summary>Builds the Particle CoAP message set (device-protocol.md 1.5-1.6 and 7) byte-compatible with Device OS.</summary>
/// <remarks>
/// The device classifies messages by position (code, then the byte at 5 + token length), so every builder puts
/// Uri-Path first with a one-byte option header and uses the exact token lengths Device OS expects.
/// </remarks>
public static class ParticleMessages
{
    private static readonly ReadOnlyMemory<byte> PathHello = "h"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> PathDescribe = "d"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> PathFunction = "f"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> PathVariable = "v"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> PathTime = "t"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> PathSignal = "s"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> PathKeyChange = "k"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> PathGoodbye = "x"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> PathUpdate = "u"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> PathChunk = "c"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> PathPrivateEvent = "E"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> PathPublicEvent = "e"u8.ToArray();

    // ---- Both directions ----

    /// <summary>An empty CON ping (<c>40 00 id id</c>); the peer must answer with an empty ACK.</summary>
    public static CoapMessage Ping(ushort messageId) => new(CoapMessageType.Confirmable, CoapCode.Empty, messageId);

    /// <summary>An empty ACK for a CON message (answers pings and acknowledges requests with no data).</summary>
    public static CoapMessage EmptyAck(ushort messageId) => new(CoapMessageType.Acknowledgement, CoapCode.Empty, messageId);

    /// <summary>An RST for a message that cannot be processed.</summary>
    public static CoapMessage Reset(ushort messageId) => new(CoapMessageType.Reset, CoapCode.Empty, messageId);

    /// <summary>A piggybacked ACK response to <paramref name="request"/> (same message ID and token).</summary>
    public static CoapMessage Acknowledge(CoapMessage request, CoapCode code, ReadOnlyMemory<byte> payload = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new CoapMessage(CoapMessageType.Acknowledgement, code, request.MessageId, request.Token, payload: payload);
    }

    /// <summary>A separate response carrying a request's token (function results, variable values, UpdateReady).</summary>
    public static CoapMessage SeparateResponse(CoapMessageType type, ushort messageId, ReadOnlyMemory<byte> token, CoapCode code, ReadOnlyMemory<byte> payload = default) =>
        new(type, code, messageId, token, payload: payload);

    /// <summary>An event: POST /E/name (or /e/name when <paramref name="legacyPublic"/>), name in one Uri-Path value as Device OS sends it.</summary>
    public static CoapMessage Event(
        CoapMessageType type,
        ushort messageId,
        string name,
        ReadOnlyMemory<byte> data,
        int ttlSeconds = EventMessage.DefaultTtlSeconds,
        ushort? contentFormat = null,
        bool legacyPublic = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var options = new List<CoapOption>(4)
        {
            new(CoapOptionNumber.UriPath, legacyPublic ? PathPublicEvent : PathPrivateEvent),
            CoapOption.FromString(CoapOptionNumber.UriPath, name),
        };
        if (contentFormat is { } format)
        {
            options.Add(CoapOption.FromUInt(CoapOptionNumber.ContentFormat, format));
        }

        if (ttlSeconds != EventMessage.DefaultTtlSeconds)
        {
            options.Add(CoapOption.FromUInt(CoapOptionNumber.MaxAge, (uint)ttlSeconds));
        }

        return new CoapMessage(type, CoapCode.Post, messageId, options: options, payload: data);
    }

    // ---- Server to device ----

    /// <summary>The server Hello a TCP device requires within 4 s of its own: NON POST /h, empty payload.</summary>
    public static CoapMessage ServerHello(ushort messageId) =>
        new(CoapMessageType.NonConfirmable, CoapCode.Post, messageId, options: [new(CoapOptionNumber.UriPath, PathHello)]);

    /// <summary>CON GET /d?flags with a 1-byte token; send exactly one Describe type per request.</summary>
    public static CoapMessage DescribeRequest(ushort messageId, byte token, DescribeFlags flags) =>
        new(CoapMessageType.Confirmable, CoapCode.Get, messageId, new[] { token },
            [new(CoapOptionNumber.UriPath, PathDescribe), new(CoapOptionNumber.UriQuery, new[] { (byte)flags })]);

    /// <summary>CON POST /f/name?argument with a 1-byte token; Uri-Query is always present, even when empty.</summary>
    public static CoapMessage FunctionCall(ushort messageId, byte token, string name, string argument)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(argument);
        return new CoapMessage(CoapMessageType.Confirmable, CoapCode.Post, messageId, new[] { token },
            [new(CoapOptionNumber.UriPath, PathFunction), CoapOption.FromString(CoapOptionNumber.UriPath, name), CoapOption.FromString(CoapOptionNumber.UriQuery, argument)]);
    }

    /// <summary>CON GET /v/name with a 1-byte token.</summary>
    public static CoapMessage VariableRequest(ushort messageId, byte token, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return new CoapMessage(CoapMessageType.Confirmable, CoapCode.Get, messageId, new[] { token },
            [new(CoapOptionNumber.UriPath, PathVariable), CoapOption.FromString(CoapOptionNumber.UriPath, name)]);
    }

    /// <summary>The ACK 2.05 answer to a time request: same ID and token, payload uint32 BE Unix seconds.</summary>
    public static CoapMessage TimeResponse(CoapMessage request, uint unixSeconds)
    {
        var payload = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(payload, unixSeconds);
        return Acknowledge(request, CoapCode.Content, payload);
    }

    /// <summary>CON PUT /s with a 1-byte token; payload 1 starts signalling (rainbow LED), 0 stops.</summary>
    /// <remarks>The device reads the state at byte 8, which only lines up with a 1-byte token.</remarks>
    public static CoapMessage Signal(ushort messageId, byte token, bool start) =>
        new(CoapMessageType.Confirmable, CoapCode.Put, messageId, new[] { token },
            [new(CoapOptionNumber.UriPath, PathSignal)], new[] { start ? (byte)1 : (byte)0 });

    /// <summary>CON PUT /k with a 1-byte Uri-Query parameter and no token; parameter 1 makes the device discard its session.</summary>
    /// <remarks>Device OS reads the parameter at byte 7 + token length, skipping one option-header byte (protocol.cpp handle_key_change).</remarks>
    public static CoapMessage KeyChange(ushort messageId, byte parameter) =>
        new(CoapMessageType.Confirmable, CoapCode.Put, messageId, options:
            [new(CoapOptionNumber.UriPath, PathKeyChange), new(CoapOptionNumber.UriQuery, new[] { parameter })]);

    /// <summary>OTA v1 UpdateBegin: CON POST /u, exactly a 1-byte token and only the Uri-Path option, 12-byte payload.</summary>
    public static CoapMessage UpdateBegin(ushort messageId, byte token, UpdateBeginParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return new CoapMessage(CoapMessageType.Confirmable, CoapCode.Post, messageId, new[] { token },
            [new(CoapOptionNumber.UriPath, PathUpdate)], parameters.ToArray());
    }

    /// <summary>OTA v1 Chunk: CON POST /c, a 4-byte CRC option, an optional 2-byte index (turns on fast OTA), then the data.</summary>
    /// <remarks>Both ride as Uri-Query so every option header is one byte; the device reads them by position.</remarks>
    public static CoapMessage Chunk(ushort messageId, byte token, ReadOnlyMemory<byte> data, ushort? fastOtaIndex = null)
    {
        var options = new List<CoapOption>(3)
        {
            new(CoapOptionNumber.UriPath, PathChunk),
            CoapOption.FromFixedUInt(CoapOptionNumber.UriQuery, Crc32.Compute(data.Span), 4),
        };
        if (fastOtaIndex is { } index)
        {
            options.Add(CoapOption.FromFixedUInt(CoapOptionNumber.UriQuery, index, 2));
        }

        return new CoapMessage(CoapMessageType.Confirmable, CoapCode.Post, messageId, new[] { token }, options, data);
    }

    /// <summary>OTA v1 UpdateDone: CON PUT /u with a 1-byte token.</summary>
    public static CoapMessage UpdateDone(ushort messageId, byte token) =>
        new(CoapMessageType.Confirmable, CoapCode.Put, messageId, new[] { token }, [new(CoapOptionNumber.UriPath, PathUpdate)]);

    // ---- Device to server (the simulator speaks these) ----

    /// <summary>The device Hello: POST /h, NON on TCP and CON on UDP, no token.</summary>
    public static CoapMessage DeviceHello(CoapMessageType type, ushort messageId, HelloPayload hello)
    {
        ArgumentNullException.ThrowIfNull(hello);
        return new CoapMessage(type, CoapCode.Post, messageId, options: [new(CoapOptionNumber.UriPath, PathHello)], payload: hello.ToArray());
    }

    /// <summary>A device-initiated Describe: CON POST /d?flags (raw flag byte), optional Content-Format (42 = protobuf for System).</summary>
    public static CoapMessage Describe(ushort messageId, DescribeFlags flags, ReadOnlyMemory<byte> payload, ushort? contentFormat = null)
    {
        var options = new List<CoapOption>(3)
        {
            new(CoapOptionNumber.UriPath, PathDescribe),
            new(CoapOptionNumber.UriQuery, new[] { (byte)flags }),
        };
        if (contentFormat is { } format)
        {
            options.Add(CoapOption.FromUInt(CoapOptionNumber.ContentFormat, format));
        }

        return new CoapMessage(CoapMessageType.Confirmable, CoapCode.Post, messageId, options: options, payload: payload);
    }

    /// <summary>CON GET /t with a 1-byte token.</summary>
    public static CoapMessage TimeRequest(ushort messageId, byte token) =>
        new(CoapMessageType.Confirmable, CoapCode.Get, messageId, new[] { token }, [new(CoapOptionNumber.UriPath, PathTime)]);

    /// <summary>GET /e/prefix (NON on TCP), with optional Uri-Query flags such as "c" (CBOR) or "b" (binary).</summary>
    public static CoapMessage Subscribe(CoapMessageType type, ushort messageId, string prefix, params string[] queries)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var options = new List<CoapOption>(2 + queries.Length) { new(CoapOptionNumber.UriPath, PathPublicEvent) };
        if (prefix.Length > 0)
        {
            options.Add(CoapOption.FromString(CoapOptionNumber.UriPath, prefix));
        }

        options.AddRange(queries.Select(q => CoapOption.FromString(CoapOptionNumber.UriQuery, q)));
        return new CoapMessage(type, CoapCode.Get, messageId, options: options);
    }

    /// <summary>A function result: separate 2.04 with the call's token and a 4-byte big-endian int (NON on TCP).</summary>
    public static CoapMessage FunctionReturn(CoapMessageType type, ushort messageId, ReadOnlyMemory<byte> token, int value)
    {
        var payload = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(payload, value);
        return SeparateResponse(type, messageId, token, CoapCode.Changed, payload);
    }

    /// <summary>Reads a function result's 4-byte big-endian int.</summary>
    public static bool TryReadFunctionReturn(CoapMessage response, out int value)
    {
        ArgumentNullException.ThrowIfNull(response);
        value = 0;
        if (response.Payload.Length != 4)
        {
            return false;
        }

        value = BinaryPrimitives.ReadInt32BigEndian(response.Payload.Span);
        return true;
    }

    /// <summary>Reads the Unix seconds from a time reply (2.05, 4-byte payload).</summary>
    public static bool TryReadTimeResponse(CoapMessage response, out uint unixSeconds)
    {
        ArgumentNullException.ThrowIfNull(response);
        unixSeconds = 0;
        if (response.Code != CoapCode.Content || response.Payload.Length != 4)
        {
            return false;
        }

        unixSeconds = BinaryPrimitives.ReadUInt32BigEndian(response.Payload.Span);
        return true;
    }

    /// <summary>The device's Goodbye: POST /x; NON adds No-Response (258) as Device OS does.</summary>
    public static CoapMessage Goodbye(CoapMessageType type, ushort messageId, GoodbyeMessage goodbye)
    {
        ArgumentNullException.ThrowIfNull(goodbye);
        var options = new List<CoapOption>(2) { new(CoapOptionNumber.UriPath, PathGoodbye) };
        if (type == CoapMessageType.NonConfirmable)
        {
            options.Add(new CoapOption(CoapOptionNumber.NoResponse, ReadOnlyMemory<byte>.Empty));
        }

        return new CoapMessage(type, CoapCode.Post, messageId, options: options, payload: goodbye.ToArray());
    }

    /// <summary>ChunkMissed (fast OTA only): NON GET /c, payload = up to 40 big-endian 2-byte indices.</summary>
    public static CoapMessage ChunkMissed(CoapMessageType type, ushort messageId, IReadOnlyList<ushort> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var payload = new byte[indices.Count * 2];
        for (int i = 0; i < indices.Count; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(i * 2), indices[i]);
        }

        return new CoapMessage(type, CoapCode.Get, messageId, options: [new(CoapOptionNumber.UriPath, PathChunk)], payload: payload);
    }

    /// <summary>Reads the indices from a ChunkMissed payload; false on an odd length.</summary>
    public static bool TryReadChunkMissed(CoapMessage message, out ushort[] indices)
    {
        ArgumentNullException.ThrowIfNull(message);
        indices = [];
        ReadOnlySpan<byte> payload = message.Payload.Span;
        if (payload.Length % 2 != 0)
        {
            return false;
        }

        indices = new ushort[payload.Length / 2];
        for (int i = 0; i < indices.Length; i++)
        {
            indices[i] = BinaryPrimitives.ReadUInt16BigEndian(payload[(i * 2)..]);
        }

        return true;
    }

    /// <summary>The UTF-8 text of a payload (JSON results such as UpdateDone's <c>{"r":0}</c>).</summary>
    public static string GetPayloadText(CoapMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return Encoding.UTF8.GetString(message.Payload.Span);
    }
}
