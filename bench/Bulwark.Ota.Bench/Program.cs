using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Bulwark.DeviceSim.Devices;
using Bulwark.DeviceSim.Fleet;
using Bulwark.Firmware;
using Bulwark.Protocol.Keys;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

// OTA benchmark (issue 6, "The bar"): a product firmware (~100 KB user part) released as the product default with
// intelligent=true to N online simulated devices; the time until every device has applied it, rebooted and said Hello
// with the new version. Reports MB/s delivered and devices/minute, and as a baseline the same machine's raw loopback
// TCP throughput for the same total bytes (a socket pair copying, measured in the same run), so the figure is a ratio.
// Server and fleet share this process (and its cores).
//   dotnet run -c Release --project bench/Bulwark.Ota.Bench -- [--devices 1000] [--size 100000] [--keys DIR] [--timeout 900]
//                                                              [--stall 120] [--max-transfers N] [--chunks-per-second N] [--retry-seconds S]
var inv = CultureInfo.InvariantCulture;
int devices = 1000;
int size = 100_000;
double timeoutSeconds = 900;
double stallSeconds = 120;
string keyDir = Path.Combine(Path.GetTempPath(), "bulwark-bench-keys");
string? maxTransfers = null;
string? chunksPerSecond = null;
string? retrySeconds = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--devices": devices = int.Parse(args[++i], inv); break;
        case "--size": size = int.Parse(args[++i], inv); break;
        case "--keys": keyDir = args[++i]; break;
        case "--timeout": timeoutSeconds = double.Parse(args[++i], inv); break;
        case "--stall": stallSeconds = double.Parse(args[++i], inv); break;
        case "--retry-seconds": retrySeconds = args[++i]; break;
        case "--max-transfers": maxTransfers = args[++i]; break;
        case "--chunks-per-second": chunksPerSecond = args[++i]; break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}; usage: [--devices N] [--size BYTES] [--keys DIR] [--timeout S] [--stall S] [--max-transfers N] [--chunks-per-second N] [--retry-seconds S]");
            return 2;
    }
}

const int Platform = 6;
Console.WriteLine($"Bulwark OTA benchmark: {devices:N0} devices, ~{size:N0} byte module, {Environment.ProcessorCount} cores, key cache {keyDir}");

var watch = Stopwatch.StartNew();
var identities = await DeviceKeyStore.LoadOrGenerateAsync(keyDir, devices, new Progress<int>(n =>
{
    if (n % 1000 == 0)
    {
        Console.WriteLine($"    generated {n:N0} device keys");
    }
}));
Console.WriteLine($"    {identities.Count:N0} device keys ready in {watch.Elapsed.TotalSeconds:0.0} s");

var settings = new Dictionary<string, string?> { ["Bulwark:Gateway:MaxPendingHandshakes"] = "4096" };
if (maxTransfers is not null)
{
    settings["Bulwark:Ota:MaxConcurrentTransfers"] = maxTransfers;
}
if (retrySeconds is not null)
{
    settings["Bulwark:Ota:RetryBaseSeconds"] = retrySeconds;
}
if (chunksPerSecond is not null)
{
    settings["Bulwark:Ota:MaxChunksPerSecond"] = chunksPerSecond;
}
await using var server = await StartAsync(settings: settings);
var otaOptions = server.Services.GetService(typeof(Bulwark.Server.Gateway.Ota.OtaOptions)) as Bulwark.Server.Gateway.Ota.OtaOptions;
Console.WriteLine($"    OTA limits: {otaOptions?.MaxConcurrentTransfers.ToString(inv) ?? "?"} concurrent transfers, "
    + $"{(otaOptions?.MaxChunksPerSecond is > 0 ? otaOptions.MaxChunksPerSecond.ToString(inv) + " chunks/s per transfer" : "unpaced")}, chunk <= {otaOptions?.MaxChunkSize.ToString(inv) ?? "?"} B");
