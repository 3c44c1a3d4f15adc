using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Bulwark.DeviceSim.Devices;
using Bulwark.DeviceSim.Fleet;
using Bulwark.Protocol.Keys;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

// Device gateway benchmark (issue 4, "The bar"): handshakes/s against the machine's raw RSA-2048 private-key
// operations/s (measured in the same run), memory per idle connected device, and events/s from devices to an
// SSE subscriber. Server and simulated fleet share this process (and its cores).
//   dotnet run -c Release --project bench/Bulwark.Gateway.Bench -- --devices 10000 [--quick] [--rate 2000] [--publish-seconds 20] [--keys DIR]
var inv = CultureInfo.InvariantCulture;
int devices = 10000;
int concurrency = 16;
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
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}; usage: [--devices N] [--quick] [--rate EVENTS_PER_S] [--publish-seconds S] [--keys DIR] [--concurrency C]");
            return 2;
    }
}

int cores = Environment.ProcessorCount;
Console.WriteLine($"Bulwark gateway benchmark: {devices:N0} devices, {cores} cores, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC, key cache {keyDir}");
var fdLimit = ReadFdLimit();
Console.WriteLine($"open-file limit (RLIMIT_NOFILE soft): {fdLimit?.ToString(inv) ?? "unknown"}");
// Each device costs two descriptors in this process (client socket + server socket), plus a few hundred for the runtime.
if (fdLimit is long limit && limit < 2L * devices + 512)
{
    Console.WriteLine($"WARNING: {devices:N0} devices need about {2L * devices + 512:N0} file descriptors in this one process (client and server socket each) " +
                      $"but the limit is {limit:N0}. .NET cannot raise it; run `ulimit -n {2L * devices + 1024}` in the shell first, or use fewer --devices. " +
                      "Connections beyond the limit will fail (counted below).");
}

// 1. Baseline: raw RSA-2048 private-key operations, the two the server does per handshake, on all cores.
using var serverKey = ServerPrivateKey.Generate();
using var rsaPublic = RSA.Create();
rsaPublic.ImportSubjectPublicKeyInfo(serverKey.PublicKeySpki, out _);
byte[] ciphertext = rsaPublic.Encrypt(RandomNumberGenerator.GetBytes(40), RSAEncryptionPadding.Pkcs1);
byte[] toSign = RandomNumberGenerator.GetBytes(52);
var baselineTime = TimeSpan.FromSeconds(3);
double decryptsPerSecond = MeasureParallel(baselineTime, cores, () =>
{
    Span<byte> plain = stackalloc byte[256];
    if (!serverKey.TryDecrypt(ciphertext, plain, out _))
    {
        throw new InvalidOperationException("decrypt failed");
    }
});
double signsPerSecond = MeasureParallel(baselineTime, cores, () =>
{
    Span<byte> signature = stackalloc byte[256];
    serverKey.SignPkcs1Type1(toSign, signature);
});
double privateOpsPerSecond = 2 / (1 / decryptsPerSecond + 1 / signsPerSecond);
double handshakeBound = 1 / (1 / decryptsPerSecond + 1 / signsPerSecond);
Console.WriteLine($"[1] RSA-2048 baseline ({cores} threads): decrypt {decryptsPerSecond:N0}/s, raw PKCS#1 type-1 sign {signsPerSecond:N0}/s (native signer: {serverKey.UsesNativeSigner}); " +
                  $"mixed private ops {privateOpsPerSecond:N0}/s => handshake bound (1 decrypt + 1 sign) {handshakeBound:N0}/s");

