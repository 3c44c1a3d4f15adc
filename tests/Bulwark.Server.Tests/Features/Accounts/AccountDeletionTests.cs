using System.Net;
using System.Net.Http.Json;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Features.Accounts;

public class AccountDeletionTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    [Theory, MemberData(nameof(Providers))]
    public async Task The_only_owner_of_a_product_cannot_delete_the_account_until_someone_else_owns_it(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var heir = await server.CreateUserAsync();
        using var client = server.CreateClient(owner.Token);
        var created = await client.PostAsJsonAsync("/v1/user/products", new { product = new { name = "Orphan check " + Guid.NewGuid().ToString("N")[..6], platform_id = 12 } });
        await EnsureSuccessAsync(created);
        var productId = (await JsonAsync(created)).GetProperty("product").GetProperty("id").GetInt32();

        var refused = await client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/v1/user") { Content = JsonContent.Create(new { password = owner.Password }) });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("last_owner", (await JsonAsync(refused)).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/user")).StatusCode);

        await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/products/{productId}/team", new { username = heir.Username, role = "Owner" }));
        var deleted = await client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/v1/user") { Content = JsonContent.Create(new { password = owner.Password }) });
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        using var heirClient = server.CreateClient(heir.Token);
        Assert.Equal(HttpStatusCode.OK, (await heirClient.GetAsync($"/v1/products/{productId}")).StatusCode);
    }
}
