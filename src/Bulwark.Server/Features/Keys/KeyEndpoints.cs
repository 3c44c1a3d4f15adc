using Bulwark.Protocol.Keys;
using Bulwark.Server.Gateway;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;

namespace Bulwark.Server.Features.Keys;

/// <summary><c>GET /v1/keys/server</c>: the cloud's public keys, as PEM or as the binary blob a device stores.</summary>
public static class KeyEndpoints
{
    public static IServiceCollection AddServerKeys(this IServiceCollection services)
    {
        services.AddSingleton(sp => ServerKeyStore.LoadOrCreate(
            sp.GetRequiredService<BulwarkOptions>().DataDirectory, sp.GetRequiredService<Security.SecretProtector>()));
        return services;
    }

    public static IEndpointRouteBuilder MapKeyEndpoints(this IEndpointRouteBuilder app)
    {
        // Public keys are public: a device image builder must be able to fetch them without an account.
        app.MapGet("/v1/keys/server", GetServerKey).AllowAnonymous();
        return app;
    }

    private static IResult GetServerKey(HttpContext context, ServerKeyStore keys, GatewayOptions gateway)
    {
        var query = context.Request.Query;
        var protocol = query["protocol"].ToString();
        protocol = protocol.Length == 0 ? "tcp" : protocol.ToLowerInvariant();
        if (protocol is not ("tcp" or "udp"))
        {
            return ApiProblem.BadRequest("protocol must be tcp or udp");
        }
        var format = query["format"].ToString();
        if (format.Length == 0 || format == "pem")
        {
            return TypedResults.Json(new { public_key = protocol == "tcp" ? keys.RsaPublicKeyPem : keys.EcPublicKeyPem, protocol });
        }
        if (format != "device")
        {
            return ApiProblem.BadRequest("format must be pem or device");
        }
        var host = query["host"].ToString();
        if (host.Length == 0)
        {
            host = gateway.PublicHost ?? context.Request.Host.Host;
        }
        if (host.Length > ServerKeyBlob.MaxDomainLength)
        {
            return ApiProblem.BadRequest($"host must be at most {ServerKeyBlob.MaxDomainLength} characters");
        }
        int? port = null;
        if (query.TryGetValue("port", out var portText) && portText.Count > 0)
        {
            if (!int.TryParse(portText.ToString(), System.Globalization.CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            {
                return ApiProblem.BadRequest("port must be between 1 and 65535");
            }
            port = p;
        }
        byte[] blob;
        try
        {
            blob = protocol == "tcp"
                ? ServerKeyBlob.ForTcp(keys.Rsa.PublicKeySpki, host, port)
                : ServerKeyBlob.ForUdp(keys.EcPublicKeySpki, host, port);
        }
        catch (ArgumentException e)
        {
            return ApiProblem.BadRequest("Cannot build the server key: " + e.Message);
        }
        return TypedResults.File(blob, "application/octet-stream", $"server-key-{protocol}.der");
    }
}
