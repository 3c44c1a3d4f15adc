using Bulwark.DeviceSim.Devices;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Keys;

namespace Bulwark.DeviceSim.Tests;

internal static class TestSupport
{
    /// <summary>A bound for every wait in a test, so a protocol bug fails the test instead of hanging it.</summary>
    public static CancellationToken Timeout(int seconds = 15) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    /// <summary>A device with a fresh identity, registered with <paramref name="cloud"/> unless told otherwise.</summary>
    public static VirtualDevice CreateDevice(TestCloud cloud, VirtualDeviceOptions? options = null, bool register = true, ServerPublicKey? serverKey = null)
    {
        DeviceIdentity identity = DeviceIdentity.Generate();
        if (register)
        {
            cloud.Register(identity.Id, DevicePublicKey.FromPem(identity.GetPublicKeyPem()));
        }

        return new VirtualDevice(identity, serverKey ?? TestCloud.DeviceViewOfServerKey, cloud.Host, cloud.Port, options ?? Quiet);
    }

    /// <summary>No keepalive pings, so tests see only the messages they cause.</summary>
    public static VirtualDeviceOptions Quiet { get; } = new() { PingInterval = null };

    /// <summary>Connects and returns the cloud's side, with the start-up sequence still queued.</summary>
    public static async Task<TestConnection> ConnectAsync(TestCloud cloud, VirtualDevice device, CancellationToken cancellationToken)
    {
        Task<TestConnection> accepted = cloud.AcceptAsync(cancellationToken);
        await device.ConnectAsync(cancellationToken);
        return await accepted;
    }

    /// <summary>A message as one line, e.g. <c>CON POST /d?01</c>.</summary>
    public static string Describe(CoapMessage message)
    {
        string type = message.Type switch
        {
            CoapMessageType.Confirmable => "CON",
            CoapMessageType.NonConfirmable => "NON",
            CoapMessageType.Acknowledgement => "ACK",
            _ => "RST",
        };
        string method = message.Code.Value switch { 1 => "GET", 2 => "POST", 3 => "PUT", _ => message.Code.ToString() };
        string query = string.Concat(message.GetOptions(CoapOptionNumber.UriQuery).Select(q => "?" + Convert.ToHexString(q.Value.Span)));
        return $"{type} {method} {message.GetUriPath()}{query}";
    }
}
