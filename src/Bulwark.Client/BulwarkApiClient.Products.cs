using System.Globalization;
using System.Text.Json.Serialization;
using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary>Products (<c>/v1/products</c>, <c>/v1/user/products</c>, <c>/v1/orgs/:org/products</c>), their settings,
/// their audit log, and the platform table.</summary>
public sealed partial class BulwarkApiClient
{
    /// <summary><c>GET /v1/products</c>: every product the caller can see.</summary>
    public async Task<IReadOnlyList<ProductResponse>> ListProductsAsync(CancellationToken cancellationToken = default) =>
        (await SendAsync<ProductListResponse>(Request(HttpMethod.Get, "v1/products"), cancellationToken).ConfigureAwait(false)).Products;

    /// <summary><c>GET /v1/orgs/:orgIdOrSlug/products</c>.</summary>
    public async Task<IReadOnlyList<ProductResponse>> ListOrganizationProductsAsync(string organization, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(organization);
        return (await SendAsync<ProductListResponse>(Request(HttpMethod.Get, $"v1/orgs/{Escape(organization)}/products"), cancellationToken)
            .ConfigureAwait(false)).Products;
    }

    /// <summary><c>POST /v1/user/products</c>, or <c>POST /v1/orgs/:org/products</c> when <paramref name="organization"/> is set.</summary>
    public async Task<ProductResponse> CreateProductAsync(ProductCreate product, string? organization = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(product);
        var path = string.IsNullOrWhiteSpace(organization) ? "v1/user/products" : $"v1/orgs/{Escape(organization)}/products";
        return (await SendAsync<ProductEnvelope>(Request(HttpMethod.Post, path, Json(new ProductCreateBody(product))), cancellationToken)
            .ConfigureAwait(false)).Product;
    }

    /// <summary><c>GET /v1/products/:productIdOrSlug</c>.</summary>
    public async Task<ProductResponse> GetProductAsync(string product, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        return (await SendAsync<ProductEnvelope>(Request(HttpMethod.Get, "v1/products/" + Escape(product)), cancellationToken)
            .ConfigureAwait(false)).Product;
    }

    /// <summary><c>PUT /v1/products/:productIdOrSlug {name?, description?, settings?}</c>.</summary>
    public async Task<ProductResponse> UpdateProductAsync(string product, ProductUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        ArgumentNullException.ThrowIfNull(update);
        return (await SendAsync<ProductEnvelope>(Request(HttpMethod.Put, "v1/products/" + Escape(product), Json(update)), cancellationToken)
            .ConfigureAwait(false)).Product;
    }

    /// <summary><c>GET /v1/products/:productIdOrSlug/audit</c>, newest first.</summary>
    public Task<AuditLogResponse> GetProductAuditLogAsync(string product, ResourceAuditQuery? query = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        return SendAsync<AuditLogResponse>(Request(HttpMethod.Get, $"v1/products/{Escape(product)}/audit" + (query?.ToQueryString() ?? "")),
            cancellationToken);
    }

    /// <summary><c>GET /v1/platforms</c>: the platform table.</summary>
    public Task<IReadOnlyList<PlatformResponse>> ListPlatformsAsync(CancellationToken cancellationToken = default) =>
        SendAsync<IReadOnlyList<PlatformResponse>>(Request(HttpMethod.Get, "v1/platforms", auth: AuthMode.BearerIfAvailable), cancellationToken);
}

/// <summary>The product of <c>POST .../products {product: {...}}</c>.</summary>
public sealed record ProductCreate
{
    public string Name { get; init; } = "";

    public int PlatformId { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Description { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Slug { get; init; }
}

/// <summary><c>PUT /v1/products/:p</c>: null fields are left alone.</summary>
public sealed record ProductUpdate
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Description { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ProductSettingsUpdate? Settings { get; init; }
}

/// <summary>The <c>settings</c> of a product update.</summary>
public sealed record ProductSettingsUpdate
{
    /// <summary><c>quarantine</c> or <c>auto-approve</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? UnrecognizedDevices { get; init; }
}

/// <summary>Filters for a product's or organization's audit log.</summary>
public sealed record ResourceAuditQuery
{
    /// <summary>An event type name (e.g. <c>TeamMemberInvited</c>) or number.</summary>
    public string? Event { get; init; }

    /// <summary>The acting username.</summary>
    public string? Actor { get; init; }

    /// <summary>The target username.</summary>
    public string? Target { get; init; }

    public DateTimeOffset? Since { get; init; }

    public DateTimeOffset? Until { get; init; }

    /// <summary>Only events older than this id (paging).</summary>
    public long? Before { get; init; }

    public int? Limit { get; init; }

    internal string ToQueryString()
    {
        var parameters = new List<string>();
        void Add(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                parameters.Add(name + "=" + Uri.EscapeDataString(value));
            }
        }
        Add("event", Event);
        Add("actor", Actor);
        Add("target", Target);
        Add("since", Since?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        Add("until", Until?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        Add("before", Before?.ToString(CultureInfo.InvariantCulture));
        Add("limit", Limit?.ToString(CultureInfo.InvariantCulture));
        return parameters.Count == 0 ? "" : "?" + string.Join('&', parameters);
    }
}

internal sealed record ProductCreateBody(ProductCreate Product);
