using System.Globalization;
using System.Net.Http.Json;
using Bulwark.DeviceSim.Devices;
using Bulwark.EndToEnd.Tests.Infrastructure;
using Bulwark.Firmware;
using Bulwark.Protocol.Keys;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.EndToEnd.Tests.Ota;

/// <summary>Polling waits shared by the OTA end-to-end tests.</summary>
internal static class OtaWaits
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static async Task WaitForVersionAsync(VirtualDevice device, int version)
    {
        await WaitForAsync(() => Task.FromResult(device.IsConnected && device.ProductFirmwareVersion == version), ok => ok);
    }

    public static async Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Still {value} after {Patience}");
            }
            await Task.Delay(50);
        }
    }
}

/// <summary>A product (on platform 6, the simulator's Photon, unless told otherwise), its owner, and provisioned devices
/// speaking Gen2 TCP or Gen3 UDP/DTLS.</summary>
internal sealed class OtaWorld
{
    private readonly BulwarkTestServer _server;
    private readonly HttpClient _client;
    private readonly ServerPublicKey _serverKey;

    private OtaWorld(BulwarkTestServer server, HttpClient client, ServerPublicKey serverKey, int productId, ushort platformId)
    {
        _server = server;
        _client = client;
        _serverKey = serverKey;
        ProductId = productId;
        PlatformId = platformId;
    }

    public int ProductId { get; }

    public ushort PlatformId { get; }

    public static async Task<OtaWorld> CreateAsync(BulwarkTestServer server, ushort platformId = 6)
    {
        var user = await server.CreateUserAsync();
        var client = server.CreateClient(user.Token);
        var serverKey = ServerPublicKey.FromPem((await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=tcp"))).GetProperty("public_key").GetString()!);
        var product = await client.PostAsJsonAsync("/v1/user/products", new { product = new { name = "Ota " + Guid.NewGuid().ToString("N")[..8], platform_id = platformId } });
        await EnsureSuccessAsync(product);
        return new OtaWorld(server, client, serverKey, (await JsonAsync(product)).GetProperty("product").GetProperty("id").GetInt32(), platformId);
    }

    public async Task UploadAsync(int version, int dataSize = 1024, ushort systemVersion = 6200)
    {
        var binary = FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = PlatformId,
            ProductId = (ushort)ProductId,
            ProductVersion = (ushort)version,
            Dependency1 = new ModuleDependency(ModuleFunction.SystemPart, 1, systemVersion),
            DataSize = dataSize,
            Seed = version,
        });
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(binary), "binary", "firmware.bin" },
            { new StringContent(version.ToString(CultureInfo.InvariantCulture)), "version" },
            { new StringContent("v" + version), "title" },
        };
        await EnsureSuccessAsync(await _client.PostAsync($"/v1/products/{ProductId}/firmware", form));
    }

    /// <summary>A device provisioned (and added unless <paramref name="preAdd"/> is false) running product firmware 1;
    /// <paramref name="configure"/> adjusts its options (OTA v3, simulated loss). Over UDP only its EC key is registered, as
    /// for a Gen3 device, it advertises OTA v3, and it sends its datagrams to <paramref name="udpPort"/> (a lossy proxy, say)
    /// or else to the server.</summary>
    public async Task<VirtualDevice> AddDeviceAsync(bool preAdd = true, ushort systemVersion = 6200, Func<VirtualDeviceOptions, VirtualDeviceOptions>? configure = null,
        DeviceTransport transport = DeviceTransport.Tcp, int? udpPort = null)
    {
        var identity = DeviceIdentity.Generate();
        var id = identity.Id.ToString();
        if (transport == DeviceTransport.Udp)
        {
            await Gen3Devices.ProvisionEcKeyAsync(_client, identity);
        }
        else
        {
            await EnsureSuccessAsync(await _client.PostAsJsonAsync($"/v1/provisioning/{id}", new { publicKey = identity.GetPublicKeyPem(), algorithm = "rsa" }));
        }
        if (preAdd)
        {
            await EnsureSuccessAsync(await _client.PostAsJsonAsync($"/v1/products/{ProductId}/devices", new { id }));
        }
        var options = new VirtualDeviceOptions
        {
            PlatformId = PlatformId,
            ProductId = (ushort)ProductId,
            ProductFirmwareVersion = 1,
            SystemVersion = systemVersion,
            NotificationCapacity = 0,
        };
        if (transport == DeviceTransport.Udp)
        {
            options = options.OverUdp(await Gen3Devices.ServerEcKeyAsync(_client));
        }
        options = configure?.Invoke(options) ?? options;
        return transport == DeviceTransport.Udp
            ? new VirtualDevice(identity, serverKey: null, "127.0.0.1", udpPort ?? _server.UdpGatewayPort, options)
            : new VirtualDevice(identity, _serverKey, "127.0.0.1", _server.GatewayPort, options);
    }

    public Task PutDeviceAsync(VirtualDevice device, object body) => PutAsync($"devices/{device.Id}", body);

    public async Task<System.Text.Json.JsonElement?> FirmwareUpdateAsync(VirtualDevice device)
    {
        var json = await GetAsync($"devices/{device.Id}/firmware");
        return json.TryGetProperty("firmware_update", out var f) && f.ValueKind == System.Text.Json.JsonValueKind.Object ? f : null;
    }

    public async Task<System.Text.Json.JsonElement> GetAsync(string path)
    {
        var response = await _client.GetAsync($"/v1/products/{ProductId}/{path}");
        await EnsureSuccessAsync(response);
        return await JsonAsync(response);
    }

    public async Task PostAsync(string path, object body) => await EnsureSuccessAsync(await _client.PostAsJsonAsync($"/v1/products/{ProductId}/{path}", body));

    public async Task PutAsync(string path, object body) => await EnsureSuccessAsync(await _client.PutAsJsonAsync($"/v1/products/{ProductId}/{path}", body));
}
