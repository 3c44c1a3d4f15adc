using Bulwark.Protocol.Gen2;

namespace Bulwark.DeviceSim.Devices;

/// <summary>Why <see cref="VirtualDevice.ConnectAsync"/> failed.</summary>
public enum ConnectFailure
{
    /// <summary>The TCP connection could not be opened.</summary>
    Unreachable,
    /// <summary>The Gen2 handshake failed; see <see cref="VirtualDeviceException.HandshakeError"/>.</summary>
    Handshake,
    /// <summary>The server did not send its Hello in time.</summary>
    NoServerHello,
    /// <summary>The connection dropped while the session was being set up.</summary>
    ConnectionLost,
    /// <summary>The device's own private key could not be parsed.</summary>
    BadDeviceKey,
}

/// <summary>A connection attempt failed.</summary>
public sealed class VirtualDeviceException : Exception
{
    public VirtualDeviceException(ConnectFailure failure, string message, Gen2DeviceHandshakeError handshakeError = Gen2DeviceHandshakeError.None, Exception? inner = null)
        : base(message, inner)
    {
        Failure = failure;
        HandshakeError = handshakeError;
    }

    public VirtualDeviceException()
        : this(ConnectFailure.ConnectionLost, "The connection failed.")
    {
    }

    public VirtualDeviceException(string message)
        : this(ConnectFailure.ConnectionLost, message)
    {
    }

    public VirtualDeviceException(string message, Exception inner)
        : this(ConnectFailure.ConnectionLost, message, Gen2DeviceHandshakeError.None, inner)
    {
    }

    public ConnectFailure Failure { get; }

    public Gen2DeviceHandshakeError HandshakeError { get; }
}

/// <summary>UDP: the cloud answered a device request (event, subscription) with an error code or RST.</summary>
public sealed class CloudRefusedException : Exception
{
    public CloudRefusedException(Bulwark.Protocol.Coap.CoapCode? code, string message)
        : base(message)
    {
        Code = code;
    }

    public CloudRefusedException()
        : this(null, "The cloud refused the request.")
    {
    }

    public CloudRefusedException(string message)
        : this(null, message)
    {
    }

    public CloudRefusedException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>The ACK's code (e.g. 4.00 = slow down); null for an RST.</summary>
    public Bulwark.Protocol.Coap.CoapCode? Code { get; }
}
