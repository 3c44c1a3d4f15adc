using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;

namespace Bulwark.Cli.Commands;

/// <summary>The client side of a device's local control channel (the bulwark-sim stand-in for USB control requests):
/// TCP, request = <c>u16 type, u32 length, payload</c>, reply = <c>i32 result, u32 length, payload</c>, big-endian;
/// result is the Device OS system error code.</summary>
public sealed class LocalControlClient : IDisposable
{
    public const int DeviceId = 20;
    public const int GetProtectedState = 76;
    public const int SetProtectedState = 77;

    private const int MaxReply = 64 * 1024;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly string _address;

    private LocalControlClient(TcpClient client, string address)
    {
        _client = client;
        _stream = client.GetStream();
        _address = address;
    }

    /// <summary>Connects to <c>HOST:PORT</c>; a usage error for a malformed address, exit 9 when nothing answers.</summary>
    public static async Task<LocalControlClient> ConnectAsync(string address, CancellationToken cancellationToken)
    {
        var (host, port) = Parse(address);
        var client = new TcpClient { NoDelay = true };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            await client.ConnectAsync(host, port, timeout.Token);
            return new LocalControlClient(client, address);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            client.Dispose();
            throw new CliException(ExitCodes.DeviceUnavailable, $"cannot reach the device's local control channel at {address}: {e.Message}");
        }
    }

    /// <summary>One control request; the device's result code and reply payload.</summary>
    public async Task<(int Result, byte[] Payload)> SendAsync(int type, byte[] payload, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            var header = new byte[6];
            BinaryPrimitives.WriteUInt16BigEndian(header, (ushort)type);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(2), (uint)payload.Length);
            await _stream.WriteAsync(header, timeout.Token);
            await _stream.WriteAsync(payload, timeout.Token);
            var reply = new byte[8];
            await _stream.ReadExactlyAsync(reply, timeout.Token);
            var result = BinaryPrimitives.ReadInt32BigEndian(reply);
            var length = BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4));
            if (length > MaxReply)
            {
                throw new CliException(ExitCodes.DeviceUnavailable, $"the device at {_address} sent a {length}-byte reply; not a local control channel?");
            }
            var body = new byte[length];
            await _stream.ReadExactlyAsync(body, timeout.Token);
            return (result, body);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.DeviceUnavailable, $"the device's local control channel at {_address} failed: {e.Message}");
        }
    }

    /// <summary>Sends a request and insists on success; a refusal is exit 9 with the Device OS error named.</summary>
    public async Task<byte[]> RequestAsync(int type, byte[] payload, string what, CancellationToken cancellationToken)
    {
        var (result, reply) = await SendAsync(type, payload, cancellationToken);
        if (result != 0)
        {
            throw new CliException(ExitCodes.DeviceRefused, $"the device refused {what}: {ErrorName(result)}");
        }
        return reply;
    }

    /// <summary>The 24-hex-digit ID of the device on the channel (DEVICE_ID, allowed even when protected).</summary>
    public async Task<string> DeviceIdAsync(CancellationToken cancellationToken) =>
        Convert.ToHexStringLower(await RequestAsync(DeviceId, [], "its device ID", cancellationToken));

    public void Dispose()
    {
        _stream.Dispose();
        _client.Dispose();
    }

    /// <summary>The Device OS name of a system error code (services/inc/system_error.h) with the code.</summary>
    public static string ErrorName(int code) => code switch
    {
        -1270 => "SYSTEM_ERROR_PROTECTED (-1270): the device is protected",
        -1260 => "SYSTEM_ERROR_KEY_MISMATCH (-1260): the server key fingerprint is not the one the device holds",
        -1250 => "SYSTEM_ERROR_INVALID_SIGNATURE (-1250): the server signature does not verify",
        -210 => "SYSTEM_ERROR_INVALID_STATE (-210): no pending prepare on the device",
        -160 => "SYSTEM_ERROR_TIMEOUT (-160): more than 60 s since prepare",
        -130 => "SYSTEM_ERROR_NOT_ALLOWED (-130)",
        -120 => "SYSTEM_ERROR_INVALID_ARGUMENT (-120)",
        -110 => "SYSTEM_ERROR_NOT_SUPPORTED (-110)",
        _ => "system error " + code.ToString(CultureInfo.InvariantCulture),
    };

    private static (string Host, int Port) Parse(string address)
    {
        address = address.Trim();
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw CliException.Usage($"--control must be HOST:PORT, not '{address}'");
        }
        var host = address[..colon].Trim('[', ']');
        return (host, port);
    }
}

