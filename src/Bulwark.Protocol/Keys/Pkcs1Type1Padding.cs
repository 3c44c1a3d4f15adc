namespace Bulwark.Protocol.Keys;

// PKCS#1 v1.5 block type 1 (00 01 FF.. 00 data) with no DigestInfo: what the Gen2 device verifies with MBEDTLS_MD_NONE.
internal static class Pkcs1Type1Padding
{
    // RFC 8017 9.2: at least 8 bytes of 0xFF.
    private const int MinimumPaddingLength = 8;

    public static void Pad(ReadOnlySpan<byte> data, Span<byte> block)
    {
        if (data.Length > block.Length - 3 - MinimumPaddingLength)
        {
            throw new ArgumentException("Data is too long for a PKCS#1 type 1 block of this size.", nameof(data));
        }

        int separator = block.Length - data.Length - 1;
        block[0] = 0x00;
        block[1] = 0x01;
        block[2..separator].Fill(0xFF);
        block[separator] = 0x00;
        data.CopyTo(block[(separator + 1)..]);
    }

    /// <summary>Strips the padding; false if the block is not a well-formed type 1 block.</summary>
    public static bool TryUnpad(ReadOnlySpan<byte> block, out ReadOnlySpan<byte> data)
    {
        data = default;
        if (block.Length < 3 + MinimumPaddingLength || block[0] != 0x00 || block[1] != 0x01)
        {
            return false;
        }

        int position = 2;
        while (position < block.Length && block[position] == 0xFF)
        {
            position++;
        }

        if (position - 2 < MinimumPaddingLength || position >= block.Length || block[position] != 0x00)
        {
            return false;
        }

        data = block[(position + 1)..];
        return true;
    }
}
