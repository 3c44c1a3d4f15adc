using System.Diagnostics.CodeAnalysis;

namespace Bulwark.Protocol.Dtls;

public enum DtlsHandshakeType : byte
{
    HelloRequest = 0,
    ClientHello = 1,
    ServerHello = 2,
    HelloVerifyRequest = 3,
    Certificate = 11,
    ServerKeyExchange = 12,
    CertificateRequest = 13,
    ServerHelloDone = 14,
    CertificateVerify = 15,
    ClientKeyExchange = 16,
    Finished = 20,
}

/// <summary>
/// One handshake fragment: msg_type(1) ‖ length(3) ‖ message_seq(2) ‖ fragment_offset(3) ‖ fragment_length(3) ‖ bytes.
/// </summary>
public sealed record DtlsHandshakeFragment(DtlsHandshakeType Type, int Length, int MessageSeq, int FragmentOffset, ReadOnlyMemory<byte> Bytes)
{
    public const int HeaderLength = 12;

    /// <summary>Reads one fragment from the start of a handshake record; never throws.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> data, [NotNullWhen(true)] out DtlsHandshakeFragment? fragment, out int consumed)
    {
        fragment = null;
        consumed = 0;
        var reader = new DtlsWireReader(data.Span);
        if (!reader.TryReadByte(out byte type) || !reader.TryReadUInt24(out int length) || !reader.TryReadUInt16(out int seq)
            || !reader.TryReadUInt24(out int offset) || !reader.TryReadUInt24(out int fragmentLength) || reader.Remaining < fragmentLength
            || (long)offset + fragmentLength > length || length > DtlsHandshakeReassembler.MaxMessageLength)
        {
            return false;
        }

        fragment = new DtlsHandshakeFragment((DtlsHandshakeType)type, length, seq, offset, data.Slice(HeaderLength, fragmentLength));
        consumed = HeaderLength + fragmentLength;
        return true;
    }

    public byte[] ToArray() =>
        new DtlsWireWriter().Byte((byte)Type).UInt24(Length).UInt16(MessageSeq).UInt24(FragmentOffset).UInt24(Bytes.Length).Bytes(Bytes.Span).ToArray();
}

/// <summary>A complete handshake message.</summary>
public sealed record DtlsHandshakeMessage(DtlsHandshakeType Type, int MessageSeq, byte[] Body)
{
    /// <summary>The bytes hashed into the transcript: the header as if sent unfragmented (RFC 6347 4.2.6), then the body.</summary>
    public byte[] TranscriptBytes() => new DtlsHandshakeFragment(Type, Body.Length, MessageSeq, 0, Body).ToArray();

    /// <summary>Splits the message into fragments whose wire size fits <paramref name="maxFragmentWireLength"/>.</summary>
    public IEnumerable<DtlsHandshakeFragment> Fragment(int maxFragmentWireLength)
    {
        int chunk = Math.Max(1, maxFragmentWireLength - DtlsHandshakeFragment.HeaderLength);
        if (Body.Length == 0)
        {
            yield return new DtlsHandshakeFragment(Type, 0, MessageSeq, 0, Body);
            yield break;
        }

        for (int offset = 0; offset < Body.Length; offset += chunk)
        {
            yield return new DtlsHandshakeFragment(Type, Body.Length, MessageSeq, offset, Body.AsMemory(offset, Math.Min(chunk, Body.Length - offset)));
        }
    }
}

/// <summary>
/// Puts fragments back together and releases messages strictly in message_seq order. Messages behind the expected
/// sequence are reported as retransmissions (the peer lost our reply), those too far ahead are dropped; memory is
/// bounded by <see cref="MaxBufferedMessages"/> × <see cref="MaxMessageLength"/>.
/// </summary>
public sealed class DtlsHandshakeReassembler
{
    public const int MaxMessageLength = 8192;
    public const int MaxBufferedMessages = 8;

    private readonly Dictionary<int, PendingMessage> _pending = [];

    public DtlsHandshakeReassembler(int nextMessageSeq = 0) => NextMessageSeq = nextMessageSeq;

    public int NextMessageSeq { get; private set; }

    /// <summary>Adds a fragment; returns false when it was a retransmission of an already delivered message.</summary>
    public bool Add(DtlsHandshakeFragment fragment)
    {
        if (fragment.MessageSeq < NextMessageSeq)
        {
            return false;
        }

        if (fragment.MessageSeq >= NextMessageSeq + MaxBufferedMessages)
        {
            return true;
        }

        if (!_pending.TryGetValue(fragment.MessageSeq, out PendingMessage? pending))
        {
            pending = new PendingMessage(fragment.Type, fragment.Length);
            _pending[fragment.MessageSeq] = pending;
        }
        else if (pending.Type != fragment.Type || pending.Body.Length != fragment.Length)
        {
            return true;
        }

        pending.Add(fragment.FragmentOffset, fragment.Bytes.Span);
        return true;
    }

    /// <summary>The next complete message in order, if it is here.</summary>
    public bool TryTake([NotNullWhen(true)] out DtlsHandshakeMessage? message)
    {
        message = null;
        if (!_pending.TryGetValue(NextMessageSeq, out PendingMessage? pending) || !pending.IsComplete)
        {
            return false;
        }

        _pending.Remove(NextMessageSeq);
        message = new DtlsHandshakeMessage(pending.Type, NextMessageSeq, pending.Body);
        NextMessageSeq++;
        return true;
    }

    private sealed class PendingMessage(DtlsHandshakeType type, int length)
    {
        private readonly bool[] _received = new bool[length];
        private int _receivedCount;

        public DtlsHandshakeType Type { get; } = type;

        public byte[] Body { get; } = new byte[length];

        public bool IsComplete => _receivedCount == Body.Length;

        public void Add(int offset, ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(Body.AsSpan(offset));
            for (int i = offset; i < offset + bytes.Length; i++)
            {
                if (!_received[i])
                {
                    _received[i] = true;
                    _receivedCount++;
                }
            }
        }
    }
}
