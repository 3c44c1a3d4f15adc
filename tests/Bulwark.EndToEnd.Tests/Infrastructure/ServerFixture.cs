using Bulwark.Server.Tests.Infrastructure;

namespace Bulwark.EndToEnd.Tests.Infrastructure;

/// <summary>One real server per test class (classes run in parallel); each test makes its own users.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private BulwarkTestServer? _server;

    public BulwarkTestServer Server => _server ?? throw new InvalidOperationException("The server has not started");

    public async Task InitializeAsync() => _server = await BulwarkTestServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
