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

    /// <summary>Subscribes to <paramref name="ownerUserId"/>'s events that pass <paramref name="filter"/>. A subscriber that
    /// falls more than <paramref name="capacity"/> events behind is dropped: its reader completes.</summary>
    EventSubscription Subscribe(string ownerUserId, Func<CloudEvent, bool> filter, int capacity = 1024);
}

/// <summary>A live subscription; dispose it to unsubscribe.</summary>
public sealed class EventSubscription : IDisposable
{
    private readonly Channel<CloudEvent> _channel;
    private readonly Action<EventSubscription> _remove;
    private int _closed;

    internal EventSubscription(string ownerUserId, Func<CloudEvent, bool> filter, int capacity, Action<EventSubscription> remove)
    {
        OwnerUserId = ownerUserId;
        Filter = filter;
        _remove = remove;
        _channel = Channel.CreateBounded<CloudEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public string OwnerUserId { get; }

    internal Func<CloudEvent, bool> Filter { get; }

    public ChannelReader<CloudEvent> Reader => _channel.Reader;

    /// <summary>True once the bus dropped this subscriber for falling behind.</summary>
    public bool Overflowed { get; private set; }

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
            _remove(this);
        }
    }
}

/// <summary>The single-node bus: subscriptions indexed by owner, so a publish touches only that owner's subscribers.</summary>
public sealed class InProcessEventBus : IEventBus
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<EventSubscription, byte>> _byOwner = new(StringComparer.Ordinal);

    public void Publish(CloudEvent cloudEvent)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        if (cloudEvent.OwnerUserId is null || !_byOwner.TryGetValue(cloudEvent.OwnerUserId, out var subscribers))
        {
            return;
        }
        foreach (var subscription in subscribers.Keys)
        {
            if (subscription.Filter(cloudEvent))
            {
                subscription.Offer(cloudEvent);
            }
        }
    }

    public EventSubscription Subscribe(string ownerUserId, Func<CloudEvent, bool> filter, int capacity = 1024)
    {
        ArgumentException.ThrowIfNullOrEmpty(ownerUserId);
        ArgumentNullException.ThrowIfNull(filter);
        var subscription = new EventSubscription(ownerUserId, filter, Math.Max(1, capacity), Remove);
        _byOwner.GetOrAdd(ownerUserId, _ => new()).TryAdd(subscription, 0);
        return subscription;
    }

    private void Remove(EventSubscription subscription)
    {
        if (_byOwner.TryGetValue(subscription.OwnerUserId, out var subscribers))
        {
            subscribers.TryRemove(subscription, out _);
            // An empty set stays: removing it here could race a concurrent subscribe for the same owner.
        }
    }
}
