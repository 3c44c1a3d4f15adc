using Bulwark.Server.Tests.Features.Teams;
using Bulwark.Server.Tests.Infrastructure;

namespace Bulwark.Server.Tests.Features.Products;

public class ProductTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    [Theory, MemberData(nameof(Providers))]
    public async Task Products_are_created_listed_and_found_by_id_or_slug(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var orgSlug = "acme-" + Guid.NewGuid().ToString("N")[..8];
        var orgId = await server.CreateOrgAsync(owner, orgSlug);
        var slug = "tracker-fleet-" + Guid.NewGuid().ToString("N")[..8];
        var created = await server.OkAsync(owner.Token, "POST", $"/v1/orgs/{orgSlug}/products",
            new { product = new { name = "Tracker fleet", platform_id = 26, description = "Trucks", slug } });
        var product = created.GetProperty("product");
        var id = product.GetProperty("id").GetInt32();
        Assert.InRange(id, 1001, 65535);
        Assert.Equal(slug, product.GetProperty("slug").GetString());
        Assert.Equal(26, product.GetProperty("platform_id").GetInt32());
        Assert.Equal("tracker", product.GetProperty("hardware").GetString());
        Assert.Equal(orgSlug, product.GetProperty("org").GetString());
        Assert.Equal(orgId, product.GetProperty("organization_id").GetString());
        Assert.True(product.GetProperty("settings").GetProperty("quarantine").GetBoolean());
        Assert.Equal("quarantine", product.GetProperty("settings").GetProperty("unrecognized_devices").GetString());
        Assert.Equal("disabled", product.GetProperty("device_protection").GetString());

        var mine = await server.OkAsync(owner.Token, "POST", "/v1/user/products", new { product = new { name = "Tracker fleet", platform_id = 13 } });
        Assert.Equal(owner.Username, mine.GetProperty("product").GetProperty("user").GetString());
        Assert.Equal("tracker-fleet", mine.GetProperty("product").GetProperty("slug").GetString());
        var mineId = mine.GetProperty("product").GetProperty("id").GetInt32();

        foreach (var idOrSlug in new[] { id.ToString(System.Globalization.CultureInfo.InvariantCulture), slug, slug.ToUpperInvariant() })
        {
            var got = await server.OkAsync(owner.Token, "GET", $"/v1/products/{idOrSlug}");
            Assert.Equal(id, got.GetProperty("product").GetProperty("id").GetInt32());
        }
        foreach (var path in new[] { "/v1/products", "/v1/user/products" })
        {
            var list = await server.OkAsync(owner.Token, "GET", path);
            Assert.Equal([id, mineId], list.GetProperty("products").EnumerateArray().Select(p => p.GetProperty("id").GetInt32()).Order());
        }
        var orgList = await server.OkAsync(owner.Token, "GET", $"/v1/orgs/{orgId}/products");
        Assert.Equal([id], orgList.GetProperty("products").EnumerateArray().Select(p => p.GetProperty("id").GetInt32()));
        Assert.Equal(404, (await server.SendAsync(owner.Token, "GET", "/v1/products/65000")).Status);
        Assert.Equal(404, (await server.SendAsync(owner.Token, "GET", "/v1/products/no-such-product")).Status);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Settings_change_the_unrecognized_device_policy_and_are_audited(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var productId = await server.CreateProductAsync(owner, platformId: 32);
        var updated = await server.OkAsync(owner.Token, "PUT", $"/v1/products/{productId}",
            new { description = "Kiosks", settings = new { unrecognized_devices = "auto-approve", location = new { opt_in = true } } });
        var settings = updated.GetProperty("product").GetProperty("settings");
        Assert.False(settings.GetProperty("quarantine").GetBoolean());
        Assert.Equal("auto-approve", settings.GetProperty("unrecognized_devices").GetString());
        Assert.True(settings.GetProperty("location").GetProperty("opt_in").GetBoolean());
        // Particle's boolean spelling works too.
        var back = await server.OkAsync(owner.Token, "PUT", $"/v1/products/{productId}", new { settings = new { quarantine = true } });
        Assert.Equal("quarantine", back.GetProperty("product").GetProperty("settings").GetProperty("unrecognized_devices").GetString());

        var log = await server.OkAsync(owner.Token, "GET", $"/v1/products/{productId}/audit?event=ProductUpdated");
        var details = log.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("details").GetString()!).ToList();
        Assert.Equal(2, details.Count);
        Assert.Contains("\"unrecognized_devices\":[\"auto-approve\",\"quarantine\"]", details[0], StringComparison.Ordinal);
        Assert.Contains("\"unrecognized_devices\":[\"quarantine\",\"auto-approve\"]", details[1], StringComparison.Ordinal);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Bad_product_input_gets_a_clear_error(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var slug = "taken-" + Guid.NewGuid().ToString("N")[..8];
        var productId = await server.CreateProductAsync(owner, platformId: 13, slug: slug);

        async Task Expect(object body, int status, string error, string? mentions = null, string method = "POST", string path = "/v1/user/products")
        {
            var (got, json) = await server.SendAsync(owner.Token, method, path, body);
            Assert.True(got == status && json.Error() == error, $"{method} {path} {System.Text.Json.JsonSerializer.Serialize(body)}: {got} {json}");
            if (mentions is not null)
            {
                Assert.Contains(mentions, json.Description(), StringComparison.Ordinal);
            }
        }

        await Expect(new { product = new { name = "x", platform_id = 999 } }, 400, "invalid_platform", "Unknown platform_id 999");
        await Expect(new { product = new { name = "x", platform_id = 14 } }, 400, "invalid_platform", "Xenon");
        await Expect(new { product = new { name = "x", platform_id = 0 } }, 400, "invalid_platform", "cannot be used for products");
        await Expect(new { product = new { name = "x", platform_id = 23, hardware = "b5som" } }, 400, "invalid_platform", "not part of platform 23");
        await Expect(new { product = new { name = "x", platform_id = 13, slug } }, 409, "slug_taken", slug);
        await Expect(new { product = new { name = "x", platform_id = 13, slug = "12345" } }, 400, "invalid_slug");
        await Expect(new { product = new { name = "x", platform_id = 13, slug = "Not A Slug" } }, 400, "invalid_slug");
        await Expect(new { product = new { platform_id = 13 } }, 400, "invalid_request", "name");
        await Expect(new { product = new { name = "x" } }, 400, "invalid_request", "platform_id");
        await Expect(new { product = new { name = "x", platform_id = 13, settings = new { unrecognized_devices = "let-them-in" } } }, 400, "invalid_request");
        var path = $"/v1/products/{productId}";
        await Expect(new { platform_id = 23 }, 400, "invalid_platform", "cannot change", "PUT", path);
        await Expect(new { slug = "other-slug" }, 400, "invalid_slug", null, "PUT", path);
        await Expect(new { }, 400, "invalid_request", "Nothing to update", "PUT", path);
    }
}
