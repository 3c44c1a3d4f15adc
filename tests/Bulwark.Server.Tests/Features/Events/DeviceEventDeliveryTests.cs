using Bulwark.Server.Features.Events;

namespace Bulwark.Server.Tests.Features.Events;

public class DeviceEventDeliveryTests
{
    private const string Owner = "user-1";
    private const string Device = "0123456789abcdef01234567";

    [Theory]
    // The cloud's status events about a device, whoever publishes them.
    [InlineData("spark/status", Device, false)]
    [InlineData("spark/status", null, false)]
    [InlineData("spark/flash/status", null, false)]
    // A device's Device OS system events (reserved names, any case).
    [InlineData("particle/device/updates/enabled", Device, false)]
    [InlineData("spark/device/last_reset", Device, false)]
    [InlineData("spark/status/safe-mode", Device, false)]
    [InlineData("Particle/x", Device, false)]
    [InlineData("SPARKLE", Device, false)]
    // A device's own events, and anything published through the API.
    [InlineData("temp", Device, true)]
    [InlineData("my/particle", Device, true)]
    [InlineData("cmd/go", null, true)]
    [InlineData("particle/device/updates/pending", null, true)]
    [InlineData("spark/custom", null, true)]
    public void Devices_receive_neither_cloud_status_events_nor_other_devices_system_events(string name, string? deviceId, bool reaches) =>
        Assert.Equal(reaches, DeviceEventDelivery.ReachesDevices(Event(name, deviceId)));

    [Fact]
    public void The_bus_gives_streams_every_event_and_devices_what_reaches_devices_under_their_prefixes()
    {
        var bus = new InProcessEventBus();
        using var stream = bus.Subscribe(Owner, _ => true);
        using var listener = bus.SubscribeDevice(Owner, "listener");
        listener.AddPrefix("spark");
        listener.AddPrefix("particle");
        listener.AddPrefix("temp");
        listener.AddPrefix("cmd/");
        using var publisher = bus.SubscribeDevice(Owner, Device);
        publisher.AddPrefix("temp");
        using var otherOwnersDevice = bus.SubscribeDevice("user-2", "stranger");
        otherOwnersDevice.AddPrefix("c");

        bus.Publish(Event("spark/status", Device));
        bus.Publish(Event("particle/device/updates/forced", Device));
        bus.Publish(Event("temp", Device));
        bus.Publish(Event("cmd/go", null));
        bus.Publish(Event("cm", null));
        bus.Publish(Event("other", null));

        Assert.Equal(["spark/status", "particle/device/updates/forced", "temp", "cmd/go", "cm", "other"], Drain(stream));
        Assert.Equal(["temp", "cmd/go"], Drain(listener));
        Assert.Empty(Drain(publisher)); // Not its own events.
        Assert.Empty(Drain(otherOwnersDevice));
    }

    [Fact]
    public void Overlapping_prefixes_deliver_an_event_once_whichever_is_added_first()
    {
        var bus = new InProcessEventBus();
        using var longFirst = bus.SubscribeDevice(Owner, "a");
        longFirst.AddPrefix("cmd/led");
        longFirst.AddPrefix("cmd/");
        longFirst.AddPrefix("cmd/led/on");
        using var shortFirst = bus.SubscribeDevice(Owner, "b");
        shortFirst.AddPrefix("c");
        shortFirst.AddPrefix("cmd/led");
        shortFirst.AddPrefix("c");

        bus.Publish(Event("cmd/led/on", null));
        bus.Publish(Event("cmd/x", null));
        bus.Publish(Event("cx", null));

        Assert.Equal(["cmd/led/on", "cmd/x"], Drain(longFirst));
        Assert.Equal(["cmd/led/on", "cmd/x", "cx"], Drain(shortFirst));
    }

    [Fact]
    public void A_disposed_device_subscription_receives_nothing_more()
    {
        var bus = new InProcessEventBus();
        var device = bus.SubscribeDevice(Owner, "listener");
        device.AddPrefix("cmd/");
        bus.Publish(Event("cmd/1", null));
        device.Dispose();
        device.AddPrefix("cmd/2");
        bus.Publish(Event("cmd/2", null));

        Assert.Equal(["cmd/1"], Drain(device));
        Assert.True(device.Reader.Completion.IsCompleted);
    }

    [Fact]
    public void A_device_subscription_lagging_behind_its_capacity_is_cut_off_without_slowing_the_publisher()
    {
        var bus = new InProcessEventBus();
        using var device = bus.SubscribeDevice(Owner, "listener", capacity: 2);
        device.AddPrefix("cmd/");
        using var stream = bus.Subscribe(Owner, _ => true);
        for (int i = 0; i < 3; i++)
        {
            bus.Publish(Event("cmd/" + i, null));
        }

        Assert.True(device.Overflowed);
        Assert.Equal(["cmd/0", "cmd/1"], Drain(device));
        Assert.Equal(["cmd/0", "cmd/1", "cmd/2"], Drain(stream));
    }

    private static CloudEvent Event(string name, string? deviceId) =>
        new(name, null, 60, new DateTime(2026, 11, 21, 0, 0, 0, DateTimeKind.Utc), deviceId ?? "api", Owner) { DeviceId = deviceId };

    private static List<string> Drain(EventSubscription subscription)
    {
        var names = new List<string>();
        while (subscription.Reader.TryRead(out var e))
        {
            names.Add(e.Name);
        }
        return names;
    }
}
