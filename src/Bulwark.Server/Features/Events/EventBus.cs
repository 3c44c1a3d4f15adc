using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Bulwark.Server.Features.Events;

/// <summary>One published event. <see cref="OwnerUserId"/> scopes who may see it: only streams and devices of that
/// user receive it (events of unclaimed devices reach no one).</summary>
public sealed record CloudEvent(
    string Name,
    string? Data,
    int TtlSeconds,
    DateTime PublishedAt,
    string CoreId,
    string? OwnerUserId,
    bool IsPrivate = true)
{
    /// <summary>The device that published it, or null for events from the API.</summary>
    public string? DeviceId { get; init; }

    /// <summary>Set on the copy published to a product's stream (<see cref="ProductEventAudience"/>).</summary>
    public int? ProductId { get; init; }
}

/// <summary>Fan-out of events to subscribers. The in-process bus serves one node; a RabbitMQ bus implements the same
/// interface for several.</summary>
public interface IEventBus
{
    void Publish(CloudEvent cloudEvent);

    /// <summary>A stream's subscription (SSE, or another cloud-side consumer) to <paramref name="ownerUserId"/>'s events that
    /// pass <paramref name="filter"/>. A subscriber that falls more than <paramref name="capacity"/> events behind is
    /// dropped: its reader completes.</summary>
    EventSubscription Subscribe(string ownerUserId, Func<CloudEvent, bool> filter, int capacity = 1024);

    /// <summary>A connected device's subscription (<c>Particle.subscribe</c>): events of <paramref name="ownerUserId"/> whose
    /// names start with one of the prefixes given to <see cref="EventSubscription.AddPrefix"/>, except the device's own and
    /// those <see cref="DeviceEventDelivery"/> keeps from devices. Dropped like a stream when it falls behind.</summary>
    EventSubscription SubscribeDevice(string ownerUserId, string deviceId, int capacity = 256);
}

/// <summary>A live subscription; dispose it to unsubscribe.</summary>
public sealed class EventSubscription : IDisposable
{
    private readonly Channel<CloudEvent> _channel;
    private readonly InProcessEventBus.OwnerSubscriptions _owner;
    private readonly List<string> _prefixes = [];
    private readonly Lock _prefixLock = new();
    private int _closed;

    internal EventSubscription(InProcessEventBus.OwnerSubscriptions owner, string ownerUserId, Func<CloudEvent, bool>? filter, string? deviceId, int capacity)
    {
        _owner = owner;
        OwnerUserId = ownerUserId;
        Filter = filter;
        DeviceId = deviceId;
        _channel = Channel.CreateBounded<CloudEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public string OwnerUserId { get; }

    /// <summary>The subscribing device, or null for a stream.</summary>
    public string? DeviceId { get; }

    /// <summary>A stream's filter; null for a device, which the bus matches by prefix.</summary>
    internal Func<CloudEvent, bool>? Filter { get; }

    public ChannelReader<CloudEvent> Reader => _channel.Reader;

    /// <summary>True once the bus dropped this subscriber for falling behind.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>A device's subscription also receives events whose names start with <paramref name="prefix"/>.</summary>
    public void AddPrefix(string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        if (DeviceId is null)
        {
            throw new InvalidOperationException("Only a device's subscription matches by prefix; a stream has a filter.");
        }
        lock (_prefixLock)
        {
            if (Volatile.Read(ref _closed) != 0 || _prefixes.Exists(p => prefix.StartsWith(p, StringComparison.Ordinal)))
            {
                return; // Already covered by this prefix or a shorter one.
            }
            // Index only prefixes none of which starts another: then an event name matches at most one of them, and the
            // bus delivers it once without remembering what it offered. Index first, so no event is missed meanwhile.
            _owner.Index(prefix, this);
            foreach (var longer in _prefixes.Where(p => p.StartsWith(prefix, StringComparison.Ordinal)).ToList())
            {
                _prefixes.Remove(longer);
                _owner.Unindex(longer, this);
            }
            _prefixes.Add(prefix);
        }
    }

    internal void Offer(CloudEvent cloudEvent)
    {
        if (!_channel.Writer.TryWrite(cloudEvent) && Volatile.Read(ref _closed) == 0)
        {
            // A slow reader must never slow the publisher: cut it off, it can reconnect.
            Overflowed = true;
            Dispose();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _channel.Writer.TryComplete();
            if (DeviceId is null)
            {
                _owner.Streams.TryRemove(this, out _);
                return;
            }
            lock (_prefixLock)
            {
                foreach (var prefix in _prefixes)
                {
                    _owner.Unindex(prefix, this);
                }
                _prefixes.Clear();
            }
        }
    }
}

/// <summary>The single-node bus: subscriptions indexed by owner, so a publish touches only that owner's subscribers.
/// Devices' subscriptions are indexed by prefix too: a publish looks up the event name's own prefixes (of the lengths in
/// use) instead of asking each of the owner's connected devices, so one event costs the same with 10 or 10,000 devices
/// connected, and an event devices do not receive (<see cref="DeviceEventDelivery"/>) touches no device at all.</summary>
public sealed class InProcessEventBus : IEventBus
{
    private readonly ConcurrentDictionary<string, OwnerSubscriptions> _byOwner = new(StringComparer.Ordinal);

