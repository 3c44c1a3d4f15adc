namespace Bulwark.Protocol.Dtls;

/// <summary>The 64-record sliding anti-replay window of RFC 6347 4.1.2.6, for one epoch.</summary>
public sealed class DtlsReplayWindow
{
    private const int Size = 64;
    private ulong _highest;
    private ulong _bitmap;
    private bool _any;

    /// <summary>The highest sequence number accepted so far (for saving and restoring a session).</summary>
    public ulong Highest => _highest;

    public ulong Bitmap => _bitmap;

    /// <summary>Restores a saved window.</summary>
    public void Restore(ulong highest, ulong bitmap)
    {
        _highest = highest;
        _bitmap = bitmap;
        _any = true;
    }

    /// <summary>True when the record is new and not too old; check before decrypting, <see cref="Accept"/> after.</summary>
    public bool MayAccept(ulong sequence)
    {
        if (!_any || sequence > _highest)
        {
            return true;
        }

        ulong age = _highest - sequence;
        return age < Size && (_bitmap & (1UL << (int)age)) == 0;
    }

    /// <summary>Marks a record that authenticated; the window only moves for records that did.</summary>
    public void Accept(ulong sequence)
    {
        if (!_any)
        {
            _any = true;
            _highest = sequence;
            _bitmap = 1;
            return;
        }

        if (sequence > _highest)
        {
            ulong shift = sequence - _highest;
            _bitmap = shift >= Size ? 1 : (_bitmap << (int)shift) | 1;
            _highest = sequence;
        }
        else
        {
            ulong age = _highest - sequence;
            if (age < Size)
            {
                _bitmap |= 1UL << (int)age;
            }
        }
    }
}
