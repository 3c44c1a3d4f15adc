using System.Net;
using System.Net.Sockets;
using Bulwark.DeviceSim.Devices;
using Bulwark.Protocol.Keys;

namespace Bulwark.DeviceSim.Fleet;

/// <summary>How a <see cref="VirtualFleet"/> runs its devices.</summary>
public sealed record VirtualFleetOptions
{
    /// <summary>Handshakes in flight at once; bounds the server's backlog and our own CPU.</summary>
    public int MaxConcurrentConnects { get; init; } = 64;

    /// <summary>Options for every device; notifications are off by default so idle devices hold no queues.</summary>
    public VirtualDeviceOptions DeviceOptions { get; init; } = new() { NotificationCapacity = 0 };
}

/// <summary>Counters for a fleet at one moment.</summary>
public sealed record FleetSnapshot(int Devices, int Connected, int ConnectAttempts, int HandshakeFailures, int OtherFailures, long EventsSent, string? LastError)
{
    public override string ToString() =>
        $"connected {Connected}/{Devices}, handshake failures {HandshakeFailures}, other failures {OtherFailures}, events sent {EventsSent}";
}

/// <summary>
/// Thousands of <see cref="VirtualDevice"/>s in one process against one server: shared server key, one key per device
/// (load them with <see cref="DeviceKeyStore"/>), connections opened with bounded concurrency, counters for load tests.
/// </summary>
public sealed class VirtualFleet : IAsyncDisposable
{
    private readonly VirtualDevice[] _devices;
    private readonly VirtualFleetOptions _options;
    private int _connected;
    private int _attempts;
    private int _handshakeFailures;
    private int _otherFailures;
    private long _eventsSent;
    private string? _lastError;

    public VirtualFleet(IEnumerable<DeviceIdentity> identities, ServerPublicKey serverKey, string host, int port, VirtualFleetOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(identities);
        ArgumentNullException.ThrowIfNull(serverKey);
        ArgumentException.ThrowIfNullOrEmpty(host);
        _options = options ?? new VirtualFleetOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxConcurrentConnects, 1);
        // Resolve once: ten thousand connects should not mean ten thousand DNS look-ups.
        string address = IPAddress.TryParse(host, out _) ? host : ResolveHost(host);
        _devices = identities.Select(identity => CreateDevice(identity, serverKey, address, port)).ToArray();
    }

    public IReadOnlyList<VirtualDevice> Devices => _devices;

    public int ConnectedCount => Volatile.Read(ref _connected);

    public int HandshakeFailures => Volatile.Read(ref _handshakeFailures);

    public long EventsSent => Interlocked.Read(ref _eventsSent);

    public FleetSnapshot GetSnapshot() => new(
        _devices.Length,
        Volatile.Read(ref _connected),
        Volatile.Read(ref _attempts),
        Volatile.Read(ref _handshakeFailures),
        Volatile.Read(ref _otherFailures),
        Interlocked.Read(ref _eventsSent),
        Volatile.Read(ref _lastError));

    /// <summary>Connects every disconnected device, at most <see cref="VirtualFleetOptions.MaxConcurrentConnects"/> at a time. Failures are counted, not thrown.</summary>
    public async Task<FleetSnapshot> ConnectAllAsync(CancellationToken cancellationToken = default)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = _options.MaxConcurrentConnects, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(_devices.Where(d => d.State == VirtualDeviceState.Disconnected), parallel, async (device, token) =>
        {
            Interlocked.Increment(ref _attempts);
            try
            {
                await device.ConnectAsync(token).ConfigureAwait(false);
            }
            catch (VirtualDeviceException e)
            {
                if (e.Failure == ConnectFailure.Handshake)
                {
                    Interlocked.Increment(ref _handshakeFailures);
                }
                else
                {
                    Interlocked.Increment(ref _otherFailures);
                }

                Volatile.Write(ref _lastError, $"{device.Id}: {e.Message}");
            }
            catch (InvalidOperationException)
            {
                // Connected meanwhile (auto-reconnect); nothing to do.
            }
        }).ConfigureAwait(false);
        return GetSnapshot();
    }

    /// <summary>Has every connected device publish <paramref name="eventName"/> every <paramref name="interval"/>, staggered, until cancelled.</summary>
    /// <param name="data">The payload for a device's n-th event; null sends the counter.</param>
    public Task RunPublishersAsync(string eventName, TimeSpan interval, Func<VirtualDevice, long, string>? data = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        TimeProvider time = _options.DeviceOptions.TimeProvider;
        return Task.WhenAll(_devices.Select((device, index) => PublishLoopAsync(device, index, eventName, interval, data, time, cancellationToken)));
    }

    /// <summary>Sends Goodbye and closes every device, with bounded concurrency.</summary>
    public async Task DisconnectAllAsync(CancellationToken cancellationToken = default)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(_options.MaxConcurrentConnects, 256), CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(_devices, parallel, async (device, token) => await device.DisconnectAsync(token).ConfigureAwait(false)).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await DisconnectAllAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Disposal below closes whatever did not say Goodbye in time.
        }

        foreach (VirtualDevice device in _devices)
        {
            await device.DisposeAsync().ConfigureAwait(false);
        }
    }

    private VirtualDevice CreateDevice(DeviceIdentity identity, ServerPublicKey serverKey, string host, int port)
    {
        var device = new VirtualDevice(identity, serverKey, host, port, _options.DeviceOptions);
        device.Notified += OnNotified;
        return device;
    }

    private void OnNotified(VirtualDevice device, DeviceNotification notification)
    {
        switch (notification)
        {
            case DeviceConnected:
                Interlocked.Increment(ref _connected);
                break;
            case DeviceDisconnected:
                Interlocked.Decrement(ref _connected);
                break;
        }
    }

    private async Task PublishLoopAsync(VirtualDevice device, int index, string eventName, TimeSpan interval, Func<VirtualDevice, long, string>? data, TimeProvider time, CancellationToken cancellationToken)
    {
        // Spread the fleet's publishes over the interval instead of sending them in one burst.
        TimeSpan offset = interval * ((double)index / Math.Max(1, _devices.Length));
        long sequence = 0;
        try
        {
            await Task.Delay(offset, time, cancellationToken).ConfigureAwait(false);
            using var timer = new PeriodicTimer(interval, time);
            do
            {
                if (!device.IsConnected)
                {
                    continue;
                }

                sequence++;
                try
                {
                    await device.PublishAsync(eventName, data?.Invoke(device, sequence) ?? sequence.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken: cancellationToken).ConfigureAwait(false);
                    Interlocked.Increment(ref _eventsSent);
                }
                catch (Exception e) when (e is InvalidOperationException or IOException or ObjectDisposedException or SocketException)
                {
                    // Disconnected between the check and the send; the next tick tries again.
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private static string ResolveHost(string host)
    {
        IPAddress[] addresses = Dns.GetHostAddresses(host);
        IPAddress? address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
        return address?.ToString() ?? throw new SocketException((int)SocketError.HostNotFound);
    }
}
