using Bulwark.Server.Tests.Infrastructure;

namespace Bulwark.Server.Tests.Features.Teams;

/// <summary>The real particle-api-js@12.0.3 against the real server: <c>listProducts</c>, <c>getProduct</c>, the team calls
/// and API-user creation (tests/conformance/api-js/teams.mjs).</summary>
public class ParticleApiJsTeamTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    [Theory, MemberData(nameof(Providers))]
    public async Task Products_teams_and_api_users(string provider)
    {
        NodeTools.RequireInstalled();
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var result = await NodeTools.RunAsync("node", [Path.Combine(NodeTools.ConformanceDirectory, "api-js", "teams.mjs"), server.Url],
            NodeTools.ConformanceDirectory);
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("all particle-api-js team checks passed", result.Output, StringComparison.Ordinal);
    }
}
