using System.Net;
using System.Security.Cryptography;
using Bulwark.Protocol.Dtls;

namespace Bulwark.Protocol.Tests.Dtls;

// The server without its socket (ProcessDatagram/OnTimer) on a manual clock: half-open handshakes and idle
// sessions must go away on their own.
public sealed class DtlsServerStateTests : IAsyncDisposable
{
    private readonly ManualTime _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly ECDsa _serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly DtlsServer _server;

    public DtlsServerStateTests()
    {
        _server = new DtlsServer(_serverKey, _ => null, new DtlsServerOptions
        {
            HandshakeTimeout = TimeSpan.FromSeconds(30),
            InitialRetransmitTimeout = TimeSpan.FromSeconds(1),
        }, _time);
    }

    [Fact]
    public void Thousands_of_half_open_handshakes_are_retransmitted_then_dropped()
    {
        const int Clients = 2000;
        for (int i = 0; i < Clients; i++)
        {
            var from = new IPEndPoint(IPAddress.Loopback, 10000 + i);
            byte[] random = RandomNumberGenerator.GetBytes(32);
            DtlsDatagramResult verify = _server.ProcessDatagram(ClientHelloDatagram(random, []), from);
            byte[] cookie = ReadCookie(verify.Replies.Single().Bytes);
            DtlsDatagramResult flight = _server.ProcessDatagram(ClientHelloDatagram(random, cookie), from);
            Assert.NotEmpty(flight.Replies);
        }

        Assert.Equal(Clients, _server.PendingHandshakeCount);
        _time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(Clients, _server.OnTimer().Select(d => d.To).Distinct().Count());

        _time.Advance(TimeSpan.FromSeconds(30));
        _server.OnTimer();
        Assert.Equal(0, _server.SessionCount);
        Assert.Equal(0, _server.EndPointCount);
    }

    [Fact]
    public void A_retransmitted_client_hello_gets_the_same_flight_without_a_second_session()
    {
        var from = new IPEndPoint(IPAddress.Loopback, 9999);
        byte[] random = RandomNumberGenerator.GetBytes(32);
        byte[] cookie = ReadCookie(_server.ProcessDatagram(ClientHelloDatagram(random, []), from).Replies.Single().Bytes);
        int first = _server.ProcessDatagram(ClientHelloDatagram(random, cookie, recordSeq: 1), from).Replies.Count;
        int again = _server.ProcessDatagram(ClientHelloDatagram(random, cookie, recordSeq: 2), from).Replies.Count;
        Assert.Equal(first, again);
        Assert.Equal(1, _server.SessionCount);
    }

    [Fact]
    public void The_server_flight_continues_from_the_client_hello_record_number_and_never_repeats_the_hello_verify_request_number()
    {
        // The HelloVerifyRequest reuses the first ClientHello's record number (RFC 6347 4.2.1). A device's replay window
        // drops a later epoch-0 record with that number, so the ServerHello must not start again at it.
        var from = new IPEndPoint(IPAddress.Loopback, 9998);
        byte[] random = RandomNumberGenerator.GetBytes(32);
        byte[] verifyDatagram = _server.ProcessDatagram(ClientHelloDatagram(random, [], recordSeq: 0), from).Replies.Single().Bytes;
        DtlsRecord verify = DtlsRecord.ParseDatagram(verifyDatagram, 8).Single();
        Assert.Equal(0UL, verify.Sequence);

        byte[] cookie = ReadCookie(verifyDatagram);
        ulong[] flight = _server.ProcessDatagram(ClientHelloDatagram(random, cookie, recordSeq: 1), from).Replies
            .SelectMany(datagram => DtlsRecord.ParseDatagram(datagram.Bytes, 8)).Select(record => record.Sequence).ToArray();
        Assert.Equal(1UL, flight[0]);
        Assert.All(flight, sequence => Assert.True(sequence > verify.Sequence));
        Assert.Equal(flight.Length, flight.Distinct().Count());
    }

    private static byte[] ClientHelloDatagram(byte[] random, byte[] cookie, ulong recordSeq = 0)
    {
        byte[] body = DtlsClientHello.DeviceOs(random, cookie).ToArray();
        byte[] fragment = new DtlsHandshakeFragment(DtlsHandshakeType.ClientHello, body.Length, cookie.Length == 0 ? 0 : 1, 0, body).ToArray();
        return new DtlsRecord(DtlsContentType.Handshake, 0, recordSeq, ReadOnlyMemory<byte>.Empty, fragment).ToArray();
    }

    private static byte[] ReadCookie(byte[] datagram)
    {
        DtlsRecord record = DtlsRecord.ParseDatagram(datagram, 8).Single();
        Assert.True(DtlsHandshakeFragment.TryParse(record.Fragment, out DtlsHandshakeFragment? fragment, out _));
        Assert.True(DtlsHelloVerifyRequest.TryParse(fragment.Bytes.Span, out DtlsHelloVerifyRequest? request));
        return request.Cookie;
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _serverKey.Dispose();
    }

    private sealed class ManualTime(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
