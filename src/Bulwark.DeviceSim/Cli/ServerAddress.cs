using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Bulwark.DeviceSim.Cli;

/// <summary>A <c>HOST[:PORT]</c> argument; the port defaults to the Gen2 TCP port 5683 (Gen3 UDP: 5684).</summary>
public sealed record ServerAddress(string Host, int Port)
{
    public const int DefaultTcpPort = 5683;

    public const int DefaultUdpPort = 5684;

    public static bool TryParse(string? text, [NotNullWhen(true)] out ServerAddress? address, int defaultPort = DefaultTcpPort)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        string host;
        string? portText = null;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }

            host = text[1..close];
            string rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    return false;
                }

                portText = rest[1..];
            }
        }
        else if (text.Count(c => c == ':') == 1)
        {
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            host = text[..colon];
            portText = text[(colon + 1)..];
        }
        else
        {
            // No port, or a bare IPv6 address.
            host = text;
        }

        int port = defaultPort;
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            return false;
        }

        if (host.Length == 0)
        {
            return false;
        }

        address = new ServerAddress(host, port);
        return true;
    }

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
