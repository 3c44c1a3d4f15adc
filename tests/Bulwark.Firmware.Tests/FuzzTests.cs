using Xunit.Abstractions;

namespace Bulwark.Firmware.Tests;

public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int DefaultIterations = 50_000;

    /// <summary>Set BULWARK_FUZZ_ITERATIONS=1000000 for a long run; BULWARK_FUZZ_SEED to replay one.</summary>
    [Fact]
    public void Mutated_modules_never_throw_and_protected_output_always_parses()
    {
        var iterations = int.TryParse(Environment.GetEnvironmentVariable("BULWARK_FUZZ_ITERATIONS"), out var fromEnv) && fromEnv > 0
            ? fromEnv
            : DefaultIterations;
        var seed = int.TryParse(Environment.GetEnvironmentVariable("BULWARK_FUZZ_SEED"), out var seedFromEnv)
            ? seedFromEnv
            : Environment.TickCount;

        var started = System.Diagnostics.Stopwatch.StartNew();
        var report = new ModuleFuzzer(FuzzCorpus.Modules(), seed).Run(iterations);
        output.WriteLine($"seed {seed}: {report.Iterations} mutants in {started.Elapsed.TotalSeconds:F1} s, {report.Accepted} accepted");
        foreach (var (reason, count) in report.Refusals.OrderByDescending(r => r.Value))
        {
            output.WriteLine($"  {reason}: {count}");
        }

        Assert.True(report.Failures.Count == 0, string.Join(Environment.NewLine, report.Failures));
        // The mutator must reach deep checks, not just the CRC, or the run proves little.
        Assert.True(report.Accepted > 0, "no mutant was accepted");
        foreach (var reason in new[]
                 {
                     FirmwareErrorReason.CrcMismatch, FirmwareErrorReason.Sha256Mismatch, FirmwareErrorReason.Truncated,
                     FirmwareErrorReason.MalformedExtension, FirmwareErrorReason.InvalidSuffixSize,
                 })
        {
            Assert.True(report.Refusals.ContainsKey(reason), $"the fuzzer never produced {reason}");
        }
    }
}

/// <summary>Valid modules covering every layout: committed package fixtures plus builder-made extension-heavy ones.</summary>
public static class FuzzCorpus
{
    public static IReadOnlyList<byte[]> Modules()
    {
        var fromPackage = ConformanceManifest.LoadCommitted().Cases
            .Where(c => c.File is not null && c.ExpectValid)
            .Select(c => c.Bytes);
        var hash = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var built = new[]
        {
            new FirmwareModuleSpec
            {
                PlatformId = 13, Function = ModuleFunction.UserPart, DataSize = 128, ProductId = 7, ProductVersion = 2,
                SuffixExtensions =
                [
                    ModuleExtensionEncoder.Name("app"),
                    ModuleExtensionEncoder.Dependency(ModuleFunction.NcpFirmware, 0, 7, 0xABCD),
                    ModuleExtensionEncoder.SecurityMode(SecurityMode.Protected, [1, 2, 3]),
                    ModuleExtensionEncoder.AssetDependency(hash, "a.bin"),
                    ModuleExtensionEncoder.ProductData(7, 2),
                ],
            },
            new FirmwareModuleSpec
            {
                PlatformId = 32, Function = ModuleFunction.UserPart, DataSize = 96,
                PrefixExtensions = [ModuleExtensionEncoder.Hash(hash), ModuleExtensionEncoder.AssetType(1), ModuleExtensionEncoder.Name("p2")],
                SuffixExtensions = [ModuleExtensionEncoder.DynamicLocation(0x085F0000, 0x2003F000, 0x085F0020), ModuleExtensionEncoder.End()],
            },
            new FirmwareModuleSpec { PlatformId = 3, Function = ModuleFunction.SystemPart, DataSize = 64, PrefixOffset = 0x200 },
        }.Select(FirmwareModuleBuilder.Build);
        return fromPackage.Concat(built).ToList();
    }
}
