using Bulwark.Server.Features.Products;
using System.Buffers.Binary;
using System.Text.Json;
using Bulwark.Server.Data;
using Bulwark.Server.Gateway;

namespace Bulwark.Server.Features.Devices;

/// <summary>The Particle device object (particle-api.md 3.2) for a user's own device.</summary>
internal static class DeviceView
{
    public static Dictionary<string, object?> From(Device d, IDeviceConnection? connection, string? ownerUsername)
    {
        var online = connection is not null;
        var platformId = d.PlatformId ?? 0;
        return new Dictionary<string, object?>
        {
            ["id"] = d.Id,
            ["name"] = d.Name,
            ["owner"] = ownerUsername,
            ["last_ip_address"] = connection?.RemoteAddress ?? d.LastIpAddress,
            ["last_heard"] = Time(connection?.LastHeard ?? d.LastHeard),
            ["last_handshake_at"] = Time(d.LastHandshakeAt),
            // The cloud's product, never the one firmware claims; outside a product Particle reports the platform.
            ["product_id"] = d.CloudProductId ?? platformId,
            ["online"] = online,
            ["connected"] = online,
            ["platform_id"] = platformId,
            ["cellular"] = Platforms.Find(platformId)?.Cellular == true,
            ["notes"] = d.Notes,
            ["functions"] = Functions(d),
            ["variables"] = Variables(d).ToDictionary(v => v.Key, v => TypeName(v.Value)),
            ["serial_number"] = d.SerialNumber,
            ["status"] = "normal",
            ["system_firmware_version"] = SystemVersionText(d.SystemVersion),
            ["system_modules"] = SystemModules(d),
            ["device_protection"] = new Dictionary<string, object?> { ["status"] = d.DeviceProtectionStatus ?? "disabled" },
            ["firmware_version"] = d.ProductFirmwareVersion,
            ["firmware_updates_enabled"] = true,
            ["firmware_updates_forced"] = false,
        };
    }

    public static string? Time(DateTime? t) => t?.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public static IReadOnlyList<string> Functions(Device d)
    {
        if (string.IsNullOrEmpty(d.Functions))
        {
            return [];
        }
        try
        {
            return JsonSerializer.Deserialize<List<string>>(d.Functions) ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    public static IReadOnlyDictionary<string, int> Variables(Device d)
    {
        if (string.IsNullOrEmpty(d.Variables))
        {
            return new Dictionary<string, int>();
        }
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, int>>(d.Variables) ?? [];
        }
        catch (JsonException)
        {
            return new Dictionary<string, int>();
        }
    }

    /// <summary>The modules from the last system Describe (Describe JSON), or null before the first one.</summary>
    public static JsonElement? SystemModules(Device d)
    {
        if (string.IsNullOrEmpty(d.SystemModules))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(d.SystemModules);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Particle's variable type codes from the application Describe.</summary>
    public static string TypeName(int code) => code switch
    {
        1 => "bool",
        2 => "int32",
        4 => "string",
        9 => "double",
        _ => "unknown",
    };

    /// <summary>Decodes a variable reply: bool 1 byte, int 4 bytes big-endian, double 8 bytes in the device's (little-endian) order.</summary>
    public static object? DecodeVariable(int? type, byte[] raw) => type switch
    {
        1 when raw.Length >= 1 => raw[0] != 0,
        2 when raw.Length >= 4 => BinaryPrimitives.ReadInt32BigEndian(raw),
        9 when raw.Length >= 8 => BinaryPrimitives.ReadDoubleLittleEndian(raw),
        _ => System.Text.Encoding.UTF8.GetString(raw),
    };

    // Device OS module version 6200 is 6.2.0 (major*1000 + minor*100 + patch*... ); older releases used other schemes.
    public static string? SystemVersionText(int? moduleVersion)
    {
        if (moduleVersion is not { } v || v <= 0)
        {
            return null;
        }
        if (v >= 1000)
        {
            return $"{v / 1000}.{v / 100 % 10}.{v % 100}";
        }
        return v.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