// Device keys (RSA-1024), cached on disk so reruns skip generation.
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
var serverPublic = ServerPublicKey.FromPem((await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=tcp"))).GetProperty("public_key").GetString()!);

watch.Restart();
foreach (var batch in identities.Chunk(5000))
{
    var body = new { devices = batch.Select(d => new { id = d.Id.ToString(), publicKey = d.GetPublicKeyPem(), algorithm = "rsa" }).ToArray() };
    await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/provisioning", body));
}
double provisionSeconds = watch.Elapsed.TotalSeconds;
watch.Restart();
await Parallel.ForEachAsync(identities, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (d, token) =>
    await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices", new { id = d.Id.ToString() }, token)));
Console.WriteLine($"    registered {devices:N0} keys (bulk) in {provisionSeconds:0.0} s, claimed them in {watch.Elapsed.TotalSeconds:0.0} s");

var (heapEmpty, wsEmpty) = MeasureMemory();
var fleet = new VirtualFleet(identities, serverPublic, "127.0.0.1", server.GatewayPort, new VirtualFleetOptions
{
    // Enough handshakes in flight to keep both cores busy; more only queues work and trips the 4 s Hello timeout on a loaded machine.
    MaxConcurrentConnects = concurrency,
    DeviceOptions = new VirtualDeviceOptions { NotificationCapacity = 0, ServerHelloTimeout = TimeSpan.FromSeconds(30), HandshakeTimeout = TimeSpan.FromSeconds(60) },
});
var (heapFleet, wsFleet) = MeasureMemory();

int handshakesBefore = fleet.Handshakes;
int dropsBefore = fleet.Drops;
watch.Restart();
using var progressCts = new CancellationTokenSource();
var progressTask = Task.Run(async () =>
{
    while (!progressCts.IsCancellationRequested)
    {
        try
        {
            await Task.Delay(5000, progressCts.Token);
        }
        catch (OperationCanceledException)
        {
            break;
        }
        Console.WriteLine($"    {watch.Elapsed.TotalSeconds:0} s: {fleet.GetSnapshot()}");
    }
});
var snapshot = await fleet.ConnectAllAsync();
double connectSeconds = watch.Elapsed.TotalSeconds;
await progressCts.CancelAsync();
await progressTask;
// Successful handshakes counted as they happened (the fleet's DeviceConnected callbacks), not the devices still
// connected at the end: a device that connected and then dropped did its handshake, and is reported as a drop.
int handshakes = snapshot.Handshakes - handshakesBefore;
int connectDrops = snapshot.Drops - dropsBefore;
double handshakesPerSecond = handshakes / connectSeconds;
Console.WriteLine($"[2] {handshakes:N0}/{devices:N0} successful handshakes in {connectSeconds:0.0} s: {handshakesPerSecond:N0} handshakes/s " +
                  $"(= {handshakesPerSecond / handshakeBound:P0} of the RSA bound {handshakeBound:N0}/s); still connected {snapshot.Connected:N0}, " +
                  $"dropped after connecting {connectDrops:N0}, handshake failures {snapshot.HandshakeFailures:N0}, other failures {snapshot.OtherFailures:N0}");
if (snapshot.LastDrop is not null)
{
    Console.WriteLine($"    last drop: {snapshot.LastDrop}");
}
if (snapshot.LastError is not null)
{
    Console.WriteLine($"    last error: {snapshot.LastError}");
    if (snapshot.LastError.Contains("Too many open files", StringComparison.OrdinalIgnoreCase) || snapshot.Connected < devices && fdLimit < 2L * devices + 512)
    {
        Console.WriteLine("    file descriptors ran out: raise `ulimit -n` in the shell before running, or lower --devices.");
    }
}

// 3. Idle memory: let handshake garbage settle, then measure.
await Task.Delay(TimeSpan.FromSeconds(3));
var (heapConnected, wsConnected) = MeasureMemory();
// Per device: the VirtualDevice objects exist for all N devices; the connection state only for those actually connected
// when memory was measured.
int connectedAtMeasure = fleet.ConnectedCount;
int connected = Math.Max(1, connectedAtMeasure);
double clientObjectsPer = (heapFleet - heapEmpty) / (double)devices;
double connectionHeapPer = (heapConnected - heapFleet) / (double)connected;
double totalHeapPer = clientObjectsPer + connectionHeapPer;
double wsClientObjectsPer = (wsFleet - wsEmpty) / (double)devices;
double wsConnectionPer = (wsConnected - wsFleet) / (double)connected;
double wsPer = wsClientObjectsPer + wsConnectionPer;
Console.WriteLine($"[3] idle memory, {connectedAtMeasure:N0} connected: managed heap {Kb(heapEmpty)} -> {Kb(heapFleet)} (fleet objects) -> {Kb(heapConnected)} (connected); " +
                  $"working set {Mb(wsEmpty)} -> {Mb(wsFleet)} -> {Mb(wsConnected)}");
Console.WriteLine($"    per device: client VirtualDevice objects {clientObjectsPer / 1024:0.0} KB heap; connecting adds {connectionHeapPer / 1024:0.0} KB heap " +
                  $"(server session + client session, both here); working set {wsClientObjectsPer / 1024:0.0} + {wsConnectionPer / 1024:0.0} = {wsPer / 1024:0.0} KB/device");

// 4. Events from devices to one SSE subscriber.
using var sseClient = server.CreateClient(user.Token);
sseClient.Timeout = Timeout.InfiniteTimeSpan;
using var sseCts = new CancellationTokenSource();
using var sseResponse = await sseClient.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/v1/devices/events/bench"), HttpCompletionOption.ResponseHeadersRead);
sseResponse.EnsureSuccessStatusCode();
long sseEvents = 0;
var sseTask = Task.Run(async () =>
{
    using var reader = new StreamReader(await sseResponse.Content.ReadAsStreamAsync(sseCts.Token));
    try
    {
        while (await reader.ReadLineAsync(sseCts.Token) is { } line)
        {
            if (line.StartsWith("event:", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref sseEvents);
            }
        }
    }
    catch (Exception e) when (e is OperationCanceledException or IOException)
    {
    }
});
await Task.Delay(500);
// Each connected device publishes every N/rate seconds (at least 1 s, Particle's per-device limit), staggered.
var interval = TimeSpan.FromSeconds(Math.Max(1.0, fleet.ConnectedCount / rate));
long sentBefore = fleet.EventsSent;
using var publishCts = new CancellationTokenSource(TimeSpan.FromSeconds(publishSeconds));
watch.Restart();
try
{
    await fleet.RunPublishersAsync("bench/tick", interval, cancellationToken: publishCts.Token);
}
catch (OperationCanceledException)
{
}
double publishElapsed = watch.Elapsed.TotalSeconds;
long sent = fleet.EventsSent - sentBefore;
long deliveredAtEnd = Interlocked.Read(ref sseEvents);
// Let in-flight events drain, then stop.
long previous = -1;
for (int i = 0; i < 20 && Interlocked.Read(ref sseEvents) != previous; i++)
{
    previous = Interlocked.Read(ref sseEvents);
    await Task.Delay(500);
}
double drainElapsed = watch.Elapsed.TotalSeconds;
long delivered = Interlocked.Read(ref sseEvents);
await sseCts.CancelAsync();
sseResponse.Dispose();
await sseTask;
double publishRate = sent / publishElapsed;
double deliveredRate = deliveredAtEnd / publishElapsed;
Console.WriteLine($"[4] publish for {publishElapsed:0.0} s, each device every {interval.TotalSeconds:0.##} s: devices sent {sent:N0} ({publishRate:N0}/s); " +
                  $"SSE subscriber received {deliveredAtEnd:N0} during the window ({deliveredRate:N0}/s), {delivered:N0} after draining {drainElapsed - publishElapsed:0.0} s " +
                  $"({(sent == 0 ? 0 : delivered / (double)sent):P1} of sent)");

var final = fleet.GetSnapshot();
Console.WriteLine();
Console.WriteLine("==================== SUMMARY ====================");
Console.WriteLine($"machine                      {cores} cores, {devices:N0} simulated devices (server + fleet in one process)");
Console.WriteLine($"RSA-2048 decrypt / sign      {decryptsPerSecond:N0}/s / {signsPerSecond:N0}/s on {cores} threads; private ops {privateOpsPerSecond:N0}/s");
Console.WriteLine($"handshake bound              {handshakeBound:N0}/s (= private ops/s / 2)");
Console.WriteLine($"handshakes                   {handshakesPerSecond:N0}/s ({handshakes:N0} successful in {connectSeconds:0.0} s), ratio to bound {handshakesPerSecond / handshakeBound:0.00}");
Console.WriteLine($"connect failures             {snapshot.HandshakeFailures:N0} handshake, {snapshot.OtherFailures:N0} other (never got a session)");
Console.WriteLine($"drops                        {connectDrops:N0} during the connect phase, {final.Drops - dropsBefore:N0} in the whole run (sessions the server or network ended)");
Console.WriteLine($"memory / idle device         {totalHeapPer / 1024:0.0} KB managed heap (client+server, {connectedAtMeasure:N0} connected), of which {clientObjectsPer / 1024:0.0} KB client objects; connection state {connectionHeapPer / 1024:0.0} KB");
Console.WriteLine($"working set / idle device    {wsPer / 1024:0.0} KB total (client+server), of which {wsClientObjectsPer / 1024:0.0} KB client objects; connection state {wsConnectionPer / 1024:0.0} KB");
Console.WriteLine($"events published by devices  {publishRate:N0}/s");
Console.WriteLine($"events delivered to SSE      {deliveredRate:N0}/s (ratio to published {(publishRate == 0 ? 0 : deliveredRate / publishRate):0.00}; {delivered:N0}/{sent:N0} after drain)");
Console.WriteLine($"still connected at the end   {final.Connected:N0}/{devices:N0}");
Console.WriteLine("=================================================");

watch.Restart();
await fleet.DisposeAsync();
Console.WriteLine($"fleet disconnected in {watch.Elapsed.TotalSeconds:0.0} s");
return 0;

static double MeasureParallel(TimeSpan duration, int threads, Action action)
{
    action();
    long count = 0;
    var watch = Stopwatch.StartNew();
    Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ =>
    {
        long local = 0;
        while (watch.Elapsed < duration)
        {
            action();
            local++;
        }
        Interlocked.Add(ref count, local);
    });
    return count / watch.Elapsed.TotalSeconds;
}

static (long Heap, long WorkingSet) MeasureMemory()
{
    for (int i = 0; i < 3; i++)
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
    }
    long heap = GC.GetTotalMemory(forceFullCollection: true);
    using var process = Process.GetCurrentProcess();
    process.Refresh();
    return (heap, process.WorkingSet64);
}

static string Kb(long bytes) => $"{bytes / 1024.0 / 1024.0:0.0} MB";

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
