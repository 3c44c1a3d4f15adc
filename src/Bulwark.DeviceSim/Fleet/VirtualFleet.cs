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
/// <param name="Connected">Devices connected right now (counted, not derived from increments).</param>
/// <param name="Handshakes">Sessions established since creation (handshake done and Hellos exchanged), counted as they happen;
/// reconnects count again.</param>
/// <param name="Drops">Sessions that ended without being asked to (server closed, protocol error, keep-alive timeout), as
/// opposed to <paramref name="HandshakeFailures"/> and <paramref name="OtherFailures"/>, which never got a session.</param>
public sealed record FleetSnapshot(int Devices, int Connected, int ConnectAttempts, int HandshakeFailures, int OtherFailures, long EventsSent, string? LastError,
    int Handshakes = 0, int Drops = 0, string? LastDrop = null)
{
    public override string ToString() =>
        $"connected {Connected}/{Devices}, handshakes {Handshakes}, drops {Drops}, handshake failures {HandshakeFailures}, other failures {OtherFailures}, events sent {EventsSent}";
}

/// <summary>
/// Thousands of <see cref="VirtualDevice"/>s in one process against one server: shared server key, one key per device
/// (load them with <see cref="DeviceKeyStore"/>), connections opened with bounded concurrency, counters for load tests.
/// </summary>
public sealed class VirtualFleet : IAsyncDisposable
{
    private readonly VirtualDevice[] _devices;
    private readonly VirtualFleetOptions _options;
    // 1 while a device's session has been announced (DeviceConnected), so a drop is counted only for a session that was up.
    private readonly int[] _up;
    private int _handshakes;
    private int _drops;
    private int _attempts;
    private int _handshakeFailures;
    private int _otherFailures;
    private long _eventsSent;
    private string? _lastError;
    private string? _lastDrop;

    /// <param name="serverKey">The server's RSA key for TCP devices; null for a UDP fleet, whose devices take the EC key
    /// from <see cref="VirtualDeviceOptions.ServerEcPublicKey"/>.</param>
    public VirtualFleet(IEnumerable<DeviceIdentity> identities, ServerPublicKey? serverKey, string host, int port, VirtualFleetOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(identities);
        ArgumentException.ThrowIfNullOrEmpty(host);
        _options = options ?? new VirtualFleetOptions();
        if (_options.DeviceOptions.Transport == DeviceTransport.Tcp)
        {
            ArgumentNullException.ThrowIfNull(serverKey);
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxConcurrentConnects, 1);
        // Resolve once: ten thousand connects should not mean ten thousand DNS look-ups.
        string address = IPAddress.TryParse(host, out _) ? host : ResolveHost(host);
        _devices = identities.Select((identity, index) => CreateDevice(index, identity, serverKey, address, port)).ToArray();
        _up = new int[_devices.Length];
    }

    public IReadOnlyList<VirtualDevice> Devices => _devices;

    /// <summary>Devices connected right now.</summary>
    public int ConnectedCount => _devices.Count(d => d.IsConnected);

    /// <summary>Sessions established so far (see <see cref="FleetSnapshot.Handshakes"/>).</summary>
    public int Handshakes => Volatile.Read(ref _handshakes);

    /// <summary>Sessions lost without being asked to (see <see cref="FleetSnapshot.Drops"/>).</summary>
    public int Drops => Volatile.Read(ref _drops);

    public int HandshakeFailures => Volatile.Read(ref _handshakeFailures);

    public long EventsSent => Interlocked.Read(ref _eventsSent);

    public FleetSnapshot GetSnapshot() => new(
        _devices.Length,
        ConnectedCount,
        Volatile.Read(ref _attempts),
        Volatile.Read(ref _handshakeFailures),
        Volatile.Read(ref _otherFailures),
        Interlocked.Read(ref _eventsSent),
        Volatile.Read(ref _lastError),
        Volatile.Read(ref _handshakes),
        Volatile.Read(ref _drops),
        Volatile.Read(ref _lastDrop));

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

    private VirtualDevice CreateDevice(int index, DeviceIdentity identity, ServerPublicKey? serverKey, string host, int port)
    {
        var device = new VirtualDevice(identity, serverKey, host, port, _options.DeviceOptions);
        device.Notified += (d, notification) => OnNotified(index, d, notification);
        return device;
    }

    private void OnNotified(int index, VirtualDevice device, DeviceNotification notification)
    {
        switch (notification)
        {
            case DeviceConnected:
                Interlocked.Exchange(ref _up[index], 1);
                Interlocked.Increment(ref _handshakes);
                break;
            case DeviceDisconnected lost when Interlocked.Exchange(ref _up[index], 0) == 1
                                              && lost.Reason is not (DisconnectReason.Requested or DisconnectReason.FirmwareUpdate or DisconnectReason.SessionDiscarded):
                // The detail first, so whoever sees the count move also sees which device it was.
                Volatile.Write(ref _lastDrop, $"{device.Id}: {lost.Reason} {lost.Detail}");
                Interlocked.Increment(ref _drops);
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
                catch (CloudRefusedException)
                {
                    // UDP: the cloud said slow down (4.00); the event is lost, as on a device.
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
