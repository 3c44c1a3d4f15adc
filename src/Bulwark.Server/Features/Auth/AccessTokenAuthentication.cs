using System.Security.Claims;
using System.Text.Encodings.Web;
using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Bulwark.Server.Features.Auth;

/// <summary>Authenticates API requests by access token, taken (as Particle's API does) from the
/// <c>Authorization: Bearer</c> header, the <c>access_token</c> query parameter, or an
/// <c>access_token</c> field of a form body.</summary>
public sealed class AccessTokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    AccessTokenCache cache,
    TokenUsageRecorder usage,
    TimeProvider clock) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "AccessToken";
    public const string TokenIdClaim = "bulwark:token_id";
    public const string ApiUserClaim = "bulwark:api_user";
    public const string MfaClaim = "bulwark:mfa";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var token = await FindTokenAsync(Request);
        if (token is null)
        {
            return AuthenticateResult.NoResult();
        }
        var validated = await ValidateAsync(token);
        if (validated is null)
        {
            return AuthenticateResult.Fail("invalid token");
        }
        usage.Note(validated.TokenId, validated.UserId);
        var identity = new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, validated.UserId),
            new Claim(ClaimTypes.Name, validated.Username),
            new Claim(TokenIdClaim, validated.TokenId),
            new Claim(ApiUserClaim, validated.IsApiUser ? "true" : "false"),
            new Claim(MfaClaim, validated.MfaEnabled ? "true" : "false"),
        ], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    private async Task<ValidatedToken?> ValidateAsync(string token)
    {
        if (!AccessTokenFormat.LooksValid(token))
        {
            return null;
        }
        var hash = SecretHash.Of(token);
        var now = clock.GetUtcNow().UtcDateTime;
        if (cache.TryGet(hash, now, out var cached))
        {
            return cached;
        }
        var db = Context.RequestServices.GetRequiredService<BulwarkDbContext>();
        var row = await db.AccessTokens.AsNoTracking()
            .Where(t => t.TokenHash == hash && t.RevokedAt == null)
            .Join(db.Users, t => t.UserId, u => u.Id, (t, u) => new { t.Id, t.UserId, u.Username, t.ExpiresAt, u.IsProgrammatic, u.MfaEnabled })
            .FirstOrDefaultAsync(Context.RequestAborted);
        if (row is null || (row.ExpiresAt is { } expires && expires <= now))
        {
            return null;
        }
        var validated = new ValidatedToken(row.Id, row.UserId, row.Username, row.ExpiresAt, now, row.IsProgrammatic, row.MfaEnabled);
        cache.Add(hash, validated);
        return validated;
    }

    /// <summary>The raw token presented with the request, wherever the client put it.</summary>
    public static async Task<string?> FindTokenAsync(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header["Bearer ".Length..].Trim();
        }
        if (request.Query.TryGetValue("access_token", out var fromQuery) && fromQuery.Count > 0)
        {
            return fromQuery.ToString();
        }
        if (request.HasFormContentType && request.Method is "POST" or "PUT" or "DELETE")
        {
            try
            {
                var form = await request.ReadFormAsync(request.HttpContext.RequestAborted);
                if (form.TryGetValue("access_token", out var fromForm))
                {
                    return fromForm.ToString();
                }
            }
            catch (InvalidDataException)
            {
                // A malformed form body is reported by the endpoint that reads it.
            }
        }
        return null;
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 401;
        Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
        return Response.WriteAsJsonAsync(new ApiError("invalid_token", "The access token was not found, has expired or was revoked"), ApiJson.Options);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 403;
        return Response.WriteAsJsonAsync(new ApiError("forbidden", "You are not allowed to do this"), ApiJson.Options);
    }
}

/// <summary>Reads the authenticated caller from the request principal.</summary>
public static class CallerExtensions
{
    public static string UserId(this ClaimsPrincipal user) =>
        user?.FindFirstValue(ClaimTypes.NameIdentifier) ?? throw new InvalidOperationException("The request is not authenticated");

    public static string Username(this ClaimsPrincipal user) => user?.FindFirstValue(ClaimTypes.Name) ?? "";

    public static string TokenId(this ClaimsPrincipal user) =>
        user?.FindFirstValue(AccessTokenAuthenticationHandler.TokenIdClaim) ?? throw new InvalidOperationException("The request is not authenticated");
}
