namespace Bulwark.Server.Features.Teams;

/// <summary>The team roles, weakest first. Each role holds every permission of the roles below it
/// (see <see cref="RolePermissions"/>), so "at least Developer" is a meaningful question.</summary>
public enum TeamRole
{
    ViewOnly = 1,
    Support = 2,
    Developer = 3,
    Administrator = 4,
    /// <summary>The "root" account of a product or organization: everything, plus granting and removing Owner.</summary>
    Owner = 5,
}

/// <summary>How roles are spelled on the wire (<c>Administrator</c>, <c>View-only</c>) and in the database (<c>view-only</c>).</summary>
public static class TeamRoles
{
    public static IReadOnlyList<TeamRole> All { get; } = [TeamRole.ViewOnly, TeamRole.Support, TeamRole.Developer, TeamRole.Administrator, TeamRole.Owner];

    /// <summary>Particle's display name.</summary>
    public static string Name(this TeamRole role) => role switch
    {
        TeamRole.ViewOnly => "View-only",
        TeamRole.Support => "Support",
        TeamRole.Developer => "Developer",
        TeamRole.Administrator => "Administrator",
        TeamRole.Owner => "Owner",
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    /// <summary>The stored and <c>role.id</c> form.</summary>
    public static string Id(this TeamRole role) => role switch
    {
        TeamRole.ViewOnly => "view-only",
        _ => role.Name().ToLowerInvariant(),
    };

    /// <summary>Accepts the display name or the id, case-insensitively (<c>Administrator</c>, <c>view-only</c>,
    /// <c>View Only</c>, <c>Administrator (Owner)</c>).</summary>
    public static bool TryParse(string? text, out TeamRole role)
    {
        var key = (text ?? "").Trim().ToLowerInvariant().Replace('_', '-').Replace(' ', '-');
        role = key switch
        {
            "view-only" or "viewonly" or "viewer" => TeamRole.ViewOnly,
            "support" => TeamRole.Support,
            "developer" => TeamRole.Developer,
            "administrator" or "admin" => TeamRole.Administrator,
            "owner" or "administrator-(owner)" => TeamRole.Owner,
            _ => 0,
        };
        return role != 0;
    }

    public static TeamRole Parse(string stored) =>
        TryParse(stored, out var role) ? role : throw new InvalidOperationException($"Unknown stored role '{stored}'");

    public static string Choices => string.Join(", ", All.Select(r => r.Name()));
}
