namespace Bulwark.Protocol.Dtls;

/// <summary>One record or handshake message of a flight; handshake messages are fragmented and sequenced when packed.</summary>
public sealed record DtlsFlightEntry(DtlsContentType Type, ushort Epoch, byte[] Content, DtlsHandshakeMessage? Handshake = null)
{
    public static DtlsFlightEntry ForHandshake(DtlsHandshakeMessage message, ushort epoch) => new(DtlsContentType.Handshake, epoch, [], message);

    public static DtlsFlightEntry ChangeCipherSpec() => new(DtlsContentType.ChangeCipherSpec, 0, [1]);
}

/// <summary>
/// The record layer of one association: epochs 0 and 1 (KeyChange means a new handshake, not a new epoch), write
/// sequence numbers, a replay window per epoch, CCM-8 protection, and the CIDs: <see cref="ReceiveCid"/> is what
/// the peer puts on records to us, <see cref="SendCid"/> what we put on ours. Device OS sends an 8-byte CID and
/// receives none.
/// </summary>
public sealed class DtlsRecordLayer : IDisposable
{
    private readonly ulong[] _writeSequence = new ulong[2];
    private readonly DtlsReplayWindow[] _windows = [new(), new()];
    private DtlsRecordProtection? _read;
    private DtlsRecordProtection? _write;

    public byte[] ReceiveCid { get; set; } = [];

    public byte[] SendCid { get; set; } = [];

    /// <summary>Device OS after restoring a saved session: outer type 253 on CID records until anything comes back.</summary>
    public bool SendMovedType { get; set; }

    public bool HasReadKeys => _read is not null;

    public bool HasWriteKeys => _write is not null;

    public ulong WriteSequence(ushort epoch) => _writeSequence[epoch];

    public DtlsReplayWindow ReplayWindow(ushort epoch) => _windows[epoch];

    /// <summary>Installs epoch-1 keys for both directions.</summary>
    public void InstallKeys(DtlsKeyBlock keys, bool isServer)
    {
        _read?.Dispose();
        _write?.Dispose();
        _read = isServer ? new DtlsRecordProtection(keys.ClientWriteKey, keys.ClientWriteIv) : new DtlsRecordProtection(keys.ServerWriteKey, keys.ServerWriteIv);
        _write = isServer ? new DtlsRecordProtection(keys.ServerWriteKey, keys.ServerWriteIv) : new DtlsRecordProtection(keys.ClientWriteKey, keys.ClientWriteIv);
    }

    /// <summary>Sets the next outgoing record number of an epoch: a saved session's (epoch 1), or the server's first
    /// flight after the cookie exchange (epoch 0).</summary>
    public void RestoreWriteSequence(ulong next, ushort epoch = 1) => _writeSequence[epoch] = next;

    /// <summary>Builds one record; epoch-1 content is encrypted (and CID-wrapped when <see cref="SendCid"/> is set).</summary>
    public byte[] Encode(DtlsContentType type, ushort epoch, ReadOnlySpan<byte> content)
    {
        ulong sequence = _writeSequence[epoch]++;
        if (epoch == 0)
        {
            var plain = new byte[DtlsRecord.HeaderLength + content.Length];
            DtlsRecord.WriteHeader(plain, type, 0, sequence, [], content.Length);
            content.CopyTo(plain.AsSpan(DtlsRecord.HeaderLength));
            return plain;
        }

        DtlsRecordProtection write = _write ?? throw new InvalidOperationException("No keys for epoch 1 yet.");
        bool withCid = SendCid.Length > 0;
        byte[] plaintext = withCid ? DtlsRecord.WrapInnerPlaintext(type, content) : content.ToArray();
        DtlsContentType outer = withCid ? (SendMovedType ? DtlsContentType.ConnectionIdMoved : DtlsContentType.ConnectionId) : type;
        var record = new byte[DtlsRecord.HeaderLength + (withCid ? SendCid.Length : 0) + plaintext.Length + DtlsRecordProtection.Overhead];
        int header = DtlsRecord.WriteHeader(record, outer, epoch, sequence, SendCid, plaintext.Length + DtlsRecordProtection.Overhead);
        write.Seal(epoch, sequence, outer, SendCid, plaintext, record.AsSpan(header));
        return record;
    }

    /// <summary>
    /// Authenticates and decrypts a record, checking the replay window; false for anything to drop silently
    /// (RFC 6347 4.1.2.7). On success the window moves.
    /// </summary>
    public bool TryDecode(DtlsRecord record, out DtlsContentType type, out ReadOnlyMemory<byte> content)
    {
        type = record.Type;
        content = ReadOnlyMemory<byte>.Empty;
        if (record.Epoch > 1 || !_windows[record.Epoch].MayAccept(record.Sequence))
        {
            return false;
        }

        if (record.Epoch == 0)
        {
            if (record.HasCid || record.Type == DtlsContentType.ApplicationData)
            {
                return false;
            }

            _windows[0].Accept(record.Sequence);
            content = record.Fragment;
            return true;
        }

        // Once a CID was issued every protected record must carry it, and only CID records may.
        if (_read is null || record.HasCid != (ReceiveCid.Length > 0) || (record.HasCid && !record.Cid.Span.SequenceEqual(ReceiveCid)))
        {
            return false;
        }

        var plaintext = new byte[Math.Max(0, record.Fragment.Length - DtlsRecordProtection.Overhead)];
        if (!_read.TryOpen(record.Epoch, record.Sequence, record.Type, record.Cid.Span, record.Fragment.Span, plaintext, out int length))
        {
            return false;
        }

        if (record.HasCid)
        {
            if (!DtlsRecord.TryUnwrapInnerPlaintext(plaintext.AsSpan(0, length), out type, out length))
            {
                return false;
            }
        }

        _windows[1].Accept(record.Sequence);
        content = plaintext.AsMemory(0, length);
        return true;
    }

    /// <summary>Packs a flight into datagrams of at most <paramref name="mtu"/> bytes, fragmenting large handshake messages.</summary>
    public List<byte[]> Pack(IEnumerable<DtlsFlightEntry> flight, int mtu)
    {
        var records = new List<byte[]>();
        foreach (DtlsFlightEntry entry in flight)
        {
            if (entry.Handshake is null)
            {
                records.Add(Encode(entry.Type, entry.Epoch, entry.Content));
                continue;
            }

            int overhead = DtlsRecord.HeaderLength + (entry.Epoch > 0 ? DtlsRecordProtection.Overhead + SendCid.Length + 1 : 0);
            foreach (DtlsHandshakeFragment fragment in entry.Handshake.Fragment(mtu - overhead))
            {
                records.Add(Encode(DtlsContentType.Handshake, entry.Epoch, fragment.ToArray()));
            }
        }

        var datagrams = new List<byte[]>();
        var current = new List<byte>();
        foreach (byte[] record in records)
        {
            if (current.Count > 0 && current.Count + record.Length > mtu)
            {
                datagrams.Add([.. current]);
                current.Clear();
            }

            current.AddRange(record);
        }

        if (current.Count > 0)
        {
            datagrams.Add([.. current]);
        }

        return datagrams;
    }

    public void Dispose()
    {
        _read?.Dispose();
        _write?.Dispose();
    }
}
