using System.Buffers.Binary;

namespace Bulwark.Firmware;

/// <summary>Finds module_info_t the way binary-version-reader's _findModulePrefixOffset does, so both pick the same offset.</summary>
internal static class ModulePrefixLocator
{
    private const int PerfectScore = 7;

    internal enum Verdict
    {
        Rejected,
        ShorterThanDeclared,
        Plausible,
    }

    internal readonly record struct Candidate(Verdict Verdict, int Score, long DeclaredLength);

    /// <summary>The chosen offset, or -1 when no offset holds a plausible prefix.</summary>
    internal static int Locate(ReadOnlySpan<byte> file)
    {
        var bestOffset = -1;
        var bestScore = 0;
        foreach (var offset in ModuleLayout.PreferredPrefixOffsets)
        {
            if (Consider(file, offset, ref bestOffset, ref bestScore))
            {
                return offset;
            }
        }

        var lastOffset = Math.Min(ModuleLayout.MaximumPrefixOffset, file.Length - ModuleLayout.MinimumModuleSize);
        for (var offset = 4; offset <= lastOffset; offset += 4)
        {
            if (ModuleLayout.PreferredPrefixOffsets.Contains(offset))
            {
                continue;
            }
            if (Consider(file, offset, ref bestOffset, ref bestScore))
            {
                return offset;
            }
        }
        return bestOffset;
    }

    /// <summary>The declared length of the first preferred-offset prefix that is only let down by a short file.</summary>
    internal static long? DeclaredLengthOfTruncatedPrefix(ReadOnlySpan<byte> file)
    {
        foreach (var offset in ModuleLayout.PreferredPrefixOffsets)
        {
            var candidate = Evaluate(file, offset);
            if (candidate.Verdict == Verdict.ShorterThanDeclared)
            {
                return candidate.DeclaredLength;
            }
        }
        return null;
    }

    private static bool Consider(ReadOnlySpan<byte> file, int offset, ref int bestOffset, ref int bestScore)
    {
        var candidate = Evaluate(file, offset);
        if (candidate.Verdict != Verdict.Plausible)
        {
            return false;
        }
        if (candidate.Score >= PerfectScore)
        {
            return true;
        }
        // Strictly greater, like the package: on a tie the earlier offset wins.
        if (candidate.Score > bestScore)
        {
            bestOffset = offset;
            bestScore = candidate.Score;
        }
        return false;
    }

    internal static Candidate Evaluate(ReadOnlySpan<byte> file, int offset)
    {
        if (offset < 0 || file.Length - offset < ModuleLayout.PrefixSize)
        {
            return new Candidate(Verdict.Rejected, 0, 0);
        }
        var prefix = file.Slice(offset, ModuleLayout.PrefixSize);
        var start = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        var end = BinaryPrimitives.ReadUInt32LittleEndian(prefix[4..]);
        var flags = prefix[9];
        var platformId = BinaryPrimitives.ReadUInt16LittleEndian(prefix[12..]);
        var function = (ModuleFunction)prefix[14];
        var dep1 = ReadDependency(prefix[16..]);
        var dep2 = ReadDependency(prefix[20..]);

        if (end <= start || function == ModuleFunction.None || !IsWellFormedSlot(dep1) || !IsWellFormedSlot(dep2))
        {
            return new Candidate(Verdict.Rejected, 0, 0);
        }
        var declaredLength = (long)end - start + ModuleLayout.CrcSize;
        if (file.Length < declaredLength)
        {
            return new Candidate(Verdict.ShorterThanDeclared, 0, declaredLength);
        }

        var score = 1;
        score += KnownPlatforms.Ids.Contains(platformId) ? 1 : 0;
        score += function.IsKnown() ? 1 : 0;
        score += dep1.Function.IsKnown() ? 1 : 0;
        score += dep2.Function.IsKnown() ? 1 : 0;
        score += file.Length == declaredLength ? 1 : 0;
        score += (flags & ~(int)ModuleLayout.KnownFlags) == 0 ? 1 : 0;
        return new Candidate(Verdict.Plausible, score, declaredLength);
    }

    internal static ModuleDependency ReadDependency(ReadOnlySpan<byte> slot) =>
        new((ModuleFunction)slot[0], slot[1], BinaryPrimitives.ReadUInt16LittleEndian(slot[2..]));

    // An empty slot must be all zero; anything else means this is not really a prefix.
    private static bool IsWellFormedSlot(ModuleDependency dependency) =>
        !dependency.IsEmpty || (dependency.Index == 0 && dependency.Version == 0);
}
