using System.Collections.Concurrent;
using Bulwark.Server.Data;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Auth;

/// <summary>Records "last used" times for tokens and users without a database write on the request path:
/// requests note the time in memory and a background loop writes the latest values every few seconds.</summary>
public sealed partial class TokenUsageRecorder(IServiceScopeFactory scopes, TimeProvider clock, ILogger<TokenUsageRecorder> logger) : BackgroundService
{
    private ConcurrentDictionary<string, (string UserId, DateTime At)> _pending = new();

    public void Note(string tokenId, string userId) => _pending[tokenId] = (userId, clock.GetUtcNow().UtcDateTime);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5), clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
        await FlushAsync(CancellationToken.None);
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.IsEmpty)
        {
            return;
        }
        var batch = Interlocked.Exchange(ref _pending, new ConcurrentDictionary<string, (string, DateTime)>());
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
            foreach (var (tokenId, (userId, at)) in batch)
            {
                await db.AccessTokens.Where(t => t.Id == tokenId).ExecuteUpdateAsync(s => s.SetProperty(t => t.LastUsedAt, at), cancellationToken);
                await db.Users.Where(u => u.Id == userId).ExecuteUpdateAsync(s => s.SetProperty(u => u.LastActiveAt, at), cancellationToken);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFlushFailed(logger, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record token usage")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception);
}
