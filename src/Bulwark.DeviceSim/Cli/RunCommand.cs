using System.CommandLine;
using System.Diagnostics;
using Bulwark.DeviceSim.Devices;
using Bulwark.DeviceSim.Fleet;

namespace Bulwark.DeviceSim.Cli;

/// <summary><c>bulwark-sim run</c>: connect a fleet to a server, optionally publish, until Ctrl+C or <c>--duration</c>.</summary>
internal static class RunCommand
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(2);

    public static Command Create(SimConsole console)
    {
        var server = new Option<string?>("--server") { Description = "HOST[:PORT] of the device gateway (port 5683 for TCP and 5684 for UDP by default; may be omitted when the server key blob names a host)" };
        var serverKey = new Option<string>("--server-key") { Description = "The server's public key for the transport: TCP: PEM, RSA-2048 SPKI DER or the 512-byte blob; UDP: PEM, EC P-256 SPKI DER or the 320-byte blob", Required = true };
        var transport = new Option<DeviceTransport>("--transport") { Description = "tcp (Gen2, port 5683) or udp (Gen3 DTLS, port 5684; uses each device's EC key)", DefaultValueFactory = _ => DeviceTransport.Tcp };
        var keys = new Option<string>("--keys") { Description = "Key folder written by 'bulwark-sim keys generate'", Required = true };
        var count = new Option<int?>("--count") { Description = "How many devices to run (default: every key in the folder)" };
        var productId = new Option<ushort?>("--product-id") { Description = "Product ID in Hello (default: the platform ID, as Device OS sends it)" };
        var productVersion = new Option<ushort>("--product-version") { Description = "Product firmware version in Hello", DefaultValueFactory = _ => 1 };
        var platform = new Option<ushort>("--platform") { Description = "Platform ID in Hello (6 = Photon)", DefaultValueFactory = _ => 6 };
        var systemVersion = new Option<ushort>("--system-version") { Description = "Device OS version in Hello and Describe (6200 = 6.2.0)", DefaultValueFactory = _ => 6200 };
        var publishEvery = new Option<double?>("--publish-every") { Description = "Each device publishes an event every this many seconds" };
        var eventName = new Option<string>("--event") { Description = "Name of the published event", DefaultValueFactory = _ => "sim/heartbeat" };
        var concurrency = new Option<int>("--concurrency") { Description = "Handshakes in flight at once", DefaultValueFactory = _ => 64 };
        var duration = new Option<double?>("--duration") { Description = "Stop after this many seconds (default: run until Ctrl+C)" };
        var reconnect = new Option<bool>("--reconnect") { Description = "Reconnect devices whose connection drops" };

        var command = new Command("run", "Connect virtual devices to a Bulwark (or any Particle-compatible) device gateway")
        {
            server, serverKey, transport, keys, count, productId, productVersion, platform, systemVersion, publishEvery, eventName, concurrency, duration, reconnect,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(count) is < 1)
            {
                result.AddError("--count must be at least 1.");
            }

            if (result.GetValue(publishEvery) is <= 0)
            {
                result.AddError("--publish-every must be a positive number of seconds.");
            }

            if (result.GetValue(duration) is <= 0)
            {
                result.AddError("--duration must be a positive number of seconds.");
            }
        });

        command.SetAction((parse, cancellationToken) => SimCli.Guard(console, () => RunAsync(console, new RunSettings(
            parse.GetValue(server),
            parse.GetValue(serverKey)!,
            parse.GetValue(transport),
            parse.GetValue(keys)!,
            parse.GetValue(count),
            parse.GetValue(productId),
            parse.GetValue(productVersion),
            parse.GetValue(platform),
            parse.GetValue(systemVersion),
            parse.GetValue(publishEvery) is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
            parse.GetValue(eventName)!,
            parse.GetValue(concurrency),
            parse.GetValue(duration) is { } limit ? TimeSpan.FromSeconds(limit) : null,
            parse.GetValue(reconnect)), cancellationToken)));
        return command;
    }

    private static async Task<int> RunAsync(SimConsole console, RunSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Concurrency < 1)
        {
            throw new SimCliException(SimExitCodes.Usage, "--concurrency must be at least 1");
        }

        bool udp = settings.Transport == DeviceTransport.Udp;
        ServerKeyInfo? serverKey = null;
        ServerEcKeyInfo? serverEcKey = null;
        try
        {
            if (udp)
            {
                serverEcKey = ServerKeyFile.LoadEc(settings.ServerKeyPath);
            }
            else
            {
                serverKey = ServerKeyFile.Load(settings.ServerKeyPath);
            }
        }
        catch (FormatException e)
        {
            throw new SimCliException(SimExitCodes.Usage, $"bad server key file: {e.Message}", e);
        }

        ServerAddress address = ResolveAddress(settings.Server, serverKey?.Host ?? serverEcKey?.Host, serverKey?.Port ?? serverEcKey?.Port,
            udp ? ServerAddress.DefaultUdpPort : ServerAddress.DefaultTcpPort);
        IReadOnlyList<DeviceIdentity> identities = DeviceKeyStore.Load(settings.KeysPath, settings.Count);
        if (identities.Count == 0)
        {
            throw new SimCliException(SimExitCodes.Usage, $"no device keys in {settings.KeysPath}; run 'bulwark-sim keys generate --out {settings.KeysPath} --count N'");
        }

        if (settings.Count is { } wanted && identities.Count < wanted)
        {
            throw new SimCliException(SimExitCodes.Usage, $"--count {wanted} but {settings.KeysPath} holds only {identities.Count} device keys");
        }

        if (udp && identities.Count(identity => !identity.HasEcKey) is > 0 and int missing)
        {
            // Keys from before EC support: make them now, but the server cannot know them yet.
            IReadOnlyList<DeviceIdentity> all = await DeviceKeyStore.AddMissingEcKeysAsync(settings.KeysPath, DeviceKeyStore.Load(settings.KeysPath), cancellationToken);
            await DeviceKeyStore.WriteManifestsAsync(settings.KeysPath, all, cancellationToken);
            throw new SimCliException(SimExitCodes.Usage,
                $"{missing} devices in {settings.KeysPath} had no EC key for UDP; generated them now. Register {Path.Combine(settings.KeysPath, DeviceKeyStore.JsonManifestName)} again (its \"ecc\" rows) and rerun");
        }

        var deviceOptions = new VirtualDeviceOptions
        {
            Transport = settings.Transport,
            ServerEcPublicKey = serverEcKey?.Spki,
            PlatformId = settings.Platform,
            ProductId = settings.ProductId,
            ProductFirmwareVersion = settings.ProductVersion,
            SystemVersion = settings.SystemVersion,
            NotificationCapacity = 0,
            AutoReconnect = settings.Reconnect,
        };
        await using var fleet = new VirtualFleet(identities, serverKey?.Key, address.Host, address.Port, new VirtualFleetOptions
        {
            DeviceOptions = deviceOptions,
            MaxConcurrentConnects = settings.Concurrency,
        });

        await console.Out.WriteLineAsync($"Connecting {identities.Count} devices to {address} over {(udp ? "UDP/DTLS" : "TCP")} (platform {settings.Platform}, product {settings.ProductId ?? settings.Platform} v{settings.ProductVersion}, Device OS {settings.SystemVersion}).");
        await ProbeAsync(fleet.Devices[0], address, cancellationToken);

        var clock = Stopwatch.StartNew();
        using var reporting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task reporter = ReportProgressAsync(console, fleet, clock, reporting.Token);
        FleetSnapshot connected = await fleet.ConnectAllAsync(cancellationToken);
        await console.Out.WriteLineAsync($"[{clock.Elapsed.TotalSeconds,6:0.0}s] connect phase done: {connected}");
        if (connected.Connected == 0)
        {
            await reporting.CancelAsync();
            await reporter;
            throw new SimCliException(
                connected.HandshakeFailures > 0 ? SimExitCodes.HandshakeRefused : SimExitCodes.Error,
                $"no device connected; last error: {connected.LastError}");
        }

        if (connected.LastError is { } lastError)
        {
            await console.Error.WriteLineAsync($"warning: some devices failed to connect; last error: {lastError}");
        }

        using var running = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (settings.Duration is { } limit)
        {
            running.CancelAfter(limit);
        }

        try
        {
            if (settings.PublishEvery is { } interval)
            {
                await console.Out.WriteLineAsync($"Publishing '{settings.EventName}' from every device every {interval.TotalSeconds:0.###} s. Ctrl+C to stop.");
                await fleet.RunPublishersAsync(settings.EventName, interval, cancellationToken: running.Token);
            }
            else
            {
                await console.Out.WriteLineAsync("Devices connected and idle (answering pings, functions, variables). Ctrl+C to stop.");
                await Task.Delay(Timeout.Infinite, running.Token);
            }
        }
        catch (OperationCanceledException) when (running.IsCancellationRequested)
        {
        }

        await reporting.CancelAsync();
        await reporter;
        await console.Out.WriteLineAsync("Disconnecting (Goodbye)...");
        using (var goodbye = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            try
            {
                await fleet.DisconnectAllAsync(goodbye.Token);
            }
            catch (OperationCanceledException)
            {
                await console.Error.WriteLineAsync("warning: not every device finished its Goodbye in time");
            }
        }

        await console.Out.WriteLineAsync($"[{clock.Elapsed.TotalSeconds,6:0.0}s] done: {fleet.GetSnapshot()}");
        return SimExitCodes.Ok;
    }

    // One device first, so an unreachable server or unregistered keys give one clear error instead of N.
    private static async Task ProbeAsync(VirtualDevice device, ServerAddress address, CancellationToken cancellationToken)
    {
        try
        {
            await device.ConnectAsync(cancellationToken);
        }
        catch (VirtualDeviceException e) when (e.Failure == ConnectFailure.Unreachable)
        {
            throw new SimCliException(SimExitCodes.Unreachable, $"cannot reach the device gateway at {address}: {e.Message}", e);
        }
        catch (VirtualDeviceException e) when (e.Failure == ConnectFailure.Handshake)
        {
            throw new SimCliException(
                SimExitCodes.HandshakeRefused,
                $"the server refused device {device.Id}: {e.Message} Register the keys (devices.json) with the server and check --server-key.",
                e);
        }
        catch (VirtualDeviceException e)
        {
            throw new SimCliException(SimExitCodes.Error, $"device {device.Id} could not connect to {address}: {e.Message}", e);
        }
    }

    private static ServerAddress ResolveAddress(string? server, string? blobHost, int? blobPort, int defaultPort)
    {
        if (server is not null)
        {
            return ServerAddress.TryParse(server, out ServerAddress? parsed, defaultPort)
                ? parsed
                : throw new SimCliException(SimExitCodes.Usage, $"--server '{server}' is not HOST[:PORT]");
        }

        if (blobHost is { } host)
        {
            return new ServerAddress(host, blobPort ?? defaultPort);
        }

        throw new SimCliException(SimExitCodes.Usage, "--server is required (the server key file names no host)");
    }

    private static async Task ReportProgressAsync(SimConsole console, VirtualFleet fleet, Stopwatch clock, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(ProgressInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                await console.Out.WriteLineAsync($"[{clock.Elapsed.TotalSeconds,6:0.0}s] {fleet.GetSnapshot()}");
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed record RunSettings(
        string? Server,
        string ServerKeyPath,
        DeviceTransport Transport,
        string KeysPath,
        int? Count,
        ushort? ProductId,
        ushort ProductVersion,
        ushort Platform,
        ushort SystemVersion,
        TimeSpan? PublishEvery,
        string EventName,
        int Concurrency,
        TimeSpan? Duration,
        bool Reconnect);
}
