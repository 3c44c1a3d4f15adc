using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Dtls;

namespace Bulwark.DeviceSim.Devices;

/// <summary>
/// What a Gen3 device keeps between connections to skip the DTLS handshake next time (Device OS
/// <c>dtls_session_persist.h</c>): the DTLS session, the next CoAP message ID, and a digest of the application state
/// (Hello fields, Describes, subscriptions) the cloud last heard, which decides whether Hello can be skipped too.
/// </summary>
public sealed record Gen3SavedSession(DtlsSavedSession Dtls, ushort NextMessageId, ReadOnlyMemory<byte> AppStateDigest);

/// <summary>
/// A Gen3 UDP/DTLS association: a <see cref="DtlsClient"/> under a <see cref="CoapDatagramChannel"/>, with a pump that
/// feeds every decrypted record into the channel.
/// </summary>
internal sealed class Gen3Link : DeviceLink
{
    private readonly DtlsClient _dtls;
    private readonly CoapDatagramChannel _channel;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pump;

    private Gen3Link(DtlsClient dtls, ushort initialMessageId, CoapDatagramOptions coapOptions, TimeProvider time, Gen3SavedSession? resumedFrom)
    {
        _dtls = dtls;
        _channel = new CoapDatagramChannel(dtls.SendAsync, initialMessageId, coapOptions, time);
        ResumedFrom = resumedFrom;
        _pump = Task.Run(PumpAsync, CancellationToken.None);
    }

    public override ICoapChannel Channel => _channel;

    /// <summary>The channel with its confirmable sends.</summary>
    public CoapDatagramChannel Datagrams => _channel;

    /// <summary>The saved session this link carries on, or null after a full handshake.</summary>
    public Gen3SavedSession? ResumedFrom { get; }

    public IPEndPoint LocalEndPoint => _dtls.LocalEndPoint;

    /// <summary>Runs the full DTLS handshake; the CoAP message IDs then start from a random value.</summary>
    /// <exception cref="VirtualDeviceException">No handshake within <paramref name="timeout"/>, or the server's signature failed.</exception>
    public static async Task<Gen3Link> HandshakeAsync(
        ECDsa deviceKey, ECDsa serverKey, IPEndPoint server, DtlsClientOptions dtlsOptions, CoapDatagramOptions coapOptions, TimeProvider time,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        var dtls = new DtlsClient(deviceKey, serverKey, server, dtlsOptions);
        try
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(timeout);
            await dtls.ConnectAsync(bounded.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            await dtls.DisposeAsync().ConfigureAwait(false);
            // A DTLS server drops what it cannot verify without a word, so silence is all a refused device sees.
            throw new VirtualDeviceException(ConnectFailure.Handshake,
                $"No DTLS handshake with {server} within {timeout.TotalSeconds:0.#} s: unreachable, the EC key not registered, or the wrong server EC key.", inner: e);
        }
        catch (CryptographicException e)
        {
            await dtls.DisposeAsync().ConfigureAwait(false);
            throw new VirtualDeviceException(ConnectFailure.Handshake, $"The DTLS handshake with {server} failed: {e.Message} (wrong server EC key?)", inner: e);
        }
        catch
        {
            await dtls.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new Gen3Link(dtls, (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1), coapOptions, time, resumedFrom: null);
    }

    /// <summary>Carries on a saved session from a new local port with no handshake, as a device that restored its
    /// session store does; its records go out as "moved" (type 253) until the server answers.</summary>
    public static Gen3Link Resume(
        Gen3SavedSession saved, ECDsa deviceKey, ECDsa serverKey, IPEndPoint server, DtlsClientOptions dtlsOptions, CoapDatagramOptions coapOptions,
        TimeProvider time)
    {
        DtlsClient dtls = DtlsClient.Resume(saved.Dtls, deviceKey, serverKey, server, dtlsOptions);
        // The channel hands out initial + 1 first.
        return new Gen3Link(dtls, (ushort)(saved.NextMessageId - 1), coapOptions, time, saved);
    }

    /// <summary>The session as it stands now, to resume later. Call before disposing.</summary>
    public Gen3SavedSession Save(ReadOnlyMemory<byte> appStateDigest) =>
        new(_dtls.SaveSession(), _channel.NextMessageId(), appStateDigest);

    private async Task PumpAsync()
    {
        try
        {
            while (true)
            {
                byte[] datagram = await _dtls.ReceiveAsync(_stop.Token).ConfigureAwait(false);
                _channel.Deliver(datagram);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public override async ValueTask DisposeAsync()
    {
        _channel.Close();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
        try
        {
            await _dtls.DisposeAsync().ConfigureAwait(false);
        }
        catch (SocketException)
        {
        }

        _stop.Dispose();
    }
}
