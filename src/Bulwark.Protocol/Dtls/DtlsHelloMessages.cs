using System.Diagnostics.CodeAnalysis;

namespace Bulwark.Protocol.Dtls;

/// <summary>Extension numbers and code points the Device OS dialect uses.</summary>
public static class DtlsExtensions
{
    public const ushort SupportedGroups = 10;
    public const ushort EcPointFormats = 11;
    public const ushort SignatureAlgorithms = 13;
    public const ushort ClientCertificateType = 19;
    public const ushort ServerCertificateType = 20;

    /// <summary>draft-ietf-tls-dtls-connection-id-05's code point; RFC 9146 moved it to 54, which Device OS does not speak.</summary>
    public const ushort ConnectionIdDraft05 = 254;

    public const ushort CipherSuiteEcdheEcdsaAes128Ccm8 = 0xC0AE;
    public const byte CertificateTypeRawPublicKey = 2;
}

public sealed record DtlsExtension(ushort Type, byte[] Data);

/// <summary>A ClientHello, with the extensions Device OS sends decoded.</summary>
public sealed record DtlsClientHello(
    ushort Version,
    byte[] Random,
    byte[] SessionId,
    byte[] Cookie,
    IReadOnlyList<ushort> CipherSuites,
    byte[] CompressionMethods,
    IReadOnlyList<DtlsExtension> Extensions)
{
    public byte[]? Extension(ushort type) => Extensions.FirstOrDefault(e => e.Type == type)?.Data;

    /// <summary>Named groups from extension 10 (empty when absent or malformed).</summary>
    public IReadOnlyList<ushort> SupportedGroups => ReadUInt16List(Extension(DtlsExtensions.SupportedGroups), lengthBytes: 2);

    public IReadOnlyList<ushort> SignatureAlgorithms => ReadUInt16List(Extension(DtlsExtensions.SignatureAlgorithms), lengthBytes: 2);

    public byte[] PointFormats => ReadByteList(Extension(DtlsExtensions.EcPointFormats));

    public byte[] ClientCertificateTypes => ReadByteList(Extension(DtlsExtensions.ClientCertificateType));

    public byte[] ServerCertificateTypes => ReadByteList(Extension(DtlsExtensions.ServerCertificateType));

    /// <summary>The CID the client wants to receive (ext 254), empty for Device OS; null when it did not offer CIDs.</summary>
    public byte[]? ConnectionId
    {
        get
        {
            byte[]? data = Extension(DtlsExtensions.ConnectionIdDraft05);
            return data is { Length: > 0 } && data[0] == data.Length - 1 ? data[1..] : null;
        }
    }

    public static bool TryParse(ReadOnlySpan<byte> body, [NotNullWhen(true)] out DtlsClientHello? hello)
    {
        hello = null;
        var reader = new DtlsWireReader(body);
        if (!reader.TryReadUInt16(out int version) || !reader.TryReadBytes(DtlsPrf.RandomLength, out ReadOnlySpan<byte> random)
            || !reader.TryReadVector8(out ReadOnlySpan<byte> sessionId) || sessionId.Length > 32
            || !reader.TryReadVector8(out ReadOnlySpan<byte> cookie) || !reader.TryReadVector16(out ReadOnlySpan<byte> suites)
            || suites.Length % 2 != 0 || !reader.TryReadVector8(out ReadOnlySpan<byte> compression) || compression.IsEmpty)
        {
            return false;
        }

        var extensions = new List<DtlsExtension>();
        if (reader.Remaining > 0)
        {
            if (!reader.TryReadVector16(out ReadOnlySpan<byte> extensionBlock) || reader.Remaining != 0 || !TryParseExtensions(extensionBlock, extensions))
            {
                return false;
            }
        }

        var suiteList = new ushort[suites.Length / 2];
        for (int i = 0; i < suiteList.Length; i++)
        {
            suiteList[i] = (ushort)((suites[2 * i] << 8) | suites[2 * i + 1]);
        }

        hello = new DtlsClientHello((ushort)version, random.ToArray(), sessionId.ToArray(), cookie.ToArray(), suiteList, compression.ToArray(), extensions);
        return true;
    }

    internal static bool TryParseExtensions(ReadOnlySpan<byte> block, List<DtlsExtension> extensions)
    {
        var reader = new DtlsWireReader(block);
        while (reader.Remaining > 0)
        {
            if (!reader.TryReadUInt16(out int type) || !reader.TryReadVector16(out ReadOnlySpan<byte> data) || extensions.Any(e => e.Type == type))
            {
                return false;
            }

            extensions.Add(new DtlsExtension((ushort)type, data.ToArray()));
        }

        return true;
    }

    public byte[] ToArray() => Write(includeCookie: true);

    /// <summary>Everything but the cookie: what the stateless cookie authenticates.</summary>
    public byte[] ToArrayWithoutCookie() => Write(includeCookie: false);

    /// <summary>The ClientHello Device OS sends (as seen live), optionally with a cookie.</summary>
    public static DtlsClientHello DeviceOs(byte[] random, byte[] cookie) => new(
        DtlsRecord.Version12,
        random,
        [],
        cookie,
        [DtlsExtensions.CipherSuiteEcdheEcdsaAes128Ccm8, 0x00FF],
        [0],
        [
            new DtlsExtension(DtlsExtensions.SignatureAlgorithms, [0x00, 0x08, 0x04, 0x03, 0x04, 0x01, 0x03, 0x03, 0x03, 0x01]),
            new DtlsExtension(DtlsExtensions.SupportedGroups, [0x00, 0x02, 0x00, 0x17]),
            new DtlsExtension(DtlsExtensions.EcPointFormats, [0x01, 0x00]),
            new DtlsExtension(DtlsExtensions.ConnectionIdDraft05, [0x00]),
            new DtlsExtension(DtlsExtensions.ClientCertificateType, [0x01, DtlsExtensions.CertificateTypeRawPublicKey]),
            new DtlsExtension(DtlsExtensions.ServerCertificateType, [0x01, DtlsExtensions.CertificateTypeRawPublicKey]),
        ]);

    private byte[] Write(bool includeCookie)
    {
        var writer = new DtlsWireWriter().UInt16(Version).Bytes(Random).Vector8(SessionId);
        if (includeCookie)
        {
            writer.Vector8(Cookie);
        }

        writer.UInt16(CipherSuites.Count * 2);
        foreach (ushort suite in CipherSuites)
        {
            writer.UInt16(suite);
        }

        writer.Vector8(CompressionMethods);
        return writer.Bytes(WriteExtensions(Extensions)).ToArray();
    }

    internal static byte[] WriteExtensions(IReadOnlyList<DtlsExtension> extensions)
    {
        var block = new DtlsWireWriter();
        foreach (DtlsExtension extension in extensions)
        {
            block.UInt16(extension.Type).Vector16(extension.Data);
        }

        return new DtlsWireWriter().Vector16(block.ToArray()).ToArray();
    }

    private static ushort[] ReadUInt16List(byte[]? data, int lengthBytes)
    {
        if (data is null || data.Length < lengthBytes || (data.Length - lengthBytes) % 2 != 0 || ((data[0] << 8) | data[1]) != data.Length - lengthBytes)
        {
            return [];
        }

        var values = new ushort[(data.Length - lengthBytes) / 2];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (ushort)((data[lengthBytes + 2 * i] << 8) | data[lengthBytes + 2 * i + 1]);
        }

        return values;
    }

    private static byte[] ReadByteList(byte[]? data) => data is { Length: > 0 } && data[0] == data.Length - 1 ? data[1..] : [];
}

