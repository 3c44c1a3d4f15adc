using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Bulwark.DeviceSim.Devices;
using Bulwark.DeviceSim.Fleet;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Events;
using Bulwark.Server.Gateway;
using Bulwark.Server.Gateway.Udp;
using Bulwark.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

// Device gateway benchmark (issues 4 and 7, "The bar"): handshakes/s against the machine's own public-key operations/s
// for the server's share of a handshake (RSA-2048 for Gen2 TCP, ECDSA/ECDH P-256 for Gen3 UDP/DTLS; measured in the
// same run), memory per idle connected device, and events/s from devices to an SSE subscriber against the same
// subscriber fed in process. The server runs in this process; the simulated fleet in a child process (this program
// again, see FleetProcess), on the same cores.
//   dotnet run -c Release --project bench/Bulwark.Gateway.Bench -- [--transport tcp|udp] --devices 10000 [--quick] [--rate 2000] [--publish-seconds 20] [--keys DIR]
if (args.Length > 0 && args[0] == FleetProcess.ChildFlag)
{
    return await FleetProcess.RunChildAsync(args);
}
var inv = CultureInfo.InvariantCulture;
int devices = 10000;
int concurrency = 16;
var transport = DeviceTransport.Tcp;
double rate = 2000;
double publishSeconds = 20;
string keyDir = Path.Combine(Path.GetTempPath(), "bulwark-bench-keys");
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--devices": devices = int.Parse(args[++i], inv); break;
        case "--quick": devices = 500; publishSeconds = 10; break;
        case "--rate": rate = double.Parse(args[++i], inv); break;
        case "--publish-seconds": publishSeconds = double.Parse(args[++i], inv); break;
        case "--keys": keyDir = args[++i]; break;
        case "--concurrency": concurrency = int.Parse(args[++i], inv); break;
        case "--transport": transport = Enum.Parse<DeviceTransport>(args[++i], ignoreCase: true); break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}; usage: [--transport tcp|udp] [--devices N] [--quick] [--rate EVENTS_PER_S] [--publish-seconds S] [--keys DIR] [--concurrency C]");
            return 2;
    }
}

int cores = Environment.ProcessorCount;
bool udp = transport == DeviceTransport.Udp;
Console.WriteLine($"Bulwark gateway benchmark: {(udp ? "Gen3 UDP/DTLS" : "Gen2 TCP")}, {devices:N0} devices, {cores} cores, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC, key cache {keyDir}");
var fdLimit = ReadFdLimit();
Console.WriteLine($"open-file limit (RLIMIT_NOFILE soft): {fdLimit?.ToString(inv) ?? "unknown"}");
// Each device costs one descriptor in the fleet process (its socket) and, over TCP, one in this process (its server
// socket), plus a few hundred for the runtime. The UDP server has one socket for all.
if (fdLimit is long limit && limit < devices + 512)
{
    Console.WriteLine($"WARNING: {devices:N0} devices need about {devices + 512:N0} file descriptors in the fleet process{(udp ? "" : " and in the server process")} " +
                      $"but the limit is {limit:N0}. .NET cannot raise it; run `ulimit -n {devices + 1024}` in the shell first, or use fewer --devices. " +
                      "Connections beyond the limit will fail (counted below).");
}

// 1. Baseline: the public-key operations the server does per handshake, each on all cores.
var baselineTime = TimeSpan.FromSeconds(3);
var baseline = udp ? HandshakeBaseline.MeasureEc(baselineTime, cores) : HandshakeBaseline.MeasureRsa(baselineTime, cores);
double handshakeBound = baseline.Bound;
Console.WriteLine($"[1] {baseline.Name} baseline ({cores} threads): {baseline.Describe()} => handshake bound (one of each) {handshakeBound:N0}/s");

// Device keys (RSA-1024 and EC P-256), cached on disk so reruns skip generation.
var watch = Stopwatch.StartNew();
var identities = await DeviceKeyStore.LoadOrGenerateAsync(keyDir, devices, new Progress<int>(n =>
{
    if (n % 1000 == 0)
    {
        Console.WriteLine($"    generated {n:N0} device keys");
    }
}));
Console.WriteLine($"    {identities.Count:N0} device keys ready in {watch.Elapsed.TotalSeconds:0.0} s");

