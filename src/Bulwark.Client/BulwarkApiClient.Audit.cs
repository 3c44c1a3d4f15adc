using System.Globalization;
using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary>The account's security events (<c>GET /v1/user/audit</c>).</summary>
public sealed partial class BulwarkApiClient
{
    public Task<AuditLogResponse> GetAuditLogAsync(AuditQuery? query = null, CancellationToken cancellationToken = default)
    {
        var parameters = new List<string>();
        if (query?.Limit is { } limit)
        {
            parameters.Add("limit=" + limit.ToString(CultureInfo.InvariantCulture));
        }
        if (query?.Before is { } before)
        {
            parameters.Add("before=" + before.ToString(CultureInfo.InvariantCulture));
        }
        if (!string.IsNullOrEmpty(query?.Event))
        {
            parameters.Add("event=" + Escape(query.Event));
        }
        var path = parameters.Count == 0 ? "v1/user/audit" : "v1/user/audit?" + string.Join('&', parameters);
        return SendAsync<AuditLogResponse>(Request(HttpMethod.Get, path), cancellationToken);
    }
}