var user = await server.CreateUserAsync();
using var client = server.CreateClient(user.Token);
client.Timeout = TimeSpan.FromMinutes(5);
var serverPublic = ServerPublicKey.FromPem((await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=tcp"))).GetProperty("public_key").GetString()!);
var created = await client.PostAsJsonAsync("/v1/user/products", new { product = new { name = "Ota bench " + Guid.NewGuid().ToString("N")[..8], platform_id = Platform } });
await EnsureSuccessAsync(created);
int productId = (await JsonAsync(created)).GetProperty("product").GetProperty("id").GetInt32();

watch.Restart();
foreach (var batch in identities.Chunk(5000))
{
    var body = new { devices = batch.Select(d => new { id = d.Id.ToString(), publicKey = d.GetPublicKeyPem(), algorithm = "rsa" }).ToArray() };
    await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/provisioning", body));
    await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/products/{productId}/devices", new { ids = batch.Select(d => d.Id.ToString()).ToArray() }));
}
Console.WriteLine($"    registered {devices:N0} keys and added them to product {productId} in {watch.Elapsed.TotalSeconds:0.0} s");

// The firmware: a user part for the platform, this product, version 2; the devices run version 1.
var module = FirmwareModuleBuilder.Build(new FirmwareModuleSpec
{
    PlatformId = Platform,
    ProductId = (ushort)productId,
    ProductVersion = 2,
    Dependency1 = new ModuleDependency(ModuleFunction.SystemPart, 1, 6200),
    DataSize = Math.Max(0, size - 200),
    Seed = 2,
});
using (var form = new MultipartFormDataContent
{
    { new ByteArrayContent(module), "binary", "bench.bin" },
    { new StringContent("2"), "version" },
    { new StringContent("bench v2"), "title" },
})
{
    await EnsureSuccessAsync(await client.PostAsync($"/v1/products/{productId}/firmware", form));
}
Console.WriteLine($"    uploaded version 2: {module.Length:N0} bytes");

await using var fleet = new VirtualFleet(identities, serverPublic, "127.0.0.1", server.GatewayPort, new VirtualFleetOptions
{
    MaxConcurrentConnects = 16,
    DeviceOptions = new VirtualDeviceOptions
    {
        PlatformId = Platform,
        ProductId = (ushort)productId,
        ProductFirmwareVersion = 1,
        SystemVersion = 6200,
        NotificationCapacity = 0,
        ServerHelloTimeout = TimeSpan.FromSeconds(30),
        HandshakeTimeout = TimeSpan.FromSeconds(60),
        // Real devices reconnect after a dropped connection; on a loaded machine some do drop (the ping answer is late), so the
        // ping timeout is relaxed from 10 s to 60 s to measure delivery rather than timeouts.
        AutoReconnect = true,
        PingTimeout = TimeSpan.FromSeconds(60),
    },
});
watch.Restart();
var connected = await fleet.ConnectAllAsync();
Console.WriteLine($"    connected {connected.Connected:N0}/{devices:N0} devices in {watch.Elapsed.TotalSeconds:0.0} s ({connected})");
if (connected.Connected < devices)
{
    Console.WriteLine("    WARNING: not every device is connected now; the dropped ones reconnect by themselves and are counted");
}
if (connected.LastDrop is not null)
{
    Console.WriteLine($"    last drop: {connected.LastDrop}");
}
var targets = fleet.Devices.ToList();

// The release, and the wait for every targeted device to come back on version 2.
watch.Restart();
await EnsureSuccessAsync(await client.PutAsJsonAsync($"/v1/products/{productId}/firmware/release", new { version = 2, product_default = true, intelligent = true }));
var deadline = TimeSpan.FromSeconds(timeoutSeconds);
var lastReport = TimeSpan.Zero;
var lastProgress = TimeSpan.Zero;
int lastDone = -1;
int done = 0;
var firstDone = TimeSpan.Zero;
while (true)
{
    done = targets.Count(d => d.IsConnected && d.ProductFirmwareVersion == 2);
    if (done > 0 && firstDone == TimeSpan.Zero)
    {
        firstDone = watch.Elapsed;
    }
    if (done != lastDone)
    {
        lastDone = done;
        lastProgress = watch.Elapsed;
    }
    if (done == targets.Count || watch.Elapsed > deadline)
    {
        break;
    }
    if (watch.Elapsed - lastProgress > TimeSpan.FromSeconds(stallSeconds))
    {
        Console.WriteLine($"    no device finished for {stallSeconds:0} s: stopping");
        break;
    }
    if (watch.Elapsed - lastReport > TimeSpan.FromSeconds(5))
    {
        lastReport = watch.Elapsed;
        Console.WriteLine($"    {watch.Elapsed.TotalSeconds:0} s: {done:N0}/{targets.Count:N0} on version 2, {fleet.ConnectedCount:N0} connected, "
            + $"{targets.Count(d => d.FirmwareUpdate.ReceivedChunkCount > 0 && d.ProductFirmwareVersion != 2):N0} mid-transfer");
    }
    await Task.Delay(100);
}
double seconds = (done == targets.Count ? watch.Elapsed : lastProgress).TotalSeconds;
if (done < targets.Count)
{
    // Why the rest did not finish: the server's view of their last OTA (status and error), counted.
    var pending = targets.Where(d => d.ProductFirmwareVersion != 2).ToList();
    var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
    foreach (var d in pending.Take(200))
    {
        var json = await JsonAsync(await client.GetAsync($"/v1/products/{productId}/devices/{d.Id}/firmware"));
        var update = json.TryGetProperty("firmware_update", out var f) && f.ValueKind == System.Text.Json.JsonValueKind.Object ? f : (System.Text.Json.JsonElement?)null;
        var key = update is { } u
            ? $"{u.GetProperty("status").GetString()}: {(u.TryGetProperty("error", out var e) ? e.ToString() : "")} (attempts {u.GetProperty("attempts")})"
            : $"no update recorded; decision {(json.TryGetProperty("firmware_update_decision", out var dec) ? dec.ToString() : "?")}";
        key += d.IsConnected ? ", device connected" : ", device offline";
        reasons[key] = reasons.GetValueOrDefault(key) + 1;
    }
    Console.WriteLine($"    {pending.Count:N0} devices not on version 2; the server's view of (up to 200 of) them:");
    foreach (var (reason, count) in reasons.OrderByDescending(r => r.Value))
    {
        Console.WriteLine($"      {count,4} x {reason}");
    }
}
long delivered = (long)done * module.Length;
double megabytesPerSecond = delivered / seconds / 1e6;
double devicesPerMinute = done / seconds * 60;
Console.WriteLine($"[1] OTA: {done:N0}/{targets.Count:N0} devices on version 2 in {seconds:0.0} s (first after {firstDone.TotalSeconds:0.0} s): "
    + $"{megabytesPerSecond:0.00} MB/s of firmware delivered, {devicesPerMinute:N0} devices/minute");

// Baseline: raw loopback TCP for the same total bytes, in 1 KiB writes (the OTA chunk size) and in 64 KiB writes.
long totalBytes = (long)targets.Count * module.Length;
double raw1K = await LoopbackAsync(totalBytes, 1024);
double raw64K = await LoopbackAsync(totalBytes, 64 * 1024);
Console.WriteLine($"[2] raw loopback TCP, {totalBytes / 1e6:0.0} MB: {raw1K:0.0} MB/s in 1 KiB writes, {raw64K:0.0} MB/s in 64 KiB writes");
Console.WriteLine($"[3] OTA delivery = {megabytesPerSecond / raw1K:P1} of raw loopback in 1 KiB writes ({megabytesPerSecond / raw64K:P2} of 64 KiB writes)");
await fleet.DisconnectAllAsync();
return done == targets.Count ? 0 : 1;

static async Task<double> LoopbackAsync(long total, int writeSize)
{
    using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    listener.Listen(1);
    using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    var accept = listener.AcceptAsync();
    await sender.ConnectAsync(listener.LocalEndPoint!);
    using var receiver = await accept;
    var watch = Stopwatch.StartNew();
    var reader = Task.Run(async () =>
    {
        var buffer = new byte[64 * 1024];
        long received = 0;
        while (received < total)
        {
            int n = await receiver.ReceiveAsync(buffer, SocketFlags.None);
            if (n == 0)
            {
                break;
            }
            received += n;
        }
        return received;
    });
    var data = new byte[writeSize];
    Random.Shared.NextBytes(data);
    long sent = 0;
    while (sent < total)
    {
        int n = (int)Math.Min(writeSize, total - sent);
        sent += await sender.SendAsync(data.AsMemory(0, n), SocketFlags.None);
    }
    var got = await reader;
    return got / watch.Elapsed.TotalSeconds / 1e6;
}