/// <summary>The control/config.proto messages of requests 76 and 77 (wire types 0 and 2 only): GetProtectedStateReply{state=1,
/// overridden=2}; SetProtectedStateRequest{action=1 (RESET=0, PREPARE=1, CONFIRM=2), prepare=2{server_nonce=1},
/// confirm=3{server_signature=1, server_public_key_fingerprint=2}}; SetProtectedStateReply{prepare=1{device_nonce=1,
/// device_signature=2, device_public_key_fingerprint=3}}.</summary>
public static class ProtectedStateProto
{
    public const int Reset = 0;
    public const int Prepare = 1;
    public const int Confirm = 2;

    public static byte[] PrepareRequest(byte[] serverNonce) => [.. Varint(1, Prepare), .. Bytes(2, Bytes(1, serverNonce))];

    public static byte[] ConfirmRequest(byte[] serverSignature, byte[] serverFingerprint) =>
        [.. Varint(1, Confirm), .. Bytes(3, [.. Bytes(1, serverSignature), .. Bytes(2, serverFingerprint)])];

    public static byte[] ResetRequest() => Varint(1, Reset);

    public static (bool Protected, bool Overridden) GetReply(byte[] data)
    {
        bool state = false, overridden = false;
        foreach (var (field, value, _) in Read(data))
        {
            if (field == 1) state = value != 0;
            if (field == 2) overridden = value != 0;
        }
        return (state, overridden);
    }

    /// <summary>The PREPARE reply; all null when the device is not protected (an empty prepare).</summary>
    public static (byte[]? DeviceNonce, byte[]? Signature, byte[]? Fingerprint) PrepareReply(byte[] data)
    {
        byte[]? nonce = null, signature = null, fingerprint = null;
        foreach (var (field, _, bytes) in Read(data))
        {
            if (field != 1 || bytes is null) continue;
            foreach (var (inner, _, value) in Read(bytes))
            {
                if (inner == 1) nonce = value;
                if (inner == 2) signature = value;
                if (inner == 3) fingerprint = value;
            }
        }
        return (nonce, signature, fingerprint);
    }

    private static byte[] Varint(int field, uint value) => [.. WriteVarint((uint)(field << 3)), .. WriteVarint(value)];

    private static byte[] Bytes(int field, byte[] value) => [.. WriteVarint((uint)(field << 3 | 2)), .. WriteVarint((uint)value.Length), .. value];

    private static byte[] WriteVarint(uint value)
    {
        var w = new List<byte>(5);
        while (value >= 0x80)
        {
            w.Add((byte)(value | 0x80));
            value >>= 7;
        }
        w.Add((byte)value);
        return [.. w];
    }

    private static List<(int Field, uint Value, byte[]? Bytes)> Read(byte[] data)
    {
        var list = new List<(int, uint, byte[]?)>();
        var i = 0;
        while (i < data.Length)
        {
            var key = ReadVarint(data, ref i);
            var field = (int)(key >> 3);
            switch (key & 7)
            {
                case 0:
                    list.Add((field, ReadVarint(data, ref i), null));
                    break;
                case 2:
                    var length = ReadVarint(data, ref i);
                    if (length > data.Length - i) throw Malformed();
                    list.Add((field, 0, data[i..(i + (int)length)]));
                    i += (int)length;
                    break;
                default:
                    throw Malformed();
            }
        }
        return list;
    }

    private static uint ReadVarint(byte[] data, ref int i)
    {
        uint value = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            if (i >= data.Length) throw Malformed();
            var b = data[i++];
            value |= (uint)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw Malformed();
    }

    private static CliException Malformed() => new(ExitCodes.DeviceUnavailable, "the device sent a malformed control reply");
}
