using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading.Channels;
using Bulwark.DeviceSim.Devices;
using Bulwark.DeviceSim.Fleet;
using Bulwark.Protocol.Keys;

/// <summary>
/// The simulated fleet runs in a child process (this benchmark re-executed with <see cref="ChildFlag"/>), so the server's
/// sockets and the devices' sockets are counted against two processes' open-file limits (10,000 devices need about 10,000
/// descriptors on each side for TCP; for UDP the fleet's side only), and so the server's memory is measured without the fleet in it. The parent drives the child
/// with one-line commands on its stdin; the child answers each with one line starting with <c>@</c> on its stdout and
/// prints progress on other lines.
/// </summary>
internal sealed class FleetProcess : IAsyncDisposable
{
    public const string ChildFlag = "--fleet-child";

    private readonly Process _process;
    private readonly Channel<string> _answers = Channel.CreateUnbounded<string>();
    private readonly Task _stdout;
    private readonly Task _stderr;

    private FleetProcess(Process process)
    {
        _process = process;
        _stdout = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.StartsWith('@'))
                {
                    _answers.Writer.TryWrite(line[1..]);
                }
                else
                {
                    Console.WriteLine("    [fleet] " + line);
                }
            }
            _answers.Writer.TryComplete();
        });
        _stderr = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
            {
                Console.Error.WriteLine("    [fleet] " + line);
            }
        });
    }

    public int ProcessId => _process.Id;

    /// <summary>Starts the child: it loads <paramref name="devices"/> keys from <paramref name="keyDir"/>, measures its own
    /// memory, creates the (unconnected) devices and measures again; <see cref="ReadyAsync"/> answers both.</summary>
    /// <param name="serverKeyPem">The server's public key for <paramref name="transport"/>: RSA for TCP, EC for UDP.</param>
    public static FleetProcess Start(DeviceTransport transport, string keyDir, int devices, string serverKeyPem, int port, int concurrency)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Run as `dotnet run` does (the apphost) or as `dotnet Bench.dll` does.
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot locate this executable");
        start.FileName = self;
        if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            start.ArgumentList.Add(typeof(FleetProcess).Assembly.Location);
        }
        var serverKeyFile = Path.Combine(Path.GetTempPath(), $"bulwark-bench-server-{Environment.ProcessId}.pem");
        File.WriteAllText(serverKeyFile, serverKeyPem);
        foreach (var arg in new[]
                 {
                     ChildFlag, "--transport", transport.ToString(), "--keys", keyDir, "--devices", devices.ToString(CultureInfo.InvariantCulture), "--server-key", serverKeyFile,
                     "--port", port.ToString(CultureInfo.InvariantCulture), "--concurrency", concurrency.ToString(CultureInfo.InvariantCulture),
                 })
        {
            start.ArgumentList.Add(arg);
        }
        return new FleetProcess(Process.Start(start) ?? throw new InvalidOperationException("could not start the fleet process"));
    }

    public async Task<(MemoryFigures Empty, MemoryFigures Created)> ReadyAsync()
    {
        var parts = (await NextAnswerAsync("ready")).Split(' ');
        return (MemoryFigures.Parse(parts[0], parts[1]), MemoryFigures.Parse(parts[2], parts[3]));
    }

    /// <summary>Connects every device; the fleet's snapshot and the seconds the connect phase took.</summary>
    public async Task<(FleetSnapshot Snapshot, double Seconds)> ConnectAsync()
    {
        var answer = await CommandAsync("connect", "connected");
        var space = answer.IndexOf(' ', StringComparison.Ordinal);
        return (JsonSerializer.Deserialize<FleetSnapshot>(answer[(space + 1)..])!, double.Parse(answer[..space], CultureInfo.InvariantCulture));
    }

    public async Task<FleetSnapshot> SnapshotAsync() => JsonSerializer.Deserialize<FleetSnapshot>(await CommandAsync("snapshot", "snapshot"))!;

    /// <summary>The child's memory after a full collection, and its devices connected at that moment.</summary>
    public async Task<(MemoryFigures Memory, int Connected)> MeasureAsync()
    {
        var parts = (await CommandAsync("memory", "memory")).Split(' ');
        return (MemoryFigures.Parse(parts[0], parts[1]), int.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    /// <summary>Every connected device publishes <paramref name="name"/> every <paramref name="interval"/> for
    /// <paramref name="duration"/>; answers the events sent and the seconds it took.</summary>
    public async Task<(long Sent, double Seconds)> PublishAsync(string name, TimeSpan interval, TimeSpan duration)
    {
        var parts = (await CommandAsync(string.Create(CultureInfo.InvariantCulture, $"publish {name} {interval.TotalSeconds} {duration.TotalSeconds}"), "published")).Split(' ');
        return (long.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await CommandAsync("quit", "bye").WaitAsync(TimeSpan.FromSeconds(60));
            }
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception e) when (e is TimeoutException or IOException or InvalidOperationException)
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
        }
        await Task.WhenAll(_stdout, _stderr);
        _process.Dispose();
    }

    private async Task<string> CommandAsync(string command, string answer)
    {
        await _process.StandardInput.WriteLineAsync(command);
        await _process.StandardInput.FlushAsync();
        return await NextAnswerAsync(answer);
    }

    private async Task<string> NextAnswerAsync(string expected)
    {
        if (!await _answers.Reader.WaitToReadAsync())
        {
            throw new InvalidOperationException($"the fleet process ended (exit code {(_process.HasExited ? _process.ExitCode : -1)}) before answering {expected}");
        }
        var line = await _answers.Reader.ReadAsync();
        if (!line.StartsWith(expected, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"the fleet process answered '{line}' where '{expected}' was expected");
        }
        return line.Length > expected.Length ? line[(expected.Length + 1)..] : "";
    }

    /// <summary>The child's side: runs until stdin says quit (or closes).</summary>
    public static async Task<int> RunChildAsync(string[] args)
    {
        string keyDir = "";
        int devices = 0;
        string serverKeyFile = "";
        int port = 0;
        int concurrency = 16;
        var transport = DeviceTransport.Tcp;
        for (int i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--transport": transport = Enum.Parse<DeviceTransport>(args[++i]); break;
                case "--keys": keyDir = args[++i]; break;
                case "--devices": devices = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--server-key": serverKeyFile = args[++i]; break;
                case "--port": port = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--concurrency": concurrency = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException("unknown fleet argument " + args[i]);
            }
        }
        var serverKeyPem = await File.ReadAllTextAsync(serverKeyFile);
        File.Delete(serverKeyFile);
        // A loaded machine should measure throughput, not the client's 4 s Hello timeout.
        var deviceOptions = new VirtualDeviceOptions { NotificationCapacity = 0, ServerHelloTimeout = TimeSpan.FromSeconds(30), HandshakeTimeout = TimeSpan.FromSeconds(60) };
        ServerPublicKey? serverKey = null;
        if (transport == DeviceTransport.Udp)
        {
            using var ec = ECDsa.Create();
            ec.ImportFromPem(serverKeyPem);
            deviceOptions = deviceOptions with { Transport = DeviceTransport.Udp, ServerEcPublicKey = ec.ExportSubjectPublicKeyInfo(), PlatformId = 12 };
        }
        else
        {
            serverKey = ServerPublicKey.FromPem(serverKeyPem);
        }
        var identities = DeviceKeyStore.Load(keyDir, devices);
        var empty = MemoryFigures.Measure();
        var fleet = new VirtualFleet(identities, serverKey, "127.0.0.1", port, new VirtualFleetOptions
        {
            // Enough handshakes in flight to keep both cores busy; more only queues work.
            MaxConcurrentConnects = concurrency,
            DeviceOptions = deviceOptions,
        });
        var created = MemoryFigures.Measure();
        Answer($"ready {empty} {created}");
        try
        {
            while (Console.ReadLine() is { } command)
            {
                var words = command.Split(' ');
                switch (words[0])
                {
                    case "connect":
                        var watch = Stopwatch.StartNew();
                        using (var progress = new CancellationTokenSource())
                        {
                            var reporter = ReportProgressAsync(fleet, watch, progress.Token);
                            var snapshot = await fleet.ConnectAllAsync();
                            var seconds = watch.Elapsed.TotalSeconds;
                            await progress.CancelAsync();
                            await reporter;
                            Answer(string.Create(CultureInfo.InvariantCulture, $"connected {seconds} {JsonSerializer.Serialize(snapshot)}"));
                        }
                        break;
                    case "snapshot":
                        Answer("snapshot " + JsonSerializer.Serialize(fleet.GetSnapshot()));
                        break;
                    case "memory":
                        await Task.Delay(TimeSpan.FromSeconds(3)); // Let handshake garbage settle.
                        var memory = MemoryFigures.Measure();
                        Answer(string.Create(CultureInfo.InvariantCulture, $"memory {memory} {fleet.ConnectedCount}"));
                        break;
                    case "publish":
                        var interval = TimeSpan.FromSeconds(double.Parse(words[2], CultureInfo.InvariantCulture));
                        var before = fleet.EventsSent;
                        var publishWatch = Stopwatch.StartNew();
                        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(double.Parse(words[3], CultureInfo.InvariantCulture))))
                        {
                            try
                            {
                                await fleet.RunPublishersAsync(words[1], interval, cancellationToken: stop.Token);
                            }
                            catch (OperationCanceledException)
                            {
                            }
                        }
                        Answer(string.Create(CultureInfo.InvariantCulture, $"published {fleet.EventsSent - before} {publishWatch.Elapsed.TotalSeconds}"));
                        break;
                    case "quit":
                        return 0;
                    default:
                        Console.Error.WriteLine("unknown command " + command);
                        return 2;
                }
            }
            return 0;
        }
        finally
        {
            var watch = Stopwatch.StartNew();
            await fleet.DisposeAsync();
            Console.WriteLine($"fleet disconnected in {watch.Elapsed.TotalSeconds:0.0} s");
            Answer("bye");
        }
    }

    private static async Task ReportProgressAsync(VirtualFleet fleet, Stopwatch watch, CancellationToken cancellationToken)
    {
        int previous = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(10), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var snapshot = fleet.GetSnapshot();
            // The rate over the last interval shows whether connecting slows down as the fleet grows.
            Console.WriteLine($"{watch.Elapsed.TotalSeconds:0} s: {snapshot}; last 10 s: {(snapshot.Handshakes - previous) / 10.0:0.0} handshakes/s");
            previous = snapshot.Handshakes;
        }
    }

    private static void Answer(string line)
    {
        Console.Out.WriteLine("@" + line);
        Console.Out.Flush();
    }
}

/// <summary>A process's managed heap after full collections, and its working set.</summary>
internal readonly record struct MemoryFigures(long Heap, long WorkingSet)
{
    public static MemoryFigures Measure()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        // Aggressive: hand freed segments back to the OS, so the working set tracks live memory, not the last burst's garbage.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        long heap = GC.GetTotalMemory(forceFullCollection: true);
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return new MemoryFigures(heap, process.WorkingSet64);
    }

    public static MemoryFigures Parse(string heap, string workingSet) =>
        new(long.Parse(heap, CultureInfo.InvariantCulture), long.Parse(workingSet, CultureInfo.InvariantCulture));

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Heap} {WorkingSet}");
}
