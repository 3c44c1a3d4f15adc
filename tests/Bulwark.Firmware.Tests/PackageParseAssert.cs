using System.Text.Json;

namespace Bulwark.Firmware.Tests;

/// <summary>Asserts that a ParsedModule says exactly what binary-version-reader's parseBuffer reported.
/// Every key the package emits must be known here, so a new package field fails loudly instead of going unchecked.</summary>
public static class PackageParseAssert
{
    public static void Matches(JsonElement package, ParsedModule module, byte[] file, string caseName)
    {
        ExpectKeys(package, caseName, new()
        {
            ["crc"] = crc => ExpectKeys(crc, $"{caseName}.crc", new()
            {
                ["ok"] = ok => Assert.True(ok.GetBoolean(), $"{caseName}: package saw a bad CRC in a module Bulwark accepted"),
                ["storedCrc"] = stored => Assert.Equal(stored.GetString(), module.Crc32.ToString("x8")),
                ["actualCrc"] = actual => Assert.Equal(actual.GetString(), FirmwareModule.ComputeCrc32(file).ToString("x8")),
            }),
            ["prefixInfo"] = prefix => ExpectKeys(prefix, $"{caseName}.prefixInfo", new()
            {
                ["moduleStartAddy"] = v => Assert.Equal(v.GetString(), module.StartAddress.ToString("x")),
                ["moduleEndAddy"] = v => Assert.Equal(v.GetString(), module.EndAddress.ToString("x")),
                ["reserved"] = v => Assert.Equal(v.GetInt32(), module.Reserved),
                ["moduleFlags"] = v => Assert.Equal(v.GetInt32(), (int)module.Flags),
                ["moduleVersion"] = v => Assert.Equal(v.GetInt32(), module.Version),
                ["platformID"] = v => Assert.Equal(v.GetInt32(), module.PlatformId),
                ["moduleFunction"] = v => Assert.Equal(v.GetInt32(), (int)module.Function),
                ["moduleIndex"] = v => Assert.Equal(v.GetInt32(), module.Index),
                ["depModuleFunction"] = v => Assert.Equal(v.GetInt32(), (int)module.Dependency1.Function),
                ["depModuleIndex"] = v => Assert.Equal(v.GetInt32(), module.Dependency1.Index),
                ["depModuleVersion"] = v => Assert.Equal(v.GetInt32(), module.Dependency1.Version),
                ["dep2ModuleFunction"] = v => Assert.Equal(v.GetInt32(), (int)module.Dependency2.Function),
                ["dep2ModuleIndex"] = v => Assert.Equal(v.GetInt32(), module.Dependency2.Index),
                ["dep2ModuleVersion"] = v => Assert.Equal(v.GetInt32(), module.Dependency2.Version),
                ["prefixSize"] = v => Assert.Equal(v.GetInt32(), module.PrefixSize),
                ["prefixOffset"] = v => Assert.Equal(v.GetInt32(), module.PrefixOffset),
                // The package reports prefix extension offsets relative to the prefix.
                ["extensions"] = v => Extensions(v, module.PrefixExtensions, module.PrefixOffset, $"{caseName}.prefixInfo.extensions"),
            }),
            ["suffixInfo"] = suffix => ExpectKeys(suffix, $"{caseName}.suffixInfo", new()
            {
                ["productId"] = v => Assert.Equal(v.GetInt32(), module.ProductId ?? -1),
                ["productVersion"] = v => Assert.Equal(v.GetInt32(), module.ProductVersion ?? -1),
                ["fwUniqueId"] = v => Assert.Equal(v.GetString(), Convert.ToHexStringLower(module.Sha256.Span)),
                ["reserved"] = v => Assert.Equal(v.GetInt32(), module.SuffixReserved),
                ["suffixSize"] = v => Assert.Equal(v.GetInt32(), module.SuffixSize),
                ["crcBlock"] = v => Assert.Equal(v.GetString(), module.Crc32.ToString("x8")),
                ["extensions"] = v => Extensions(v, module.SuffixExtensions, 0, $"{caseName}.suffixInfo.extensions"),
            }),
            ["security"] = security => ExpectKeys(security, $"{caseName}.security", new()
            {
                ["mode"] = v => Assert.Equal(v.GetInt32(), (int?)module.SecurityMode),
                ["certificate"] = v => Assert.Equal(v.GetString(), Convert.ToHexStringLower(module.SecurityModeExtension!.Certificate.Span)),
            }),
            ["assets"] = assets => Assert.Equal(
                assets.EnumerateArray().Select(a => $"{a.GetProperty("hashType").GetInt32()}:{a.GetProperty("hash").GetString()}:{a.GetProperty("name").GetString()}"),
                module.AllExtensions.OfType<AssetDependencyExtension>().Select(a => $"{a.HashType}:{Convert.ToHexStringLower(a.Hash.Span)}:{a.Name}")),
        });

        // Absent keys are facts too: no extensions, no security, no assets.
        if (!package.GetProperty("prefixInfo").TryGetProperty("extensions", out _))
        {
            Assert.Empty(module.PrefixExtensions);
        }
        if (!package.GetProperty("suffixInfo").TryGetProperty("extensions", out _))
        {
            Assert.Empty(module.SuffixExtensions);
        }
        if (!package.TryGetProperty("security", out _))
        {
            Assert.Null(module.SecurityMode);
        }
        if (!package.TryGetProperty("assets", out _))
        {
            Assert.Empty(module.AllExtensions.OfType<AssetDependencyExtension>());
        }
    }

