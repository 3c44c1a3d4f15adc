namespace Bulwark.Server.Gateway;

/// <summary>The device gateway's settings (<c>Bulwark:Gateway:*</c>).</summary>
public sealed class GatewayOptions
{
    /// <summary>Set false to run the API without accepting device connections.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Run the Gen3 UDP/DTLS listener too (Gateway/Udp); off until it carries the CoAP device protocol.</summary>
    public bool UdpEnabled { get; set; }

    /// <summary>Address the UDP listener binds.</summary>
    public string UdpHost { get; set; } = "127.0.0.1";

    /// <summary>Gen3 UDP port (Device OS always uses 5684); 0 picks a free port (tests).</summary>
    public int UdpPort { get; set; } = 5684;

    /// <summary>Address the TCP listener binds; <c>0.0.0.0</c> to accept devices from the network.</summary>
    public string TcpHost { get; set; } = "127.0.0.1";

    /// <summary>Gen2 TCP port; 0 picks a free port (tests), see <see cref="DeviceGateway.TcpPort"/>.</summary>
    public int TcpPort { get; set; } = 5683;

    /// <summary>Host name written into server key blobs when the request does not name one.</summary>
    public string? PublicHost { get; set; }

    /// <summary>The whole handshake must finish within this; slow or silent clients are cut off.</summary>
    public double HandshakeTimeoutSeconds { get; set; } = 10;

    /// <summary>After the handshake the device must send its Hello within this.</summary>
    public double HelloTimeoutSeconds { get; set; } = 10;

    /// <summary>A device pings after 15 s without hearing from us; silence longer than this means it is gone.</summary>
    public double IdleTimeoutSeconds { get; set; } = 45;

    /// <summary>How long an API function call or variable read waits for the device.</summary>
    public double RequestTimeoutSeconds { get; set; } = 20;

    /// <summary>Connections still handshaking at once; more are closed at once (a flood cannot exhaust the server).</summary>
    public int MaxPendingHandshakes { get; set; } = 1024;

    /// <summary>Let a never-seen device register its key on its first connection (open development clouds); off by default.</summary>
    public bool AllowUnknownDevices { get; set; }

    /// <summary>Refusal audit rows per remote address per minute; beyond it refusals are counted and summarised.</summary>
    public int RefusalAuditsPerAddressPerMinute { get; set; } = 10;

    /// <summary>Subscriptions one device may hold.</summary>
    public int MaxSubscriptionsPerDevice { get; set; } = 32;
}
