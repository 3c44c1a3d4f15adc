using Bulwark.Client;
using Bulwark.Server.Tests.Infrastructure;

namespace Bulwark.EndToEnd.Tests.Infrastructure;

/// <summary>Fresh accounts made through the typed client, one per test.</summary>
public static class Accounts
{
    public static async Task<(string Username, string Password)> SignUpAsync(BulwarkTestServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var username = $"cli-{Guid.NewGuid():N}@example.com";
        var password = "Bulwark e2e " + Guid.NewGuid().ToString("N")[..12];
        using var client = new BulwarkApiClient(server.BaseAddress);
        var created = await client.SignUpAsync(username, password);
        Assert.True(created.Ok);
        return (username, password);
    }
}