    public void Publish(CloudEvent cloudEvent)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        if (cloudEvent.OwnerUserId is null || !_byOwner.TryGetValue(cloudEvent.OwnerUserId, out var owner))
        {
            return;
        }
        foreach (var subscription in owner.Streams.Keys)
        {
            if (subscription.Filter!(cloudEvent))
            {
                subscription.Offer(cloudEvent);
            }
        }
        if (DeviceEventDelivery.ReachesDevices(cloudEvent))
        {
            owner.OfferToDevices(cloudEvent);
        }
    }

    public EventSubscription Subscribe(string ownerUserId, Func<CloudEvent, bool> filter, int capacity = 1024)
    {
        ArgumentException.ThrowIfNullOrEmpty(ownerUserId);
        ArgumentNullException.ThrowIfNull(filter);
        var owner = _byOwner.GetOrAdd(ownerUserId, _ => new());
        var subscription = new EventSubscription(owner, ownerUserId, filter, null, Math.Max(1, capacity));
        owner.Streams.TryAdd(subscription, 0);
        return subscription;
    }

    public EventSubscription SubscribeDevice(string ownerUserId, string deviceId, int capacity = 256)
    {
        ArgumentException.ThrowIfNullOrEmpty(ownerUserId);
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        // Indexed as its prefixes are added. An emptied owner entry stays: removing it could race a concurrent subscribe.
        return new EventSubscription(_byOwner.GetOrAdd(ownerUserId, _ => new()), ownerUserId, null, deviceId, Math.Max(1, capacity));
    }

    internal sealed class OwnerSubscriptions
    {
        private readonly ConcurrentDictionary<string, ConcurrentDictionary<EventSubscription, byte>> _devicesByPrefix = new(StringComparer.Ordinal);
        private readonly Lock _lengthLock = new();
        // The distinct lengths of the indexed prefixes, ascending; replaced, never changed in place, so Publish reads it without a lock.
        private int[] _prefixLengths = [];

        public ConcurrentDictionary<EventSubscription, byte> Streams { get; } = new();

        public void Index(string prefix, EventSubscription subscription)
        {
            _devicesByPrefix.GetOrAdd(prefix, _ => new()).TryAdd(subscription, 0);
            lock (_lengthLock)
            {
                if (Array.BinarySearch(_prefixLengths, prefix.Length) < 0)
                {
                    Volatile.Write(ref _prefixLengths, [.. _prefixLengths.Append(prefix.Length).Order()]);
                }
            }
        }

        public void Unindex(string prefix, EventSubscription subscription)
        {
            if (_devicesByPrefix.TryGetValue(prefix, out var subscriptions))
            {
                subscriptions.TryRemove(subscription, out _);
            }
        }

        public void OfferToDevices(CloudEvent cloudEvent)
        {
            var name = cloudEvent.Name;
            var byPrefix = _devicesByPrefix.GetAlternateLookup<ReadOnlySpan<char>>();
            foreach (var length in Volatile.Read(ref _prefixLengths))
            {
                if (length > name.Length)
                {
                    break;
                }
                if (!byPrefix.TryGetValue(name.AsSpan(0, length), out var subscriptions))
                {
                    continue;
                }
                foreach (var subscription in subscriptions.Keys)
                {
                    if (subscription.DeviceId != cloudEvent.DeviceId) // A device does not hear its own events back.
                    {
                        subscription.Offer(cloudEvent);
                    }
                }
            }
        }
    }
}
