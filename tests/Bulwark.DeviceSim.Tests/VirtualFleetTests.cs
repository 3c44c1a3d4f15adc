using Bulwark.DeviceSim.Devices;
using Bulwark.DeviceSim.Fleet;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Keys;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Tests;

public sealed class VirtualFleetTests : IDisposable
{
    private readonly DirectoryInfo _keys = Directory.CreateTempSubdirectory("bulwark-sim-fleet-");

    [Fact]
    public async Task Fleet_ConnectsEveryDevice_PublishesFromEach_AndSaysGoodbye()
    {
        CancellationToken timeout = TestSupport.Timeout(60);
        const int Count = 60;
        await using TestCloud cloud = TestCloud.Start();
        IReadOnlyList<DeviceIdentity> identities = await DeviceKeyStore.LoadOrGenerateAsync(_keys.FullName, Count, cancellationToken: timeout);
        foreach (DeviceIdentity identity in identities)
        {
            cloud.Register(identity.Id, DevicePublicKey.FromPem(identity.GetPublicKeyPem()));
        }

        var options = new VirtualFleetOptions { MaxConcurrentConnects = 8, DeviceOptions = TestSupport.Quiet with { NotificationCapacity = 0, SendStartupSequence = false } };
        await using var fleet = new VirtualFleet(identities, TestCloud.DeviceViewOfServerKey, cloud.Host, cloud.Port, options);

        FleetSnapshot snapshot = await fleet.ConnectAllAsync(timeout);
        var connections = new List<TestConnection>();
        for (int i = 0; i < Count; i++)
        {
            connections.Add(await cloud.AcceptAsync(timeout));
        }

        Assert.Equal((Count, Count, 0), (snapshot.Connected, snapshot.ConnectAttempts, snapshot.HandshakeFailures));
        Assert.Equal((Count, 0), (snapshot.Handshakes, snapshot.Drops));
        Assert.Equal(identities.Select(i => i.Id.ToString()).Order(), connections.Select(c => c.DeviceId.ToString()).Order());

        using var publishing = CancellationTokenSource.CreateLinkedTokenSource(timeout);
        Task publishers = fleet.RunPublishersAsync("load/tick", TimeSpan.FromMilliseconds(100), cancellationToken: publishing.Token);
        foreach (TestConnection connection in connections)
        {
            CoapMessage evt = await connection.ReceiveAsync(ParticleMessageKind.Event, timeout);
            Assert.Equal("/E/load/tick", evt.GetUriPath());
        }

        await publishing.CancelAsync();
        await publishers;
        Assert.True(fleet.EventsSent >= Count);

        await fleet.DisconnectAllAsync(timeout);
        foreach (TestConnection connection in connections)
        {
            await connection.ReceiveAsync(ParticleMessageKind.Goodbye, timeout);
            await connection.Closed.WaitAsync(timeout);
        }

        Assert.Equal(0, fleet.ConnectedCount);
        Assert.Equal((Count, 0), (fleet.Handshakes, fleet.Drops));
    }

    [Fact]
    public async Task Fleet_CountsASessionTheServerClosesAsADropNotAFailure()
    {
        CancellationToken timeout = TestSupport.Timeout(30);
        await using TestCloud cloud = TestCloud.Start();
        IReadOnlyList<DeviceIdentity> identities = await DeviceKeyStore.LoadOrGenerateAsync(_keys.FullName, 2, cancellationToken: timeout);
        foreach (DeviceIdentity identity in identities)
        {
            cloud.Register(identity.Id, DevicePublicKey.FromPem(identity.GetPublicKeyPem()));
        }

        await using var fleet = new VirtualFleet(identities, TestCloud.DeviceViewOfServerKey, cloud.Host, cloud.Port,
            new VirtualFleetOptions { DeviceOptions = TestSupport.Quiet with { NotificationCapacity = 0, SendStartupSequence = false } });
        FleetSnapshot connected = await fleet.ConnectAllAsync(timeout);
        TestConnection first = await cloud.AcceptAsync(timeout);
        await using TestConnection second = await cloud.AcceptAsync(timeout);
        Assert.Equal((2, 2, 0), (connected.Connected, connected.Handshakes, connected.Drops));

        await first.DisposeAsync();
        while (fleet.Drops == 0)
        {
            await Task.Delay(20, timeout);
        }

        FleetSnapshot after = fleet.GetSnapshot();
        Assert.Equal((1, 2, 1, 0, 0), (after.Connected, after.Handshakes, after.Drops, after.HandshakeFailures, after.OtherFailures));
        Assert.Contains(first.DeviceId.ToString(), after.LastDrop, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fleet_CountsHandshakeFailuresForUnregisteredDevices()
    {
        CancellationToken timeout = TestSupport.Timeout(30);
        await using TestCloud cloud = TestCloud.Start();
        IReadOnlyList<DeviceIdentity> identities = await DeviceKeyStore.LoadOrGenerateAsync(_keys.FullName, 3, cancellationToken: timeout);
        cloud.Register(identities[0].Id, DevicePublicKey.FromPem(identities[0].GetPublicKeyPem()));
        await using var fleet = new VirtualFleet(identities, TestCloud.DeviceViewOfServerKey, "localhost", cloud.Port,
            new VirtualFleetOptions { DeviceOptions = TestSupport.Quiet with { NotificationCapacity = 0 } });

        FleetSnapshot snapshot = await fleet.ConnectAllAsync(timeout);

        Assert.Equal((1, 2, 0), (snapshot.Connected, snapshot.HandshakeFailures, snapshot.OtherFailures));
        Assert.Equal((1, 0), (snapshot.Handshakes, snapshot.Drops));
        Assert.NotNull(snapshot.LastError);
    }

    public void Dispose() => _keys.Delete(recursive: true);
}
