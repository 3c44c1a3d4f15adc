using System.Globalization;
using System.Net.Http.Headers;
using Bulwark.Firmware;
using Bulwark.Server.Tests.Features.Teams;
using Bulwark.Server.Tests.Infrastructure;

namespace Bulwark.Server.Tests.Features.Firmware;

public class FirmwareApiTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    internal static byte[] Binary(int platformId, int productId, int version, ushort systemVersion = 6200, int seed = 1) =>
        FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = (ushort)platformId,
            ProductId = (ushort)productId,
            ProductVersion = (ushort)version,
            Dependency1 = new ModuleDependency(ModuleFunction.SystemPart, 1, systemVersion),
            Seed = seed,
        });

    internal static async Task<(int Status, System.Text.Json.JsonElement Body)> UploadAsync(BulwarkTestServer server, string token, int productId,
        byte[] binary, int version, string part = "binary", string title = "Release")
    {
        using var client = server.CreateClient(token);
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(binary) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } }, part, "firmware.bin" },
            { new StringContent(version.ToString(CultureInfo.InvariantCulture)), "version" },
            { new StringContent(title), "title" },
            { new StringContent("notes"), "description" },
        };
        using var response = await client.PostAsync($"/v1/products/{productId}/firmware", form);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, System.Text.Json.JsonDocument.Parse(text).RootElement.Clone());
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Upload_validates_the_binary_against_the_product(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var productId = await server.CreateProductAsync(owner, platformId: 13);

        var (status, body) = await UploadAsync(server, owner.Token, productId, Binary(13, productId, 3), 3, part: "file");
        Assert.Equal(201, status);
        Assert.Equal(3, body.GetProperty("version").GetInt32());
        Assert.Equal("Release", body.GetProperty("title").GetString());
        Assert.Equal(6200, body.GetProperty("required_system_version").GetInt32());
        Assert.False(body.GetProperty("product_default").GetBoolean());
        Assert.Equal(productId, body.GetProperty("product_id").GetInt32());
        Assert.Equal(owner.Username, body.GetProperty("uploaded_by").GetProperty("username").GetString());

        var corrupt = Binary(13, productId, 4);
        corrupt[100] ^= 0xFF;
        var cases = new (byte[] Binary, int Version, int Status, string Error)[]
        {
            (Binary(32, productId, 4), 4, 400, "wrong_platform"),
            (Binary(13, productId + 1, 4), 4, 400, "wrong_product"),
            (Binary(13, productId, 5), 4, 400, "version_mismatch"),
            (corrupt, 4, 400, "invalid_binary"),
            (Binary(13, productId, 3, seed: 2), 3, 409, "version_exists"),
        };
        foreach (var c in cases)
        {
            var (s, b) = await UploadAsync(server, owner.Token, productId, c.Binary, c.Version);
            Assert.True(s == c.Status && b.Error() == c.Error, $"{c.Error}: {s} {b}");
        }
        Assert.Equal(400, (await server.SendAsync(owner.Token, "POST", $"/v1/products/{productId}/firmware", new { version = 4 })).Status);

        var list = await server.OkAsync(owner.Token, "GET", $"/v1/products/{productId}/firmware");
        Assert.Equal([3], list.EnumerateArray().Select(f => f.GetProperty("version").GetInt32()));
        using (var client = server.CreateClient(owner.Token))
        {
            Assert.Equal(Binary(13, productId, 3), await client.GetByteArrayAsync($"/v1/products/{productId}/firmware/3/binary"));
        }
        var edited = await server.OkAsync(owner.Token, "PUT", $"/v1/products/{productId}/firmware/3", new { title = "Renamed", description = "d" });
        Assert.Equal("Renamed", edited.GetProperty("title").GetString());
        Assert.Equal(404, (await server.SendAsync(owner.Token, "GET", $"/v1/products/{productId}/firmware/9")).Status);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Release_moves_groups_and_the_product_default_and_released_firmware_cannot_be_deleted(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var productId = await server.CreateProductAsync(owner, platformId: 13);
        foreach (var v in new[] { 1, 2, 3 })
        {
            Assert.Equal(201, (await UploadAsync(server, owner.Token, productId, Binary(13, productId, v), v)).Status);
        }
        var created = await server.OkAsync(owner.Token, "POST", $"/v1/products/{productId}/groups", new { name = "beta", color = "#ff0000", description = "testers" });
        Assert.Equal("beta", created.GetProperty("group").GetProperty("name").GetString());
        await server.OkAsync(owner.Token, "POST", $"/v1/products/{productId}/groups", new { name = "canary" });
        Assert.Equal(400, (await server.SendAsync(owner.Token, "POST", $"/v1/products/{productId}/groups", new { name = "Bad Name" })).Status);
        Assert.Equal(409, (await server.SendAsync(owner.Token, "POST", $"/v1/products/{productId}/groups", new { name = "beta" })).Status);

        var released = await server.OkAsync(owner.Token, "PUT", $"/v1/products/{productId}/firmware/release", new { version = 2, groups = new[] { "beta", "canary" } });
        Assert.Equal(["beta", "canary"], released.GetProperty("groups").EnumerateArray().Select(g => g.GetString()));
        released = await server.OkAsync(owner.Token, "PUT", $"/v1/products/{productId}/firmware/release", new { version = 2, groups = new[] { "canary" } });
        Assert.Equal(["canary"], released.GetProperty("groups").EnumerateArray().Select(g => g.GetString()));
        var byDefault = await server.OkAsync(owner.Token, "PUT", $"/v1/products/{productId}/firmware/release", new { version = 1, product_default = true, intelligent = true });
        Assert.True(byDefault.GetProperty("product_default").GetBoolean());
        Assert.True(byDefault.GetProperty("intelligent").GetBoolean());
        await server.OkAsync(owner.Token, "PUT", $"/v1/products/{productId}/firmware/release", new { version = 3, product_default = true });
        var one = await server.OkAsync(owner.Token, "GET", $"/v1/products/{productId}/firmware/1");
        Assert.False(one.GetProperty("product_default").GetBoolean());

        var group = await server.OkAsync(owner.Token, "GET", $"/v1/products/{productId}/groups/canary");
        Assert.Equal(2, group.GetProperty("group").GetProperty("fw_version").GetInt32());
        var groups = await server.OkAsync(owner.Token, "GET", $"/v1/products/{productId}/groups?name=can");
        Assert.Single(groups.GetProperty("groups").EnumerateArray());
        Assert.Equal(400, (await server.SendAsync(owner.Token, "PUT", $"/v1/products/{productId}/firmware/release", new { version = 2, groups = new[] { "nope" } })).Status);

        var impact = await server.OkAsync(owner.Token, "GET", $"/v1/products/{productId}/impact?action=edit_groups_for_firmware&firmware_version=2&product_default=true");
        Assert.Equal(0, impact.GetProperty("devices").GetProperty("firmware_update").GetProperty("total").GetInt32());

        var (status, body) = await server.SendAsync(owner.Token, "DELETE", $"/v1/products/{productId}/firmware/1");
        Assert.True(status == 400 && body.Error() == "firmware_released", $"{status} {body}");
        Assert.Equal(201, (await UploadAsync(server, owner.Token, productId, Binary(13, productId, 4), 4)).Status);
        Assert.Equal(204, (await server.SendAsync(owner.Token, "DELETE", $"/v1/products/{productId}/firmware/4")).Status);
        Assert.Equal(204, (await server.SendAsync(owner.Token, "DELETE", $"/v1/products/{productId}/groups/canary")).Status);
        Assert.Equal(404, (await server.SendAsync(owner.Token, "GET", $"/v1/products/{productId}/groups/canary")).Status);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Device_os_versions_are_listed_with_the_lts_marker(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var all = await server.OkAsync(owner.Token, "GET", "/v1/device-os/versions?per_page=100");
        var versions = all.GetProperty("versions").EnumerateArray().ToDictionary(v => v.GetProperty("version").GetString()!, v => v);
        Assert.True(versions["6.2.1"].GetProperty("lts").GetBoolean());
        Assert.False(versions["5.9.0"].GetProperty("lts").GetBoolean());
        Assert.Equal(6201, versions["6.2.1"].GetProperty("internal_version").GetInt32());
        var photon = await server.OkAsync(owner.Token, "GET", "/v1/device-os/versions?platform_id=6");
        Assert.Equal(["2.3.1"], photon.GetProperty("versions").EnumerateArray().Select(v => v.GetProperty("version").GetString()));
        var latest = await server.OkAsync(owner.Token, "GET", "/v1/device-os/versions/latest?platform_id=13");
        Assert.Equal("6.3.0", latest.GetProperty("version").GetString());
        var byNumber = await server.OkAsync(owner.Token, "GET", "/v1/device-os/versions/4200");
        Assert.Equal("4.2.0", byNumber.GetProperty("version").GetString());
        Assert.Equal(404, (await server.SendAsync(owner.Token, "GET", "/v1/device-os/versions/9.9.9")).Status);
    }
}
