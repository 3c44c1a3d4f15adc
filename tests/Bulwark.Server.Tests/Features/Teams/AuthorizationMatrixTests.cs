using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Security;
using Bulwark.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Features.Teams;

/// <summary>The authorization matrix, generated from the server's route table: every endpoint under
/// <c>/v1/products</c> and <c>/v1/orgs</c> (and every other endpoint that declares a <see cref="RequiredPermission"/>)
/// is called by each kind of caller, and the exact status is asserted. A new endpoint without a permission fails
/// <see cref="Every_product_and_organization_endpoint_declares_a_permission"/>; a new route parameter the matrix
/// cannot fill fails the matrix with a message saying so.</summary>
public class AuthorizationMatrixTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    private static IReadOnlyList<RouteEndpoint> Endpoints(BulwarkTestServer server) =>
        server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();

    private static string Template(RouteEndpoint e) => "/" + string.Join('/', e.RoutePattern.PathSegments.Select(s =>
        string.Concat(s.Parts.Select(p => p switch
        {
            RoutePatternLiteralPart l => l.Content,
            RoutePatternParameterPart q => "{" + q.Name + "}",
            RoutePatternSeparatorPart sep => sep.Content,
            _ => "?",
        }))));

    private static bool IsProductOrOrganizationRoute(string template) =>
        template == "/v1/products" || template.StartsWith("/v1/products/", StringComparison.Ordinal)
        || template == "/v1/orgs" || template.StartsWith("/v1/orgs/", StringComparison.Ordinal);

    [Fact]
    public async Task Every_product_and_organization_endpoint_declares_a_permission()
    {
        await using var server = await StartAsync();
        var endpoints = Endpoints(server).Where(e => IsProductOrOrganizationRoute(Template(e))).ToList();
        Assert.NotEmpty(endpoints);
        var missing = new List<string>();
        foreach (var endpoint in endpoints)
        {
            var template = Template(endpoint);
            var permission = endpoint.Metadata.GetMetadata<RequiredPermission>();
            if (permission is null)
            {
                missing.Add($"{endpoint.DisplayName}: no RequirePermission(...)");
                continue;
            }
            if (permission.Kind == PermissionKind.Scope && !template.Contains("{productIdOrSlug}", StringComparison.Ordinal)
                && !template.Contains("{orgIdOrSlug}", StringComparison.Ordinal))
            {
                missing.Add($"{endpoint.DisplayName}: requires {permission.Scope} but names no product or organization");
            }
        }
        Assert.True(missing.Count == 0, "Endpoints without a usable permission:\n" + string.Join('\n', missing));
    }

    private enum Who { Owner, Administrator, Developer, Support, ViewOnly, ApiUserWithScope, ApiUserWithoutScope, OtherOrganization, ExpiredToken, RevokedToken, NoToken }

    private static readonly Dictionary<Who, TeamRole> RoleOf = new()
    {
        [Who.Owner] = TeamRole.Owner,
        [Who.Administrator] = TeamRole.Administrator,
        [Who.Developer] = TeamRole.Developer,
        [Who.Support] = TeamRole.Support,
        [Who.ViewOnly] = TeamRole.ViewOnly,
    };

    [Theory, MemberData(nameof(Providers))]
    public async Task Every_endpoint_answers_every_caller_with_the_exact_status(string provider)
    {
        await using var server = await StartAsync(provider);
        var world = await MatrixWorld.CreateAsync(server);
        var endpoints = Endpoints(server)
            .Where(e => e.Metadata.GetMetadata<RequiredPermission>() is not null || IsProductOrOrganizationRoute(Template(e)))
            .OrderBy(Template, StringComparer.Ordinal)
            .ToList();
        var failures = new List<string>();
        var calls = 0;
        foreach (var endpoint in endpoints)
        {
            var template = Template(endpoint);
            var permission = endpoint.Metadata.GetMetadata<RequiredPermission>()
                ?? throw new InvalidOperationException($"{template} declares no permission");
            var methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            // A product route is checked on an organization's product (organization roles) and on a personal product
            // (product roles); an organization route on the organization.
            var targets = template.Contains("{productIdOrSlug}", StringComparison.Ordinal) ? new[] { world.OrgProduct, world.UserProduct }
                : template.Contains("{orgIdOrSlug}", StringComparison.Ordinal) ? [world.Organization]
                : [world.OrgProduct];
            foreach (var method in methods)
            {
                foreach (var target in targets)
                {
                    foreach (var who in Enum.GetValues<Who>())
                    {
                        var expected = Expect(who, permission, method, template);
                        var path = await world.PathAsync(template, target, who, permission, allowed: expected is 200 or 204 or 400);
                        var status = await world.CallAsync(method, path, who, target, permission);
                        calls++;
                        // 204 is how a delete says 200 with nothing to add.
                        if (status != expected && !(status == 204 && expected == 200))
                        {
                            failures.Add($"{method} {template} on {target.Kind} as {who}: expected {expected}, got {status} ({path})");
                        }
                    }
                }
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {calls} calls answered wrongly:\n" + string.Join('\n', failures));
    }

    /// <summary>The status a caller must get. When the caller is allowed, the handler runs on an empty JSON body: reads
    /// answer 200, deletes of a fresh member 200, token regeneration 200, and every other write 400 for the missing fields.</summary>
    private static int Expect(Who who, RequiredPermission permission, string method, string template)
    {
        if (who is Who.NoToken or Who.ExpiredToken or Who.RevokedToken)
        {
            return 401;
        }
        var allowed = method is "GET" or "DELETE" || template.EndsWith("/token", StringComparison.Ordinal) ? 200 : 400;
        if (method == "DELETE" && template.EndsWith("/devices/{deviceId}", StringComparison.Ordinal))
        {
            allowed = 204; // Removing a device from a product answers 204, as Particle's does.
        }
        var apiUser = who is Who.ApiUserWithScope or Who.ApiUserWithoutScope;
        switch (permission.Kind)
        {
            case PermissionKind.AnyCaller:
                return allowed;
            case PermissionKind.PeopleOnly:
                return apiUser ? 403 : allowed;
        }
        return who switch
        {
            Who.OtherOrganization => 404,
            Who.ApiUserWithScope => allowed,
            Who.ApiUserWithoutScope => 403,
            _ => RolePermissions.Allows(RoleOf[who], permission.Scope!) ? allowed : 403,
        };
    }

    private sealed record Target(string Kind, string Id, string Slug, string TeamPath);

    /// <summary>The people, products, organizations and API users the matrix calls with. Each test run makes its own.</summary>
    private sealed class MatrixWorld
    {
        private readonly BulwarkTestServer _server;
        private readonly Dictionary<Who, string> _tokens = [];
        private readonly Dictionary<(string, string, bool), string> _apiUsers = [];
        private readonly Dictionary<(string, string), string> _apiVictims = [];
        private readonly Dictionary<string, string> _sharedVictims = [];
        private readonly Dictionary<string, string> _sharedDevices = [];
        private int _victims;

        private MatrixWorld(BulwarkTestServer server) => _server = server;

        public Target Organization { get; private set; } = null!;
        public Target OrgProduct { get; private set; } = null!;
        public Target UserProduct { get; private set; } = null!;

        public static async Task<MatrixWorld> CreateAsync(BulwarkTestServer server)
        {
            var world = new MatrixWorld(server);
            await world.BuildAsync();
            return world;
        }

        private async Task BuildAsync()
        {
            var owner = await _server.CreateUserAsync();
            _tokens[Who.Owner] = owner.Token;
            var suffix = Guid.NewGuid().ToString("N")[..8];
            var org = await PostAsync(owner.Token, "/v1/orgs", new { name = "Matrix " + suffix, slug = "matrix-" + suffix });
            var orgId = org.GetProperty("organization").GetProperty("id").GetString()!;
            Organization = new Target("organization", orgId, "matrix-" + suffix, $"/v1/orgs/{orgId}/team");
            var orgProduct = await PostAsync(owner.Token, $"/v1/orgs/{orgId}/products", new { product = new { name = "Org product " + suffix, platform_id = 13 } });
            OrgProduct = ProductTarget("organization's product", orgProduct);
            var userProduct = await PostAsync(owner.Token, "/v1/user/products", new { product = new { name = "Own product " + suffix, platform_id = 32 } });
            UserProduct = ProductTarget("personal product", userProduct);
            foreach (var (who, role) in RoleOf.Where(r => r.Key != Who.Owner))
            {
                var user = await _server.CreateUserAsync();
                _tokens[who] = user.Token;
                await PostAsync(owner.Token, Organization.TeamPath, new { username = user.Username, role = role.Name() });
                await PostAsync(owner.Token, UserProduct.TeamPath, new { username = user.Username, role = role.Name() });
            }
            var outsider = await _server.CreateUserAsync();
            _tokens[Who.OtherOrganization] = outsider.Token;
            var other = await PostAsync(outsider.Token, "/v1/orgs", new { name = "Other " + suffix });
            await PostAsync(outsider.Token, $"/v1/orgs/{other.GetProperty("organization").GetProperty("id").GetString()}/products",
                new { product = new { name = "Other product " + suffix, platform_id = 13 } });
            _tokens[Who.ExpiredToken] = await ExpiredTokenAsync(owner.Username);
            var revoked = await _server.LoginAsync(owner.Username, owner.Password);
            using (var client = _server.CreateClient(revoked))
            {
                await EnsureSuccessAsync(await client.DeleteAsync("/v1/access_tokens/current"));
            }
            _tokens[Who.RevokedToken] = revoked;
        }

        private static Target ProductTarget(string kind, System.Text.Json.JsonElement body)
        {
            var product = body.GetProperty("product");
            var id = product.GetProperty("id").GetInt32().ToString(CultureInfo.InvariantCulture);
            return new Target(kind, id, product.GetProperty("slug").GetString()!, $"/v1/products/{id}/team");
        }

        /// <summary>A real token of the owner whose lifetime has passed, written straight into the database.</summary>
        private async Task<string> ExpiredTokenAsync(string username)
        {
            await using var scope = _server.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
            var user = db.Users.Single(u => u.Username == username);
            var secret = AccessTokenFormat.Generate();
            db.AccessTokens.Add(new AccessToken
            {
                Id = Ids.New(),
                UserId = user.Id,
                TokenHash = SecretHash.Of(secret),
                Hint = AccessTokenFormat.Hint(secret),
                Client = "matrix",
                CreatedAt = DateTime.UtcNow.AddDays(-2),
                ExpiresAt = DateTime.UtcNow.AddDays(-1),
            });
            await db.SaveChangesAsync();
            return secret;
        }

        /// <summary>Fills the route's parameters. Owners and administrators name products and organizations by slug,
        /// everyone else by id, so both spellings are exercised on every endpoint.</summary>
        public async Task<string> PathAsync(string template, Target target, Who who, RequiredPermission permission, bool allowed)
        {
            var bySlug = who is Who.Owner or Who.Administrator;
            var builder = new StringBuilder();
            var i = 0;
            while (i < template.Length)
            {
                var open = template.IndexOf('{', i);
                if (open < 0)
                {
                    builder.Append(template, i, template.Length - i);
                    break;
                }
                builder.Append(template, i, open - i);
                var close = template.IndexOf('}', open);
                var name = template[(open + 1)..close];
                builder.Append(name switch
                {
                    "productIdOrSlug" or "orgIdOrSlug" => bySlug ? target.Slug : target.Id,
                    "username" => Uri.EscapeDataString(await VictimAsync(template, target, permission, fresh: allowed && template.EndsWith("{username}", StringComparison.Ordinal))),
                    "deviceId" => await DeviceAsync(target, fresh: allowed && template.EndsWith("{deviceId}", StringComparison.Ordinal)),
                    "prefix" => "matrix",
                    "version" => (await FirmwareVersionAsync(target, fresh: allowed)).ToString(CultureInfo.InvariantCulture),
                    "groupName" => await GroupNameAsync(target, fresh: allowed),
                    _ => throw new InvalidOperationException(
                        $"The authorization matrix cannot fill {{{name}}} in {template}: teach MatrixWorld.PathAsync how (a resource of the target that the call may use)"),
                });
                i = close + 1;
            }
            if (template.EndsWith("/impact", StringComparison.Ordinal))
            {
                builder.Append("?action=edit_groups_for_firmware&firmware_version=1&product_default=true");
            }
            return builder.ToString();
        }

        private readonly Dictionary<string, int> _sharedFirmware = [];
        private readonly Dictionary<string, string> _sharedGroups = [];
        private int _firmwareVersions;

        /// <summary>An uploaded (never released) firmware version of the target; a fresh one when the call may delete it.</summary>
        private async Task<int> FirmwareVersionAsync(Target target, bool fresh)
        {
            if (!fresh && _sharedFirmware.TryGetValue(target.Id, out var shared))
            {
                return shared;
            }
            var version = ++_firmwareVersions;
            using var client = _server.CreateClient(_tokens[Who.Owner]);
            var product = await JsonAsync(await client.GetAsync($"/v1/products/{target.Id}"));
            var binary = Bulwark.Firmware.FirmwareModuleBuilder.Build(new Bulwark.Firmware.FirmwareModuleSpec
            {
                PlatformId = (ushort)product.GetProperty("product").GetProperty("platform_id").GetInt32(),
                ProductId = ushort.Parse(target.Id, CultureInfo.InvariantCulture),
                ProductVersion = (ushort)version,
            });
            using var form = new MultipartFormDataContent
            {
                { new ByteArrayContent(binary), "binary", "firmware.bin" },
                { new StringContent(version.ToString(CultureInfo.InvariantCulture)), "version" },
                { new StringContent("matrix"), "title" },
            };
            await EnsureSuccessAsync(await client.PostAsync($"/v1/products/{target.Id}/firmware", form));
            if (!fresh)
            {
                _sharedFirmware[target.Id] = version;
            }
            return version;
        }

        /// <summary>A group of the target; a fresh one when the call may delete it.</summary>
        private async Task<string> GroupNameAsync(Target target, bool fresh)
        {
            if (!fresh && _sharedGroups.TryGetValue(target.Id, out var shared))
            {
                return shared;
            }
            var name = "g-" + Guid.NewGuid().ToString("N")[..10];
            await PostAsync(_tokens[Who.Owner], $"/v1/products/{target.Id}/groups", new { name });
            if (!fresh)
            {
                _sharedGroups[target.Id] = name;
            }
            return name;
        }

        /// <summary>A device of the target product (a fresh one when the call may remove it), written straight into the database.</summary>
        private async Task<string> DeviceAsync(Target target, bool fresh)
        {
            if (!fresh && _sharedDevices.TryGetValue(target.Id, out var shared))
            {
                return shared;
            }
            var id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
            await using (var scope = _server.Services.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
                db.Devices.Add(new Device { Id = id, CreatedAt = DateTime.UtcNow, CloudProductId = int.Parse(target.Id, CultureInfo.InvariantCulture) });
                await db.SaveChangesAsync();
            }
            if (!fresh)
            {
                _sharedDevices[target.Id] = id;
            }
            return id;
        }

        /// <summary>The member a <c>/team/{username}</c> call acts on: an API user for token routes, otherwise a Developer.
        /// A call expected to succeed gets a fresh one, since it may remove it.</summary>
        private async Task<string> VictimAsync(string template, Target target, RequiredPermission permission, bool fresh)
        {
            if (template.EndsWith("/token", StringComparison.Ordinal))
            {
                var key = (target.TeamPath, permission.Scope!);
                if (!_apiVictims.TryGetValue(key, out var apiVictim))
                {
                    var created = await PostAsync(_tokens[Who.Owner], target.TeamPath, new { friendly_name = "victim", scopes = new[] { permission.Scope } });
                    apiVictim = created.GetProperty("created").GetProperty("username").GetString()!;
                    _apiVictims[key] = apiVictim;
                }
                return apiVictim;
            }
            if (!fresh && _sharedVictims.TryGetValue(target.TeamPath, out var shared))
            {
                return shared;
            }
            var victim = await _server.CreateUserAsync($"victim-{++_victims}-{Guid.NewGuid():N}@example.com");
            await PostAsync(_tokens[Who.Owner], target.TeamPath, new { username = victim.Username, role = "Developer" });
            if (!fresh)
            {
                _sharedVictims[target.TeamPath] = victim.Username;
            }
            return victim.Username;
        }

        public async Task<int> CallAsync(string method, string path, Who who, Target target, RequiredPermission permission)
        {
            var token = who switch
            {
                Who.NoToken => null,
                Who.ApiUserWithScope or Who.ApiUserWithoutScope => await ApiUserTokenAsync(target, permission, who == Who.ApiUserWithScope),
                _ => _tokens[who],
            };
            using var client = _server.CreateClient(token);
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (method is "POST" or "PUT" or "PATCH")
            {
                request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
            }
            // Headers only: an allowed event stream never ends, and its status is all the matrix needs.
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            var status = (int)response.StatusCode;
            if (status is 401 or 403 or 404)
            {
                // Every refusal speaks the one error contract.
                var body = await JsonAsync(response);
                Assert.True(body.TryGetProperty("error", out _) && body.TryGetProperty("error_description", out _), $"{method} {path}: {body}");
            }
            return status;
        }

        /// <summary>An API user of the target holding exactly the endpoint's scope, or every scope but that one.</summary>
        private async Task<string> ApiUserTokenAsync(Target target, RequiredPermission permission, bool withScope)
        {
            var scope = permission.Scope ?? Scopes.ProductsList;
            var key = (target.TeamPath, scope, withScope);
            if (!_apiUsers.TryGetValue(key, out var token))
            {
                var scopes = withScope ? [scope] : Scopes.All.Where(s => s != scope).ToArray();
                var created = await PostAsync(_tokens[Who.Owner], target.TeamPath, new { friendly_name = $"matrix {scope} {withScope}", scopes });
                token = created.GetProperty("created").GetProperty("tokens")[0].GetProperty("token").GetString()!;
                _apiUsers[key] = token;
            }
            return token;
        }

        private async Task<System.Text.Json.JsonElement> PostAsync(string token, string path, object body)
        {
            using var client = _server.CreateClient(token);
            var response = await client.PostAsJsonAsync(path, body, ApiJson.Options);
            await EnsureSuccessAsync(response);
            return await JsonAsync(response);
        }
    }
}
