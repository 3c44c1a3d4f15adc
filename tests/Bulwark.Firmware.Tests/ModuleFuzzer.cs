using System.Buffers.Binary;

namespace Bulwark.Firmware.Tests;

/// <summary>Mutates valid modules and feeds them to the parser and the protected-module builder.
/// Most mutants get their end address, SHA-256 and CRC-32 repaired so they reach the deep checks
/// (suffix, extensions) instead of all dying at the CRC.</summary>
public sealed class ModuleFuzzer(IReadOnlyList<byte[]> corpus, int seed)
{
    private readonly Random _random = new(seed);

    public sealed record Report(int Iterations, int Accepted, IReadOnlyDictionary<FirmwareErrorReason, int> Refusals, IReadOnlyList<string> Failures);

    /// <summary>Runs the mutants; a failure is any exception, or a builder result the parser rejects.</summary>
    public Report Run(int iterations)
    {
        var accepted = 0;
        var refusals = new Dictionary<FirmwareErrorReason, int>();
        var failures = new List<string>();
        for (var i = 0; i < iterations && failures.Count < 10; i++)
        {
            var mutant = Mutate(corpus[_random.Next(corpus.Count)]);
            try
            {
                if (!FirmwareModule.TryParse(mutant, out var module, out var error))
                {
                    refusals[error.Reason] = refusals.GetValueOrDefault(error.Reason) + 1;
                    if (string.IsNullOrWhiteSpace(error.Message))
                    {
                        failures.Add($"iteration {i}: {error.Reason} without a message");
                    }
                    continue;
                }
                accepted++;
                _ = module.Dependencies.Count + module.AllExtensions.Count() + (module.Name?.Length ?? 0);
                // A module the parser accepts must be protectable into something the parser accepts again.
                if (ProtectedModuleBuilder.TryProtect(mutant, out var protectedModule, out _) &&
                    !(FirmwareModule.TryParse(protectedModule, out var reparsed, out var reparseError) && reparsed.IsProtected))
                {
                    failures.Add($"iteration {i}: protected output refused ({reparseError}); input {Convert.ToHexString(mutant)}");
                }
            }
            catch (Exception e)
            {
                failures.Add($"iteration {i} (seed {seed}): {e.GetType().Name}: {e.Message}; input {Convert.ToHexString(mutant)}");
            }
        }
        return new Report(iterations, accepted, refusals, failures);
    }

    public byte[] Mutate(byte[] original)
    {
        var data = original.ToArray();
        var rounds = 1 + _random.Next(3);
        for (var r = 0; r < rounds; r++)
        {
            data = _random.Next(9) switch
            {
                0 => FlipBits(data),
                1 => data[.._random.Next(data.Length + 1)],
                2 => [.. data, .. RandomBytes(1 + _random.Next(64))],
                3 => OverwriteExtensionHeader(data),
                4 => WriteUInt16(data, data.Length - ModuleLayout.SuffixSizeOffsetFromEnd, RandomUInt16()),
                5 => OverwritePrefixField(data),
                6 => OverwriteBlock(data),
                7 => InsertOrRemoveNearSuffix(data),
                _ => WriteUInt16(data, data.Length - ModuleLayout.SuffixSizeOffsetFromEnd - 44 - _random.Next(32), RandomUInt16()),
            };
        }
        if (_random.NextDouble() < 0.7)
        {
            Repair(data);
        }
        return data;
    }

    private byte[] FlipBits(byte[] data)
    {
        for (var n = 1 + _random.Next(8); n > 0 && data.Length > 0; n--)
        {
            data[_random.Next(data.Length)] ^= (byte)(1 << _random.Next(8));
        }
        return data;
    }

    // Extension headers sit right after the prefix and at the start of the suffix; hit those areas with
    // random type/length values, biased towards small and boundary lengths.
    private byte[] OverwriteExtensionHeader(byte[] data)
    {
        if (data.Length < ModuleLayout.MinimumModuleSize)
        {
            return data;
        }
        int suffixSize = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(data.Length - ModuleLayout.SuffixSizeOffsetFromEnd));
        int[] anchors = [ModuleLayout.PrefixSize, 0x200 + ModuleLayout.PrefixSize, data.Length - ModuleLayout.CrcSize - suffixSize];
        var at = anchors[_random.Next(anchors.Length)] + _random.Next(24);
        var value = _random.Next(4) switch
        {
            0 => (ushort)_random.Next(8),
            1 => (ushort)0xFFFF,
            2 => (ushort)_random.Next(0x14 + 2),
            _ => RandomUInt16(),
        };
        return WriteUInt16(data, at, value);
    }

    private byte[] OverwritePrefixField(byte[] data)
    {
        int[] prefixOffsets = [0, 0x184, 0x200];
        var at = prefixOffsets[_random.Next(prefixOffsets.Length)] + _random.Next(ModuleLayout.PrefixSize);
        if (at < data.Length)
        {
            data[at] = (byte)_random.Next(256);
        }
        return data;
    }

    private byte[] OverwriteBlock(byte[] data)
    {
        if (data.Length == 0)
        {
            return data;
        }
        var start = _random.Next(data.Length);
        var length = Math.Min(data.Length - start, 1 + _random.Next(16));
        _random.NextBytes(data.AsSpan(start, length));
        return data;
    }

    private byte[] InsertOrRemoveNearSuffix(byte[] data)
    {
        var at = Math.Max(0, data.Length - 60 - _random.Next(40));
        if (at >= data.Length)
        {
            return data;
        }
        return _random.Next(2) == 0
            ? [.. data[..at], .. RandomBytes(1 + _random.Next(12)), .. data[at..]]
            : [.. data[..at], .. data[Math.Min(data.Length, at + 1 + _random.Next(12))..]];
    }

    // Makes the prefix's end address match the new length where a prefix plausibly sits, then fixes the checksums.
    private void Repair(byte[] data)
    {
        if (data.Length < ModuleLayout.MinimumModuleSize)
        {
            return;
        }
        foreach (var offset in new[] { 0, 0x184, 0x200 })
        {
            if (offset + ModuleLayout.PrefixSize > data.Length || data[offset + 14] == 0)
            {
                continue;
            }
            var start = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(offset));
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(offset + 4), unchecked(start + (uint)data.Length - ModuleLayout.CrcSize));
            break;
        }
        if (_random.Next(10) != 0)
        {
            ModuleChecksums.UpdateSha256(data);
        }
        ModuleChecksums.UpdateCrc32(data);
    }

    private byte[] WriteUInt16(byte[] data, int at, ushort value)
    {
        if (at >= 0 && at + 2 <= data.Length)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(at), value);
        }
        return data;
    }

    private ushort RandomUInt16() => (ushort)_random.Next(0x10000);

    private byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        _random.NextBytes(bytes);
        return bytes;
    }
}
