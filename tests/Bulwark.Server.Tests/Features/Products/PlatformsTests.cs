using Bulwark.Server.Features.Products;

namespace Bulwark.Server.Tests.Features.Products;

/// <summary>The platform table and the grouping rules of Particle's docs: which devices may share a product.</summary>
public class PlatformsTests
{
    private static HardwareFamily Family(string model) => Platforms.FamilyOfModel(model) ?? throw new InvalidOperationException(model);

    [Theory]
    // Electron and E Series share.
    [InlineData("Electron", "E402", true)]
    [InlineData("E404", "E201", true)]
    [InlineData("U260", "E310", true)]
    // The E404X stands alone.
    [InlineData("E404X", "E404", false)]
    [InlineData("E404X", "Electron", false)]
    // Every Tracker variant shares.
    [InlineData("ONE404", "ONE524", true)]
    [InlineData("T404", "T523", true)]
    [InlineData("Monitor One", "T402", true)]
    // P2 and Photon 2 are apart, though both are platform 32.
    [InlineData("P2", "Photon 2", false)]
    // P1 and Photon are apart.
    [InlineData("P1", "Photon", false)]
    // B4xx and B5xx are apart, and neither joins a Boron.
    [InlineData("B404X", "B402", true)]
    [InlineData("B404", "B524", false)]
    [InlineData("B523", "B524", true)]
    [InlineData("B404X", "Boron", false)]
    // M-SoM and Muon are one platform and one family.
    [InlineData("M404", "Muon", true)]
    public void Which_devices_may_share_a_product(string a, string b, bool share)
    {
        Assert.Equal(share, Platforms.MayShareProduct(Family(a), Family(b)));
        Assert.Equal(share, Platforms.MayShareProduct(Family(b), Family(a)));
    }

    [Fact]
    public void P2_and_photon_2_share_a_platform_but_not_a_product()
    {
        Assert.Equal(32, Family("P2").PlatformId);
        Assert.Equal(32, Family("Photon 2").PlatformId);
        Assert.True(Platforms.MayJoinProduct(32, "p2", 32, "P2"));
        Assert.False(Platforms.MayJoinProduct(32, "p2", 32, "Photon 2"));
        Assert.True(Platforms.MayJoinProduct(32, "photon2", 32, "Photon 2"));
        Assert.True(Platforms.MayJoinProduct(32, "p2", 32), "a device of unknown model is judged by platform alone");
    }

    [Fact]
    public void A_device_of_another_platform_never_joins()
    {
        Assert.False(Platforms.MayJoinProduct(13, "boron", 23, "B404"));
        Assert.False(Platforms.MayJoinProduct(10, "electron", 15, "E404X"));
        Assert.False(Platforms.MayJoinProduct(6, "photon", 8, "P1"));
        Assert.False(Platforms.MayJoinProduct(26, "tracker", 28));
        Assert.False(Platforms.MayJoinProduct(13, "boron", 13, "Unknown Board"));
        Assert.True(Platforms.MayJoinProduct(26, "tracker", 26, "ONE524"));
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(3, false)]
    [InlineData(6, true)]
    [InlineData(8, true)]
    [InlineData(10, true)]
    [InlineData(12, true)]
    [InlineData(13, true)]
    [InlineData(14, false)]
    [InlineData(15, true)]
    [InlineData(22, false)]
    [InlineData(23, true)]
    [InlineData(24, false)]
    [InlineData(25, true)]
    [InlineData(26, true)]
    [InlineData(28, true)]
    [InlineData(31, false)]
    [InlineData(32, true)]
    [InlineData(35, true)]
    [InlineData(37, true)]
    [InlineData(38, true)]
    [InlineData(42, true)]
    [InlineData(43, true)]
    [InlineData(82, false)]
    [InlineData(88, false)]
    [InlineData(103, false)]
    public void The_table_of_device_constants(int id, bool eligible)
    {
        var platform = Platforms.Find(id);
        Assert.NotNull(platform);
        Assert.Equal(eligible, platform.ProductEligible);
        Assert.Equal(eligible, Platforms.Choose(id, null).Accepted);
        Assert.Equal(eligible, platform.Hardware.Count > 0);
    }

    [Fact]
    public void Choosing_a_platform_names_what_is_wrong()
    {
        Assert.Contains("Unknown platform_id 99", Platforms.Choose(99, null).Error, StringComparison.Ordinal);
        Assert.Contains("cannot be used for products", Platforms.Choose(14, null).Error, StringComparison.Ordinal);
        Assert.Contains("not part of platform 13", Platforms.Choose(13, "photon2").Error, StringComparison.Ordinal);
        Assert.Equal("p2", Platforms.Choose(32, null).Hardware!.Key);
        Assert.Equal("photon2", Platforms.Choose(32, "Photon2").Hardware!.Key);
    }

    [Fact]
    public void Ids_families_and_models_are_unique()
    {
        Assert.Equal(Platforms.All.Count, Platforms.All.Select(p => p.Id).Distinct().Count());
        var families = Platforms.All.SelectMany(p => p.Hardware).ToList();
        Assert.Equal(families.Count, families.Select(f => f.Key).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        var models = families.SelectMany(f => f.Models).ToList();
        Assert.Equal(models.Count, models.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.All(families, f => Assert.Equal(f.PlatformId, Platforms.All.Single(p => p.Hardware.Contains(f)).Id));
    }

    [Theory]
    [InlineData("My Widget", "my-widget")]
    [InlineData("  Ünïcödé -- Thing!! ", "unicode-thing")]
    [InlineData("12345", null)]
    [InlineData("!!!", null)]
    public void Slugs_from_names(string name, string? slug) => Assert.Equal(slug, Slugs.FromName(name));

    [Theory]
    [InlineData("ok-slug", true)]
    [InlineData("a", false)]
    [InlineData("UPPER", false)]
    [InlineData("double--hyphen", false)]
    [InlineData("-edge", false)]
    [InlineData("1234", false)]
    [InlineData("0123456789abcdef01234567", false)]
    [InlineData("v2-widget", true)]
    public void Slug_rules(string slug, bool valid) => Assert.Equal(valid, Slugs.IsValid(slug));
}
