namespace Bulwark.Server.Gateway.Ota;

/// <summary>Spreads chunks to at most N a second per transfer, so one fleet release cannot fill every uplink at once.</summary>
internal sealed class ChunkPacer(int perSecond)
{
    private readonly long _start = System.Diagnostics.Stopwatch.GetTimestamp();
    private long _count;

    public Task WaitAsync(CancellationToken cancellationToken)
    {
        if (perSecond <= 0)
        {
            return Task.CompletedTask;
        }
        var due = TimeSpan.FromSeconds((double)++_count / perSecond) - System.Diagnostics.Stopwatch.GetElapsedTime(_start);
        return due > TimeSpan.Zero ? Task.Delay(due, cancellationToken) : Task.CompletedTask;
    }
}