    private static void Extensions(JsonElement expected, IReadOnlyList<ModuleExtension> actual, int offsetBase, string path)
    {
        var reported = expected.EnumerateArray().ToList();
        Assert.True(reported.Count == actual.Count, $"{path}: package reports {reported.Count} extensions, Bulwark {actual.Count}");
        for (var i = 0; i < reported.Count; i++)
        {
            var extension = actual[i];
            var at = $"{path}[{i}]";
            ExpectKeys(reported[i], at, new()
            {
                ["type"] = v => Assert.Equal(v.GetInt32(), (int)extension.Type),
                ["length"] = v => Assert.Equal(v.GetInt32(), extension.Length),
                ["offset"] = v => Assert.Equal(v.GetInt32() + offsetBase, extension.Offset),
                ["data"] = v => Assert.Equal(v.GetString(), Convert.ToHexStringLower(extension.RawData.Span)),
                ["productId"] = v => Assert.Equal(v.GetInt32(), ((ProductDataExtension)extension).ProductId),
                ["productVersion"] = v => Assert.Equal(v.GetInt32(), ((ProductDataExtension)extension).ProductVersion),
                ["moduleStartAddress"] = v => Assert.Equal(v.GetString(), ((DynamicLocationExtension)extension).ModuleStartAddress.ToString("x")),
                ["dynalibLoadAddress"] = v => Assert.Equal(v.GetString(), ((DynamicLocationExtension)extension).DynalibLoadAddress.ToString("x")),
                ["dynalibStartAddress"] = v => Assert.Equal(v.GetString(), ((DynamicLocationExtension)extension).DynalibStartAddress.ToString("x")),
                ["moduleFunction"] = v => Assert.Equal(v.GetInt32(), (int)((DependencyExtension)extension).Dependency.Function),
                ["moduleIndex"] = v => Assert.Equal(v.GetInt32(), ((DependencyExtension)extension).Dependency.Index),
                ["moduleVersion"] = v => Assert.Equal(v.GetInt32(), ((DependencyExtension)extension).Dependency.Version),
                ["targetId"] = v => Assert.Equal(v.GetUInt32(), ((DependencyExtension)extension).Dependency.TargetId),
                ["hashType"] = v => Assert.Equal(v.GetInt32(), extension switch
                {
                    HashExtension h => h.HashType,
                    AssetDependencyExtension a => a.HashType,
                    _ => -1,
                }),
                ["hashLength"] = v => Assert.Equal(v.GetInt32(), extension switch
                {
                    HashExtension h => h.Hash.Length,
                    AssetDependencyExtension a => a.Hash.Length,
                    _ => -1,
                }),
                ["hash"] = v => Assert.Equal(v.GetString(), Convert.ToHexStringLower(extension switch
                {
                    HashExtension h => h.Hash.Span,
                    AssetDependencyExtension a => a.Hash.Span,
                    _ => [],
                })),
                ["name"] = v => Assert.Equal(v.GetString(), extension switch
                {
                    NameExtension n => n.Name,
                    AssetDependencyExtension a => a.Name,
                    _ => null,
                }),
                ["securityMode"] = v => Assert.Equal(v.GetInt32(), (int)((SecurityModeExtension)extension).Mode),
                ["certificate"] = v => Assert.Equal(v.GetString(), Convert.ToHexStringLower(((SecurityModeExtension)extension).Certificate.Span)),
                ["assetType"] = v => Assert.Equal(v.GetInt32(), ((AssetTypeExtension)extension).AssetType),
            });
        }
    }

    private static void ExpectKeys(JsonElement element, string path, Dictionary<string, Action<JsonElement>> checks)
    {
        Assert.Equal(JsonValueKind.Object, element.ValueKind);
        foreach (var property in element.EnumerateObject())
        {
            Assert.True(checks.TryGetValue(property.Name, out var check),
                $"{path}.{property.Name}: binary-version-reader reports a field this test does not check");
            try
            {
                check(property.Value);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException || !e.Message.StartsWith(path, StringComparison.Ordinal))
            {
                throw new Xunit.Sdk.XunitException($"{path}.{property.Name}: {e.Message}");
            }
        }
    }
}
