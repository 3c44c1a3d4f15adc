namespace Bulwark.Server.Gateway;

/// <summary>The device gateway's settings (<c>Bulwark:Gateway:*</c>).</summary>
public sealed class GatewayOptions
{
    /// <summary>Set false to run the API without accepting device connections.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Run the Gen3 UDP/DTLS listener (Gateway/Udp) next to the Gen2 TCP one.</summary>
    public bool UdpEnabled { get; set; } = true;

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

    /// <summary>UDP devices on Wi-Fi or Ethernet send a keep-alive ping every 25 s; silence longer than this means it is gone.</summary>
    public double UdpIdleTimeoutSeconds { get; set; } = 90;

    /// <summary>Cellular UDP devices ping only every 23 minutes (to save data); silence longer than this means it is gone.</summary>
    public double UdpCellularIdleTimeoutSeconds { get; set; } = 1500;

    /// <summary>A UDP session (DTLS keys under one CID) older than this is renewed: when the device next resumes it,
    /// the cloud sends KeyChange and the device makes a full handshake (device-protocol.md 2.1).</summary>
    public double UdpSessionMaxAgeHours { get; set; } = 24 * 7;

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
