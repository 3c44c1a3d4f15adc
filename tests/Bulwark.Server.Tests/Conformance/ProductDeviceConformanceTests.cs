using System.Net.Http.Json;
using Bulwark.Contracts;
using Bulwark.Server.Tests.Features.ProductDevices;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Conformance;

/// <summary>Product device membership with the real clients: particle-api-js (<c>addDeviceToProduct</c>, <c>listDevices</c>,
/// <c>removeDevice</c> with product and deny) and particle-cli@3.51.0 (<c>product device add</c> uploads a file).</summary>
public class ProductDeviceConformanceTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    [Theory, MemberData(nameof(Providers))]
    public async Task Particle_api_js_adds_lists_removes_and_denies(string provider)
    {
        NodeTools.RequireInstalled();
        await using var server = await StartAsync(provider);
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var product = await ProductDeviceTests.CreateProductAsync(client);
        var a = ProductDeviceTests.NewDeviceId();
        var b = ProductDeviceTests.NewDeviceId();
        var result = await NodeTools.RunAsync("node",
            [Path.Combine(NodeTools.ConformanceDirectory, "api-js", "product-devices.mjs"), server.Url, user.Token, product.ToString(System.Globalization.CultureInfo.InvariantCulture), a, b],
            NodeTools.ConformanceDirectory);
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("all particle-api-js product device checks passed", result.Output, StringComparison.Ordinal);
        var denied = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?denied=true"));
        Assert.Equal(a, Assert.Single(denied.GetProperty("devices").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Particle_cli_product_device_add_uploads_a_file_and_lists_and_removes()
    {
        NodeTools.RequireInstalled();
        await using var server = await StartAsync();
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var product = await ProductDeviceTests.CreateProductAsync(client);
        var home = Path.Combine(Path.GetTempPath(), "bulwark-cli-home-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(home);
        try
        {
            var environment = new Dictionary<string, string> { ["HOME"] = home, ["PARTICLE_DISABLE_UPDATE"] = "true", ["NO_COLOR"] = "1", ["CI"] = "true" };
            Task<NodeTools.Result> Cli(params string[] args) =>
                NodeTools.RunAsync(NodeTools.Node22, [NodeTools.ParticleCli, .. args], home, environment, TimeSpan.FromMinutes(2));
            Assert.Equal(0, (await Cli("profile", "set", "apiUrl", server.Url)).ExitCode);
            var login = await Cli("login", "--username", user.Username, "--password", user.Password);
            Assert.True(login.ExitCode == 0, login.Output);

            var ids = new[] { ProductDeviceTests.NewDeviceId(), ProductDeviceTests.NewDeviceId() };
            var file = Path.Combine(home, "devices.txt");
            // A malformed line refuses the whole file: the CLI shows the reason and nothing is imported.
            await File.WriteAllLinesAsync(file, [.. ids, "not-a-device-id!"]);
            var refused = await Cli("product", "device", "add", product.ToString(System.Globalization.CultureInfo.InvariantCulture), "--file", file);
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains("Nothing was imported", refused.Output, StringComparison.Ordinal);
            Assert.Equal(0, (await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices"))).GetProperty("meta").GetProperty("total").GetInt32());

            // A well-formed ID held by another product is skipped as invalid; the rest are added.
            var other = await ProductDeviceTests.CreateProductAsync(client);
            var elsewhere = ProductDeviceTests.NewDeviceId();
            await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/products/{other}/devices", new { id = elsewhere }));
            await File.WriteAllLinesAsync(file, [.. ids, elsewhere]);
            var add = await Cli("product", "device", "add", product.ToString(System.Globalization.CultureInfo.InvariantCulture), "--file", file);
            Assert.True(add.ExitCode == 0, add.Output);
            Assert.Contains("Success!", add.Output, StringComparison.Ordinal);
            Assert.Contains("Skipped Invalid IDs", add.Output, StringComparison.Ordinal);

            var single = ProductDeviceTests.NewDeviceId();
            var addOne = await Cli("product", "device", "add", product.ToString(System.Globalization.CultureInfo.InvariantCulture), single);
            Assert.True(addOne.ExitCode == 0, addOne.Output);

            var list = await Cli("product", "device", "list", product.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json");
            Assert.True(list.ExitCode == 0, list.Output);
            foreach (var id in ids.Append(single))
            {
                Assert.Contains(id, list.Output, StringComparison.Ordinal);
            }
            var remove = await Cli("product", "device", "remove", product.ToString(System.Globalization.CultureInfo.InvariantCulture), ids[0]);
            Assert.True(remove.ExitCode == 0, remove.Output);
            var after = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices"));
            Assert.DoesNotContain(ids[0], after.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("id").GetString()));
        }
        finally
        {
            try
            {
                Directory.Delete(home, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