// 2. The real server, in process, on loopback.
await using var server = await StartAsync(settings: new Dictionary<string, string?>
{
    ["Bulwark:Gateway:MaxPendingHandshakes"] = "4096",
});
var user = await server.CreateUserAsync();
using var client = server.CreateClient(user.Token);
client.Timeout = TimeSpan.FromMinutes(5);
var serverPublicPem = (await JsonAsync(await client.GetAsync($"/v1/keys/server?protocol={(udp ? "udp" : "tcp")}"))).GetProperty("public_key").GetString()!;
string ownerId;
using (var scope = server.Services.CreateScope())
{
    // The bus scopes events by user ID, which the API does not show: the SSE baseline publishes into the bus directly.
    var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
    ownerId = db.Users.Where(u => u.Username == user.Username).Select(u => u.Id).Single();
}

watch.Restart();
foreach (var batch in identities.Chunk(5000))
{
    // A Gen3 device has only its EC key registered, so its handshake is checked against that.
    var body = new { devices = batch.Select(d => udp
        ? new { id = d.Id.ToString(), publicKey = d.GetEcPublicKeyPem(), algorithm = DeviceKeyStore.EccAlgorithm }
        : new { id = d.Id.ToString(), publicKey = d.GetPublicKeyPem(), algorithm = "rsa" }).ToArray() };
    await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/provisioning", body));
}
double provisionSeconds = watch.Elapsed.TotalSeconds;
watch.Restart();
await Parallel.ForEachAsync(identities, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (d, token) =>
    await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices", new { id = d.Id.ToString() }, token)));
Console.WriteLine($"    registered {devices:N0} keys (bulk) in {provisionSeconds:0.0} s, claimed them in {watch.Elapsed.TotalSeconds:0.0} s");

var registry = server.Services.GetRequiredService<IDeviceConnectionRegistry>();
var serverIdle = MemoryFigures.Measure();
var dtls = udp ? server.Services.GetRequiredService<UdpDeviceGateway>().Server : null;
await using var fleet = FleetProcess.Start(transport, keyDir, devices, serverPublicPem, udp ? server.UdpGatewayPort : server.GatewayPort, concurrency);
var (fleetEmpty, fleetCreated) = await fleet.ReadyAsync();
Console.WriteLine($"    fleet process {fleet.ProcessId} created {devices:N0} devices");

var (snapshot, connectSeconds) = await fleet.ConnectAsync();
// Successful handshakes counted as they happened (the fleet's DeviceConnected callbacks), not the devices still
// connected at the end: a device that connected and then dropped did its handshake, and is reported as a drop.
int handshakes = snapshot.Handshakes;
int connectDrops = snapshot.Drops;
double handshakesPerSecond = handshakes / connectSeconds;
Console.WriteLine($"[2] {handshakes:N0}/{devices:N0} successful handshakes in {connectSeconds:0.0} s: {handshakesPerSecond:N1} handshakes/s " +
                  $"(= {handshakesPerSecond / handshakeBound:P0} of the {baseline.Name} bound {handshakeBound:N0}/s); still connected {snapshot.Connected:N0}, " +
                  $"dropped after connecting {connectDrops:N0}, handshake failures {snapshot.HandshakeFailures:N0}, other failures {snapshot.OtherFailures:N0}");
if (snapshot.LastDrop is not null)
{
    Console.WriteLine($"    last drop: {snapshot.LastDrop}");
}
if (snapshot.LastError is not null)
{
    Console.WriteLine($"    last error: {snapshot.LastError}");
}

// 3. Idle memory: the server (this process) and the fleet (the child) each measured after full collections.
await Task.Delay(TimeSpan.FromSeconds(3));
var serverConnected = MemoryFigures.Measure();
int serverSessions = Math.Max(1, registry.Count);
var (fleetConnected, fleetConnectedCount) = await fleet.MeasureAsync();
double serverHeapPer = (serverConnected.Heap - serverIdle.Heap) / (double)serverSessions;
double serverWsPer = (serverConnected.WorkingSet - serverIdle.WorkingSet) / (double)serverSessions;
double clientObjectsPer = (fleetCreated.Heap - fleetEmpty.Heap) / (double)devices;
double clientConnectionPer = (fleetConnected.Heap - fleetCreated.Heap) / (double)Math.Max(1, fleetConnectedCount);
double clientWsPer = (fleetConnected.WorkingSet - fleetEmpty.WorkingSet) / (double)devices;
string dtlsSessions = dtls is null ? "" : $" ({dtls.SessionCount:N0} DTLS sessions)";
Console.WriteLine($"[3] idle memory, {registry.Count:N0} sessions on the server{dtlsSessions}: server heap {Mb(serverIdle.Heap)} -> {Mb(serverConnected.Heap)}, " +
                  $"working set {Mb(serverIdle.WorkingSet)} -> {Mb(serverConnected.WorkingSet)}; " +
                  $"fleet heap {Mb(fleetEmpty.Heap)} -> {Mb(fleetCreated.Heap)} (devices created) -> {Mb(fleetConnected.Heap)} ({fleetConnectedCount:N0} connected), " +
                  $"working set {Mb(fleetEmpty.WorkingSet)} -> {Mb(fleetConnected.WorkingSet)}");
Console.WriteLine($"    per idle device: server {serverHeapPer / 1024:0.0} KB heap, {serverWsPer / 1024:0.0} KB working set; " +
                  $"simulated device {clientObjectsPer / 1024:0.0} + {clientConnectionPer / 1024:0.0} KB heap (object + connection), {clientWsPer / 1024:0.0} KB working set");

// 4. Events to one SSE subscriber. It counts `event:` lines by name; it ends early if the bus cuts it off for lagging.
using var sseClient = server.CreateClient(user.Token);
sseClient.Timeout = Timeout.InfiniteTimeSpan;
using var sseCts = new CancellationTokenSource();
using var sseResponse = await sseClient.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/v1/events/bench"), HttpCompletionOption.ResponseHeadersRead);
sseResponse.EnsureSuccessStatusCode();
long baselineEvents = 0;
long deviceEvents = 0;
var sseEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
var sseTask = Task.Run(async () =>
{
    using var reader = new StreamReader(await sseResponse.Content.ReadAsStreamAsync(sseCts.Token));
    try
    {
        while (await reader.ReadLineAsync(sseCts.Token) is { } line)
        {
            if (line.StartsWith("event: bench/baseline", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref baselineEvents);
            }
            else if (line.StartsWith("event: bench/tick", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref deviceEvents);
            }
        }
    }
    catch (Exception e) when (e is OperationCanceledException or IOException)
    {
    }
    sseEnded.TrySetResult();
});

// 4a. Baseline: the same stream fed in process, straight into the server's event bus (so with the same fan-out over the
// owner's connected devices, but no device, socket or decryption), as fast as the subscriber reads it: at most half of
// the bus's per-subscriber buffer in flight, so the lag policy never cuts it off.
var bus = server.Services.GetRequiredService<IEventBus>();
var baselineWindow = TimeSpan.FromSeconds(Math.Min(10, publishSeconds));
long baselineSent = 0;
watch.Restart();
while (watch.Elapsed < baselineWindow && !sseEnded.Task.IsCompleted)
{
    if (baselineSent - Interlocked.Read(ref baselineEvents) >= 512)
    {
        await Task.Delay(1);
        continue;
    }
    for (int i = 0; i < 64; i++)
    {
        bus.Publish(new CloudEvent("bench/baseline", baselineSent.ToString(inv), 60, DateTime.UtcNow, "api", ownerId));
        baselineSent++;
    }
}
while (Interlocked.Read(ref baselineEvents) < baselineSent && !sseEnded.Task.IsCompleted && watch.Elapsed < baselineWindow * 2)
{
    await Task.Delay(1);
}
double baselineSeconds = watch.Elapsed.TotalSeconds;
double baselineRate = Interlocked.Read(ref baselineEvents) / baselineSeconds;
Console.WriteLine($"[4a] SSE baseline: {Interlocked.Read(ref baselineEvents):N0}/{baselineSent:N0} events published into the bus in process reached the subscriber in {baselineSeconds:0.0} s: {baselineRate:N0}/s");

// 4b. Devices publish: each connected device every N/rate seconds (at least 1 s, Particle's per-device limit), staggered.
int connectedNow = (await fleet.SnapshotAsync()).Connected;
var interval = TimeSpan.FromSeconds(Math.Max(1.0, connectedNow / rate));
var (sent, publishElapsed) = await fleet.PublishAsync("bench/tick", interval, TimeSpan.FromSeconds(publishSeconds));
long deliveredAtEnd = Interlocked.Read(ref deviceEvents);
watch.Restart();
// Let in-flight events drain, then stop.
long previous = -1;
for (int i = 0; i < 20 && Interlocked.Read(ref deviceEvents) != previous; i++)
{
    previous = Interlocked.Read(ref deviceEvents);
    await Task.Delay(500);
}
double drainElapsed = watch.Elapsed.TotalSeconds;
long delivered = Interlocked.Read(ref deviceEvents);
bool cutOff = sseEnded.Task.IsCompleted;
await sseCts.CancelAsync();
sseResponse.Dispose();
await sseTask;
double publishRate = sent / publishElapsed;
double deliveredRate = deliveredAtEnd / publishElapsed;
Console.WriteLine($"[4b] publish for {publishElapsed:0.0} s, each device every {interval.TotalSeconds:0.##} s: devices sent {sent:N0} ({publishRate:N0}/s); " +
                  $"SSE subscriber received {deliveredAtEnd:N0} during the window ({deliveredRate:N0}/s), {delivered:N0} after draining {drainElapsed:0.0} s " +
                  $"({(sent == 0 ? 0 : delivered / (double)sent):P1} of sent){(cutOff ? "; THE STREAM WAS CUT OFF (subscriber lagged)" : "")}");

var final = await fleet.SnapshotAsync();
Console.WriteLine();
Console.WriteLine("==================== SUMMARY ====================");
Console.WriteLine($"machine                      {cores} cores, {devices:N0} simulated {(udp ? "Gen3 UDP/DTLS" : "Gen2 TCP")} devices (server here, fleet in process {fleet.ProcessId})");
Console.WriteLine($"{baseline.Name,-28} {baseline.Describe()} on {cores} threads");
Console.WriteLine($"handshake bound              {handshakeBound:N0}/s (= 1 / sum of the per-operation times)");
Console.WriteLine($"handshakes                   {handshakesPerSecond:N1}/s ({handshakes:N0} successful in {connectSeconds:0.0} s), ratio to bound {handshakesPerSecond / handshakeBound:0.00}");
Console.WriteLine($"connect failures             {snapshot.HandshakeFailures:N0} handshake, {snapshot.OtherFailures:N0} other (never got a session)");
Console.WriteLine($"drops                        {connectDrops:N0} during the connect phase, {final.Drops:N0} in the whole run (sessions the server or network ended)");
Console.WriteLine($"server memory / idle device  {serverHeapPer / 1024:0.0} KB managed heap, {serverWsPer / 1024:0.0} KB working set ({registry.Count:N0} sessions{dtlsSessions})");
Console.WriteLine($"fleet memory / idle device   {(clientObjectsPer + clientConnectionPer) / 1024:0.0} KB managed heap, {clientWsPer / 1024:0.0} KB working set (simulated devices, not the server)");
Console.WriteLine($"SSE baseline (bus -> SSE)    {baselineRate:N0}/s");
Console.WriteLine($"events published by devices  {publishRate:N0}/s");
Console.WriteLine($"events delivered to SSE      {deliveredRate:N0}/s (ratio to published {(publishRate == 0 ? 0 : deliveredRate / publishRate):0.00}, to the SSE baseline {(baselineRate == 0 ? 0 : deliveredRate / baselineRate):0.00}; " +
                  $"{delivered:N0}/{sent:N0} after drain{(cutOff ? "; stream cut off" : "")})");
Console.WriteLine($"still connected at the end   {final.Connected:N0}/{devices:N0}");
Console.WriteLine("=================================================");
return 0;

static string Mb(long bytes) => $"{bytes / 1024.0 / 1024.0:0.0} MB";

static long? ReadFdLimit()
{
    try
    {
        foreach (var line in File.ReadLines("/proc/self/limits"))
        {
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.TryParse(parts[3], out var soft) ? soft : null;
            }
        }
    }
    catch (IOException)
    {
    }
    return null;
}
