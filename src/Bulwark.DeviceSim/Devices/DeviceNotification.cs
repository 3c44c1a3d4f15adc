using System.Text;
using Bulwark.Firmware;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Devices;

/// <summary>Something that happened to a virtual device, mostly things the cloud sent it.</summary>
public abstract record DeviceNotification;

/// <summary>The session is up: handshake done, Hellos exchanged (TCP) or Hello acknowledged (UDP).</summary>
/// <param name="SessionResumed">UDP: a saved DTLS session was carried on from a new port with no handshake.</param>
/// <param name="HelloSkipped">UDP: resumed with unchanged application state, so only a CoAP ping was sent.</param>
public sealed record DeviceConnected(HelloPayload Hello, bool SessionResumed = false, bool HelloSkipped = false) : DeviceNotification;

/// <summary>The session ended.</summary>
public sealed record DeviceDisconnected(DisconnectReason Reason, string? Detail) : DeviceNotification;

/// <summary>An event the cloud delivered to one of the device's subscriptions.</summary>
public sealed record CloudEventReceived(string Name, ReadOnlyMemory<byte> Data) : DeviceNotification
{
    public string DataText => Encoding.UTF8.GetString(Data.Span);
}

/// <summary>The cloud started or stopped signalling (rainbow LED).</summary>
public sealed record SignalChanged(bool On) : DeviceNotification;

/// <summary>The cloud called a function; <see cref="Result"/> is null when the function is not registered.</summary>
public sealed record FunctionCalled(string Name, string Argument, int? Result) : DeviceNotification;

/// <summary>The cloud read a variable.</summary>
public sealed record VariableRead(string Name, bool Found) : DeviceNotification;

/// <summary>The cloud asked for a Describe.</summary>
public sealed record DescribeRequested(byte Flags) : DeviceNotification;

/// <summary>The cloud answered a time request.</summary>
public sealed record TimeReceived(DateTimeOffset Time) : DeviceNotification;

/// <summary>An OTA image was accepted; the device "reboots" and reconnects with the new versions.</summary>
public sealed record FirmwareUpdateApplied(ModuleFunction Function, ushort ModuleVersion, ushort ProductFirmwareVersion, ushort SystemVersion) : DeviceNotification;

/// <summary>An OTA image was refused at UpdateDone with the given result code.</summary>
public sealed record FirmwareUpdateRejected(int Result, string Reason) : DeviceNotification;

/// <summary>Why a session ended.</summary>
public enum DisconnectReason
{
    /// <summary><see cref="VirtualDevice.DisconnectAsync"/> (after a Goodbye) or disposal.</summary>
    Requested,
    /// <summary>The server closed the connection.</summary>
    ConnectionClosed,
    /// <summary>A frame could not be read (bad length, padding or CoAP); the IV chain is lost.</summary>
    ProtocolError,
    /// <summary>Nothing arrived within the ping timeout.</summary>
    KeepaliveTimeout,
    /// <summary>The device emulated a Device OS protocol error that drops the connection (e.g. error 31 on <c>GET /d?3</c>).</summary>
    DeviceOsError,
    /// <summary>An OTA update was applied and the device is rebooting.</summary>
    FirmwareUpdate,
    /// <summary>UDP: KeyChange told the device to discard its DTLS session; it reconnects with a full handshake.</summary>
    SessionDiscarded,
}
