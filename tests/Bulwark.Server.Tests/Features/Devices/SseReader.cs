using System.Text.Json;
using System.Threading.Channels;

namespace Bulwark.Server.Tests.Features.Devices;

/// <summary>Reads a Server-Sent Event stream in the background: raw lines and parsed events.</summary>
internal sealed class SseReader : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();

    private SseReader(HttpResponseMessage response)
    {
        _response = response;
        _loop = Task.Run(ReadAsync);
    }

    public Channel<string> Lines { get; } = Channel.CreateUnbounded<string>();
    public Channel<(string Name, JsonElement Data, string RawData)> Events { get; } = Channel.CreateUnbounded<(string, JsonElement, string)>();
    public HttpResponseMessage Response => _response;

    public static async Task<SseReader> OpenAsync(HttpClient client, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return new SseReader(response);
    }

    private async Task ReadAsync()
    {
        try
        {
            using var reader = new StreamReader(await _response.Content.ReadAsStreamAsync(_stop.Token));
            string? name = null;
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                await Lines.Writer.WriteAsync(line);
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal) && name is not null)
                {
                    var raw = line["data: ".Length..];
                    await Events.Writer.WriteAsync((name, JsonDocument.Parse(raw).RootElement.Clone(), raw));
                    name = null;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
        }
        finally
        {
            Lines.Writer.TryComplete();
            Events.Writer.TryComplete();
        }
    }

    /// <summary>The next event with this name, skipping others.</summary>
    public async Task<(string Name, JsonElement Data, string RawData)> NextAsync(string name, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var e = await Events.Reader.ReadAsync(cts.Token);
            if (e.Name == name)
            {
                return e;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _response.Dispose();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }
}
