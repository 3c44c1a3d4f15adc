using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary>Typed client for the Bulwark REST API, shared by the CLI, the device simulator and the tests.
/// One file per API area (<c>BulwarkApiClient.Auth.cs</c>, <c>BulwarkApiClient.User.cs</c>, ...) so new areas
/// add a file instead of growing this one. Every non-success answer becomes a <see cref="BulwarkApiException"/>;
/// transport failures surface as <see cref="HttpRequestException"/>.</summary>
public sealed partial class BulwarkApiClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    /// <summary>A client with its own <see cref="HttpClient"/>.</summary>
    public BulwarkApiClient(Uri baseUrl, string? accessToken = null)
        : this(new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) }), baseUrl, accessToken)
    {
        _ownsHttp = true;
    }

    /// <summary>A client over a caller-owned <see cref="HttpClient"/> (its <c>BaseAddress</c> is not used).</summary>
    public BulwarkApiClient(HttpClient httpClient, Uri baseUrl, string? accessToken = null)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        ArgumentNullException.ThrowIfNull(baseUrl);
        if (!baseUrl.IsAbsoluteUri || (baseUrl.Scheme != Uri.UriSchemeHttp && baseUrl.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException("The API URL must be an absolute http or https URL", nameof(baseUrl));
        }
        _http = httpClient;
        BaseUrl = baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");
        AccessToken = accessToken;
    }

    /// <summary>The API root, always ending with a slash.</summary>
    public Uri BaseUrl { get; }

    /// <summary>The bearer token sent with authenticated calls; null for anonymous calls only.</summary>
    public string? AccessToken { get; set; }

    /// <summary>The OAuth client id (and secret) sent with token grants; any value is accepted by the server
    /// and shows up as the token's <c>client</c>.</summary>
    public string ClientId { get; init; } = "bulwark";

    public string UserAgent { get; init; } = "bulwark-client/1.0";

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private HttpRequestMessage Request(HttpMethod method, string path, HttpContent? content = null, AuthMode auth = AuthMode.Bearer)
    {
        var request = new HttpRequestMessage(method, new Uri(BaseUrl, path)) { Content = content };
        request.Headers.UserAgent.ParseAdd(UserAgent);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (auth == AuthMode.Bearer)
        {
            if (string.IsNullOrEmpty(AccessToken))
            {
                request.Dispose();
                throw new InvalidOperationException("This call needs an access token; log in first");
            }
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
        }
        else if (auth == AuthMode.BearerIfAvailable && !string.IsNullOrEmpty(AccessToken))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
        }
        return request;
    }

    private static JsonContent Json<T>(T body) => JsonContent.Create(body, options: ApiJson.Options);

    private static AuthenticationHeaderValue Basic(string username, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(username + ":" + password)));

    private async Task<T> SendAsync<T>(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorFromAsync(response, cancellationToken).ConfigureAwait(false);
            }
            return await ReadAsync<T>(response, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var value = await response.Content.ReadFromJsonAsync<T>(ApiJson.Options, cancellationToken).ConfigureAwait(false);
            return value ?? throw new BulwarkApiException(response.StatusCode, "invalid_response", "The server answered with an empty body");
        }
        catch (JsonException e)
        {
            throw new BulwarkApiException(response.StatusCode, "invalid_response", "The server's answer could not be read: " + e.Message);
        }
    }

    /// <summary>Builds the exception for a non-success answer, keeping whatever description the server gave.</summary>
    internal static async Task<BulwarkApiException> ErrorFromAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var (error, description, _) = ParseError(body);
        var status = (int)response.StatusCode;
        error ??= status switch
        {
            401 => "invalid_token",
            403 => "forbidden",
            404 => "not_found",
            429 => "too_many_requests",
            _ => "http_" + status.ToString(CultureInfo.InvariantCulture),
        };
        if (string.IsNullOrWhiteSpace(description))
        {
            var text = body.Trim();
            description = text.Length > 0 && !text.StartsWith('{')
                ? (text.Length > 300 ? text[..300] + "…" : text)
                : $"HTTP {status} {response.ReasonPhrase} from {response.RequestMessage?.RequestUri}";
        }
        TimeSpan? retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };
        return new BulwarkApiException(response.StatusCode, error, description, retryAfter);
    }

    /// <summary>Reads <c>{error, error_description}</c> and the other error shapes Particle uses
    /// (<c>{ok:false, error}</c>, <c>{error, description}</c>, <c>{errors:[...]}</c>, <c>{message}</c>).</summary>
    internal static (string? Error, string? Description, string? MfaToken) ParseError(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return (null, null, null);
        }
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, null, null);
            }
            var root = document.RootElement;
            var error = Text(root, "error");
            var description = Text(root, "error_description") ?? Text(root, "description") ?? Text(root, "message") ?? Text(root, "info");
            if (description is null && root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array)
            {
                var parts = errors.EnumerateArray()
                    .Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : Text(e, "message") ?? e.GetRawText())
                    .Where(s => !string.IsNullOrEmpty(s));
                description = string.Join("; ", parts);
            }
            // {ok:false, error:"<sentence>"}: the error field is the description.
            if (description is null && error is not null && error.Contains(' ', StringComparison.Ordinal))
            {
                description = error;
                error = null;
            }
            return (error, description, Text(root, "mfa_token"));
        }
        catch (JsonException)
        {
            return (null, null, null);
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    private enum AuthMode
    {
        None,
        Bearer,
        BearerIfAvailable,
    }
}
