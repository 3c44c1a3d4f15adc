using System.Globalization;
using System.Net.Sockets;
using Bulwark.Protocol.LocalControl;

namespace Bulwark.Cli.Commands;

/// <summary>The client side of a device's local control channel (the bulwark-sim stand-in for USB control requests), framed
/// by <see cref="LocalControlFrame"/>; the result is the Device OS system error code. The Device Protection requests'
/// messages are <see cref="ProtectedStateMessages"/>.</summary>
public sealed class LocalControlClient : IDisposable
{
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
            await LocalControlFrame.WriteRequestAsync(_stream, type, payload, timeout.Token);
            return await LocalControlFrame.ReadReplyAsync(_stream, timeout.Token);
        }
        catch (InvalidDataException e)
        {
            throw new CliException(ExitCodes.DeviceUnavailable, $"the device at {_address} sent a bad frame ({e.Message}); not a local control channel?");
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
    public async Task<string> DeviceIdAsync(CancellationToken cancellationToken)
    {
        var reply = await RequestAsync(ControlRequestType.DeviceId, [], "its device ID", cancellationToken);
        return ProtectedStateMessages.TryDecodeDeviceIdReply(reply, out var id) ? id.ToString() : throw Malformed("DEVICE_ID");
    }

    /// <summary>GetProtectedState (76): whether the device is protected, and whether Service Mode overrides it now.</summary>
    public async Task<(bool Protected, bool Overridden)> ProtectedStateAsync(CancellationToken cancellationToken)
    {
        var reply = await RequestAsync(ControlRequestType.GetProtectedState, [], "GetProtectedState", cancellationToken);
        return ProtectedStateMessages.TryDecodeGetReply(reply, out var state, out var overridden) ? (state, overridden) : throw Malformed("GetProtectedState");
    }

    /// <summary>SetProtectedState (77); the PREPARE data of the reply, or null when it carried none.</summary>
    public async Task<ProtectedStatePrepareReply?> SetProtectedStateAsync(SetProtectedStateRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var reply = await RequestAsync(ControlRequestType.SetProtectedState, ProtectedStateMessages.EncodeSetRequest(request),
            "Service Mode " + request.Action.ToString().ToUpperInvariant(), cancellationToken);
        return ProtectedStateMessages.TryDecodeSetReply(reply, out var prepare) ? prepare : throw Malformed("SetProtectedState");
    }

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

    private CliException Malformed(string what) => new(ExitCodes.DeviceUnavailable, $"the device at {_address} sent a malformed {what} reply");

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
