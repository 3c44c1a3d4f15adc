namespace Bulwark.Server.Features.Teams;

/// <summary>The permission names of the API, spelled as Particle spells them (<c>object:action</c>). They are
/// what an endpoint requires, what a role holds (<see cref="RolePermissions"/>) and what an API user is given.
/// The last group are Bulwark's own, for endpoints Particle documents no scope for.</summary>
public static class Scopes
{
    public const string ClientsList = "clients:list";
    public const string ClientsCreate = "clients:create";
    public const string ClientsUpdate = "clients:update";
    public const string ClientsRemove = "clients:remove";
    public const string ConfigurationGet = "configuration:get";
    public const string ConfigurationUpdate = "configuration:update";
    public const string CustomersList = "customers:list";
    public const string CustomersCreate = "customers:create";
    public const string CustomersUpdate = "customers:update";
    public const string CustomersRemove = "customers:remove";
    public const string DevicesList = "devices:list";
    public const string DevicesGet = "devices:get";
    public const string DevicesImport = "devices:import";
    public const string DevicesUpdate = "devices:update";
    public const string DevicesRemove = "devices:remove";
    public const string DevicesRelease = "devices:release";
    public const string DevicesPing = "devices:ping";
    public const string DevicesVariableGet = "devices.variable:get";
    public const string DevicesFunctionCall = "devices.function:call";
    public const string DevicesDiagnosticsGet = "devices.diagnostics:get";
    public const string DevicesDiagnosticsUpdate = "devices.diagnostics:update";
    public const string DevicesDiagnosticsMetadataGet = "devices.diagnostics.metadata:get";
    public const string DevicesDiagnosticsSummaryGet = "devices.diagnostics.summary:get";
    public const string EventsGet = "events:get";
    public const string EventsSend = "events:send";
    public const string FirmwareList = "firmware:list";
    public const string FirmwareGet = "firmware:get";
    public const string FirmwareCreate = "firmware:create";
    public const string FirmwareUpdate = "firmware:update";
    public const string FirmwareRelease = "firmware:release";
    public const string FirmwareRemove = "firmware:remove";
    public const string FirmwareBinaryGet = "firmware.binary:get";
    public const string GroupsList = "groups:list";
    public const string GroupsGet = "groups:get";
    public const string GroupsCreate = "groups:create";
    public const string GroupsUpdate = "groups:update";
    public const string GroupsRemove = "groups:remove";
    public const string GroupsImpactGet = "groups.impact:get";
    public const string IntegrationsList = "integrations:list";
    public const string IntegrationsGet = "integrations:get";
    public const string IntegrationsCreate = "integrations:create";
    public const string IntegrationsUpdate = "integrations:update";
    public const string IntegrationsRemove = "integrations:remove";
    public const string IntegrationsTest = "integrations:test";
    public const string LocationsGet = "locations:get";
    public const string OrganizationGet = "organization:get";
    public const string ProductsList = "products:list";
    public const string ProductsGet = "products:get";
    public const string ServiceAgreementsList = "service_agreements:list";
    public const string ServiceAgreementsUsageSummaryGet = "service_agreements.usage_summary:get";
    public const string ServiceAgreementsPricingTermsGet = "service_agreements.pricing_terms:get";
    public const string ServiceAgreementsUsageReportsGet = "service_agreements.usage_reports:get";
    public const string ServiceAgreementsUsageReportsCreate = "service_agreements.usage_reports:create";
    public const string ServiceAgreementsNotificationsList = "service_agreements.notifications:list";
    public const string SimsList = "sims:list";
    public const string SimsGet = "sims:get";
    public const string SimsImport = "sims:import";
    public const string SimsUpdate = "sims:update";
    public const string SimsRemove = "sims:remove";
    public const string SimsStatusGet = "sims.status:get";
    public const string SimsUsageGet = "sims.usage:get";
    public const string TeamsUsersList = "teams.users:list";
    public const string TeamsUsersInvite = "teams.users:invite";
    public const string TeamsUsersUpdate = "teams.users:update";
    public const string TeamsUsersRemove = "teams.users:remove";

    // Bulwark's own.
    public const string ProductsCreate = "products:create";
    public const string ProductsUpdate = "products:update";
    public const string OrganizationUpdate = "organization:update";
    public const string AuditList = "audit:list";
    /// <summary>Device Protection Service Mode (<c>PUT .../unprotect</c>): opens a protected device's local interfaces.</summary>
    public const string DevicesUnprotect = "devices:unprotect";

    /// <summary>Every scope, in the order above.</summary>
    public static IReadOnlyList<string> All { get; } = typeof(Scopes)
        .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string))
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToArray();

    private static readonly HashSet<string> Known = new(All, StringComparer.Ordinal);

    public static bool IsKnown(string scope) => Known.Contains(scope);
}