/// <summary>HelloVerifyRequest: server_version ‖ cookie&lt;0..255&gt;.</summary>
public sealed record DtlsHelloVerifyRequest(byte[] Cookie)
{
    public byte[] ToArray() => new DtlsWireWriter().UInt16(DtlsRecord.Version10).Vector8(Cookie).ToArray();

    public static bool TryParse(ReadOnlySpan<byte> body, [NotNullWhen(true)] out DtlsHelloVerifyRequest? request)
    {
        request = null;
        var reader = new DtlsWireReader(body);
        if (!reader.TryReadUInt16(out _) || !reader.TryReadVector8(out ReadOnlySpan<byte> cookie) || reader.Remaining != 0 || cookie.IsEmpty)
        {
            return false;
        }

        request = new DtlsHelloVerifyRequest(cookie.ToArray());
        return true;
    }
}

/// <summary>ServerHello with the extensions Device OS needs: point formats, the 8-byte CID, raw public keys both ways.</summary>
public sealed record DtlsServerHello(byte[] Random, ushort CipherSuite, IReadOnlyList<DtlsExtension> Extensions)
{
    public byte[]? ConnectionId
    {
        get
        {
            byte[]? data = Extensions.FirstOrDefault(e => e.Type == DtlsExtensions.ConnectionIdDraft05)?.Data;
            return data is { Length: > 0 } && data[0] == data.Length - 1 ? data[1..] : null;
        }
    }

    public static DtlsServerHello ForDevice(byte[] random, byte[]? connectionId)
    {
        var extensions = new List<DtlsExtension>
        {
            new(DtlsExtensions.EcPointFormats, [0x01, 0x00]),
            // RFC 7250 4.2: the server answers with the single type it chose, not a list.
            new(DtlsExtensions.ClientCertificateType, [DtlsExtensions.CertificateTypeRawPublicKey]),
            new(DtlsExtensions.ServerCertificateType, [DtlsExtensions.CertificateTypeRawPublicKey]),
        };
        if (connectionId is not null)
        {
            extensions.Add(new DtlsExtension(DtlsExtensions.ConnectionIdDraft05, [(byte)connectionId.Length, .. connectionId]));
        }

        return new DtlsServerHello(random, DtlsExtensions.CipherSuiteEcdheEcdsaAes128Ccm8, extensions);
    }

    public byte[] ToArray() =>
        new DtlsWireWriter().UInt16(DtlsRecord.Version12).Bytes(Random).Vector8([]).UInt16(CipherSuite).Byte(0)
            .Bytes(DtlsClientHello.WriteExtensions(Extensions)).ToArray();

    public static bool TryParse(ReadOnlySpan<byte> body, [NotNullWhen(true)] out DtlsServerHello? hello)
    {
        hello = null;
        var reader = new DtlsWireReader(body);
        if (!reader.TryReadUInt16(out int version) || version != DtlsRecord.Version12 || !reader.TryReadBytes(DtlsPrf.RandomLength, out ReadOnlySpan<byte> random)
            || !reader.TryReadVector8(out ReadOnlySpan<byte> sessionId) || sessionId.Length > 32 || !reader.TryReadUInt16(out int suite)
            || !reader.TryReadByte(out byte compression) || compression != 0)
        {
            return false;
        }

        var extensions = new List<DtlsExtension>();
        if (reader.Remaining > 0 && (!reader.TryReadVector16(out ReadOnlySpan<byte> block) || reader.Remaining != 0 || !DtlsClientHello.TryParseExtensions(block, extensions)))
        {
            return false;
        }

        hello = new DtlsServerHello(random.ToArray(), (ushort)suite, extensions);
        return true;
    }
}
