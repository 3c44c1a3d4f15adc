using Bulwark.Server.Tests.Infrastructure;

namespace Bulwark.Server.Tests.Conformance;

/// <summary>The real particle-api-js@12.0.3 against the real server: the scripts under tests/conformance/api-js
/// assert the response shapes the client relies on; a non-zero exit fails the test with the script's output.</summary>
public class ParticleApiJsTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    [Theory, MemberData(nameof(Providers))]
    public async Task Accounts_login_two_step_and_tokens(string provider)
    {
        NodeTools.RequireInstalled();
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var result = await NodeTools.RunAsync("node", [Path.Combine(NodeTools.ConformanceDirectory, "api-js", "accounts.mjs"), server.Url],
            NodeTools.ConformanceDirectory);
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("all particle-api-js account checks passed", result.Output, StringComparison.Ordinal);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Product_firmware_upload_list_download_and_release(string provider)
    {
        NodeTools.RequireInstalled();
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var result = await NodeTools.RunAsync("node", [Path.Combine(NodeTools.ConformanceDirectory, "api-js", "firmware.mjs"), server.Url],
            NodeTools.ConformanceDirectory);
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("all particle-api-js firmware checks passed", result.Output, StringComparison.Ordinal);
    }
}
