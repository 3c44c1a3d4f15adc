using System.Collections.Concurrent;

namespace Bulwark.Server.Gateway;

/// <summary>What the API can ask of a connected device, wherever its connection lives.</summary>
public interface IDeviceConnection
{
    string DeviceId { get; }
    string? RemoteAddress { get; }
    DateTime ConnectedAt { get; }
    DateTime LastHeard { get; }

    /// <summary>Calls a function; the device's int result. Throws <see cref="DeviceRequestException"/>.</summary>
    Task<int> CallFunctionAsync(string name, string argument, CancellationToken cancellationToken);

    /// <summary>Reads a variable's raw bytes. Throws <see cref="DeviceRequestException"/>.</summary>
    Task<byte[]> ReadVariableAsync(string name, CancellationToken cancellationToken);

    Task SignalAsync(bool start, CancellationToken cancellationToken);

    /// <summary>A CoAP ping; true when the device answered.</summary>
    Task<bool> PingAsync(CancellationToken cancellationToken);

    /// <summary>The owner changed (claim, release): future events are scoped to the new owner.</summary>
    void SetOwner(string? ownerUserId);

    Task CloseAsync();
}

/// <summary>Why a request to a device failed.</summary>
public enum DeviceRequestFailure
{
    Offline,
    Timeout,
    NotFound,
    Rejected,
}

public sealed class DeviceRequestException(DeviceRequestFailure failure, string message) : Exception(message)
{
    public DeviceRequestFailure Failure { get; } = failure;
}

/// <summary>Device ID to live connection. One node keeps it in memory; a message-bus implementation can route to the
/// node holding the connection behind the same interface.</summary>
public interface IDeviceConnectionRegistry
{
    int Count { get; }

    IDeviceConnection? Find(string deviceId);

    /// <summary>Registers a fresh connection; answers the one it replaces (a device that reconnected), if any.</summary>
    IDeviceConnection? Register(IDeviceConnection connection);

    /// <summary>Removes the connection if it is still the current one for its device; false when it was replaced.</summary>
    bool Unregister(IDeviceConnection connection);
}

public sealed class InMemoryDeviceConnectionRegistry : IDeviceConnectionRegistry
{
    private readonly ConcurrentDictionary<string, IDeviceConnection> _connections = new(StringComparer.Ordinal);

    public int Count => _connections.Count;

    public IDeviceConnection? Find(string deviceId) => _connections.TryGetValue(deviceId, out var c) ? c : null;

    public IDeviceConnection? Register(IDeviceConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        IDeviceConnection? previous = null;
        _connections.AddOrUpdate(connection.DeviceId, connection, (_, old) =>
        {
            previous = old;
            return connection;
        });
        return ReferenceEquals(previous, connection) ? null : previous;
    }

    public bool Unregister(IDeviceConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return _connections.TryRemove(new KeyValuePair<string, IDeviceConnection>(connection.DeviceId, connection));
    }
}
