namespace Bulwark.Server.Data.Migrations;

/// <summary>Every schema version, oldest first. Append only: a deployed database is upgraded by
/// running the ones it has not seen. Never edit a migration that has shipped.</summary>
public static class SchemaMigrations
{
    public static IReadOnlyList<SchemaMigration> All { get; } =
    [
        new(1, "accounts_tokens_mfa_audit",
            Sqlite: """
                CREATE TABLE users (
                    id TEXT NOT NULL PRIMARY KEY,
                    username TEXT NOT NULL,
                    normalized_username TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    first_name TEXT NULL,
                    last_name TEXT NULL,
                    company_name TEXT NULL,
                    business_account INTEGER NOT NULL DEFAULT 0,
                    mfa_enabled INTEGER NOT NULL DEFAULT 0,
                    totp_secret_protected TEXT NULL,
                    totp_last_step INTEGER NULL,
                    created_at TEXT NOT NULL,
                    last_active_at TEXT NULL
                );
                CREATE UNIQUE INDEX ix_users_normalized_username ON users (normalized_username);
                CREATE TABLE access_tokens (
                    id TEXT NOT NULL PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    token_hash TEXT NOT NULL,
                    hint TEXT NOT NULL,
                    client TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    expires_at TEXT NULL,
                    last_used_at TEXT NULL,
                    revoked_at TEXT NULL
                );
                CREATE UNIQUE INDEX ix_access_tokens_token_hash ON access_tokens (token_hash);
                CREATE INDEX ix_access_tokens_user_id ON access_tokens (user_id);
                CREATE TABLE recovery_codes (
                    id TEXT NOT NULL PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    code_hash TEXT NOT NULL,
                    used_at TEXT NULL
                );
                CREATE INDEX ix_recovery_codes_user_id ON recovery_codes (user_id);
                CREATE TABLE mfa_tickets (
                    id TEXT NOT NULL PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    ticket_hash TEXT NOT NULL,
                    purpose TEXT NOT NULL,
                    payload TEXT NULL,
                    failed_attempts INTEGER NOT NULL DEFAULT 0,
                    created_at TEXT NOT NULL,
                    expires_at TEXT NOT NULL,
                    consumed_at TEXT NULL
                );
                CREATE UNIQUE INDEX ix_mfa_tickets_ticket_hash ON mfa_tickets (ticket_hash);
                CREATE TABLE audit_events (
                    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
                    occurred_at TEXT NOT NULL,
                    type INTEGER NOT NULL,
                    actor_id TEXT NULL,
                    actor_name TEXT NULL,
                    subject_id TEXT NULL,
                    ip_address TEXT NULL,
                    details TEXT NULL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                );
                CREATE INDEX ix_audit_events_actor_id ON audit_events (actor_id);
                CREATE INDEX ix_audit_events_subject_id ON audit_events (subject_id);
                CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
                    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
                CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
                    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
                """,
            Postgres: """
                CREATE TABLE users (
                    id TEXT NOT NULL PRIMARY KEY,
                    username TEXT NOT NULL,
                    normalized_username TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    first_name TEXT NULL,
                    last_name TEXT NULL,
                    company_name TEXT NULL,
                    business_account BOOLEAN NOT NULL DEFAULT FALSE,
                    mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE,
                    totp_secret_protected TEXT NULL,
                    totp_last_step BIGINT NULL,
                    created_at TIMESTAMPTZ NOT NULL,
                    last_active_at TIMESTAMPTZ NULL
                );
                CREATE UNIQUE INDEX ix_users_normalized_username ON users (normalized_username);
                CREATE TABLE access_tokens (
                    id TEXT NOT NULL PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    token_hash TEXT NOT NULL,
                    hint TEXT NOT NULL,
                    client TEXT NOT NULL,
                    created_at TIMESTAMPTZ NOT NULL,
                    expires_at TIMESTAMPTZ NULL,
                    last_used_at TIMESTAMPTZ NULL,
                    revoked_at TIMESTAMPTZ NULL
                );
                CREATE UNIQUE INDEX ix_access_tokens_token_hash ON access_tokens (token_hash);
                CREATE INDEX ix_access_tokens_user_id ON access_tokens (user_id);
                CREATE TABLE recovery_codes (
                    id TEXT NOT NULL PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    code_hash TEXT NOT NULL,
                    used_at TIMESTAMPTZ NULL
                );
                CREATE INDEX ix_recovery_codes_user_id ON recovery_codes (user_id);
                CREATE TABLE mfa_tickets (
                    id TEXT NOT NULL PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    ticket_hash TEXT NOT NULL,
                    purpose TEXT NOT NULL,
                    payload TEXT NULL,
                    failed_attempts INTEGER NOT NULL DEFAULT 0,
                    created_at TIMESTAMPTZ NOT NULL,
                    expires_at TIMESTAMPTZ NOT NULL,
                    consumed_at TIMESTAMPTZ NULL
                );
                CREATE UNIQUE INDEX ix_mfa_tickets_ticket_hash ON mfa_tickets (ticket_hash);
                CREATE TABLE audit_events (
                    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                    occurred_at TIMESTAMPTZ NOT NULL,
                    type INTEGER NOT NULL,
                    actor_id TEXT NULL,
                    actor_name TEXT NULL,
                    subject_id TEXT NULL,
                    ip_address TEXT NULL,
                    details TEXT NULL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                );
                CREATE INDEX ix_audit_events_actor_id ON audit_events (actor_id);
                CREATE INDEX ix_audit_events_subject_id ON audit_events (subject_id);
                CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'audit_events is append-only'; END; $$;
                CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
                    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
                """),
        new(2, "organizations_products_teams",
            Sqlite: """
                ALTER TABLE users ADD COLUMN is_programmatic INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE organizations (
                    id TEXT NOT NULL PRIMARY KEY,
                    name TEXT NOT NULL,
                    slug TEXT NOT NULL,
                    require_mfa INTEGER NOT NULL DEFAULT 0,
                    created_at TEXT NOT NULL,
                    created_by_id TEXT NULL
                );
                CREATE UNIQUE INDEX ix_organizations_slug ON organizations (slug);
                CREATE TABLE products (
                    id INTEGER NOT NULL PRIMARY KEY CHECK (id BETWEEN 1 AND 65535),
                    slug TEXT NOT NULL,
                    name TEXT NOT NULL,
                    description TEXT NULL,
                    platform_id INTEGER NOT NULL,
                    hardware TEXT NOT NULL,
                    owner_user_id TEXT NULL REFERENCES users (id) ON DELETE SET NULL,
                    organization_id TEXT NULL REFERENCES organizations (id) ON DELETE CASCADE,
                    unrecognized_device_policy TEXT NOT NULL DEFAULT 'quarantine'
                        CHECK (unrecognized_device_policy IN ('quarantine', 'auto-approve')),
                    location_opt_in INTEGER NOT NULL DEFAULT 0,
                    known_application_opt_in INTEGER NOT NULL DEFAULT 0,
                    created_at TEXT NOT NULL
                );
                CREATE UNIQUE INDEX ix_products_slug ON products (slug);
                CREATE INDEX ix_products_owner_user_id ON products (owner_user_id);
                CREATE INDEX ix_products_organization_id ON products (organization_id);
                CREATE TABLE team_members (
                    id TEXT NOT NULL PRIMARY KEY,
                    product_id INTEGER NULL REFERENCES products (id) ON DELETE CASCADE,
                    organization_id TEXT NULL REFERENCES organizations (id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    role TEXT NULL,
                    friendly_name TEXT NULL,
                    scopes TEXT NULL,
                    created_at TEXT NOT NULL,
                    created_by_id TEXT NULL,
                    CHECK ((product_id IS NULL) <> (organization_id IS NULL)),
                    CHECK ((role IS NULL) <> (scopes IS NULL))
                );
                CREATE UNIQUE INDEX ix_team_members_product_user ON team_members (product_id, user_id);
                CREATE UNIQUE INDEX ix_team_members_organization_user ON team_members (organization_id, user_id);
                CREATE INDEX ix_team_members_user_id ON team_members (user_id);
                """,
            Postgres: """
                ALTER TABLE users ADD COLUMN is_programmatic BOOLEAN NOT NULL DEFAULT FALSE;
                CREATE TABLE organizations (
                    id TEXT NOT NULL PRIMARY KEY,
                    name TEXT NOT NULL,
                    slug TEXT NOT NULL,
                    require_mfa BOOLEAN NOT NULL DEFAULT FALSE,
                    created_at TIMESTAMPTZ NOT NULL,
                    created_by_id TEXT NULL
                );
                CREATE UNIQUE INDEX ix_organizations_slug ON organizations (slug);
                CREATE TABLE products (
                    id INTEGER NOT NULL PRIMARY KEY CHECK (id BETWEEN 1 AND 65535),
                    slug TEXT NOT NULL,
                    name TEXT NOT NULL,
                    description TEXT NULL,
                    platform_id INTEGER NOT NULL,
                    hardware TEXT NOT NULL,
                    owner_user_id TEXT NULL REFERENCES users (id) ON DELETE SET NULL,
                    organization_id TEXT NULL REFERENCES organizations (id) ON DELETE CASCADE,
                    unrecognized_device_policy TEXT NOT NULL DEFAULT 'quarantine'
                        CHECK (unrecognized_device_policy IN ('quarantine', 'auto-approve')),
                    location_opt_in BOOLEAN NOT NULL DEFAULT FALSE,
                    known_application_opt_in BOOLEAN NOT NULL DEFAULT FALSE,
                    created_at TIMESTAMPTZ NOT NULL
                );
                CREATE UNIQUE INDEX ix_products_slug ON products (slug);
                CREATE INDEX ix_products_owner_user_id ON products (owner_user_id);
                CREATE INDEX ix_products_organization_id ON products (organization_id);
                CREATE TABLE team_members (
                    id TEXT NOT NULL PRIMARY KEY,
                    product_id INTEGER NULL REFERENCES products (id) ON DELETE CASCADE,
                    organization_id TEXT NULL REFERENCES organizations (id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    role TEXT NULL,
                    friendly_name TEXT NULL,
                    scopes TEXT NULL,
                    created_at TIMESTAMPTZ NOT NULL,
                    created_by_id TEXT NULL,
                    CHECK ((product_id IS NULL) <> (organization_id IS NULL)),
                    CHECK ((role IS NULL) <> (scopes IS NULL))
                );
                CREATE UNIQUE INDEX ix_team_members_product_user ON team_members (product_id, user_id);
                CREATE UNIQUE INDEX ix_team_members_organization_user ON team_members (organization_id, user_id);
                CREATE INDEX ix_team_members_user_id ON team_members (user_id);
                """),
        new(3, "devices",
            Sqlite: """
                CREATE TABLE devices (
                    id TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 24),
                    public_key_pem TEXT NULL,
                    ec_public_key_pem TEXT NULL,
                    owner_user_id TEXT NULL REFERENCES users (id) ON DELETE SET NULL,
                    name TEXT NULL,
                    notes TEXT NULL,
                    serial_number TEXT NULL,
                    platform_id INTEGER NULL,
                    product_id INTEGER NULL,
                    product_firmware_version INTEGER NULL,
                    system_version INTEGER NULL,
                    hello_flags INTEGER NULL,
                    functions TEXT NULL,
                    variables TEXT NULL,
                    last_ip_address TEXT NULL,
                    last_heard TEXT NULL,
                    last_handshake_at TEXT NULL,
                    created_at TEXT NOT NULL,
                    claimed_at TEXT NULL
                );
                CREATE INDEX ix_devices_owner_user_id ON devices (owner_user_id);
                """,
            Postgres: """
                CREATE TABLE devices (
                    id TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 24),
                    public_key_pem TEXT NULL,
                    ec_public_key_pem TEXT NULL,
                    owner_user_id TEXT NULL REFERENCES users (id) ON DELETE SET NULL,
                    name TEXT NULL,
                    notes TEXT NULL,
                    serial_number TEXT NULL,
                    platform_id INTEGER NULL,
                    product_id INTEGER NULL,
                    product_firmware_version INTEGER NULL,
                    system_version INTEGER NULL,
                    hello_flags INTEGER NULL,
                    functions TEXT NULL,
                    variables TEXT NULL,
                    last_ip_address TEXT NULL,
                    last_heard TIMESTAMPTZ NULL,
                    last_handshake_at TIMESTAMPTZ NULL,
                    created_at TIMESTAMPTZ NOT NULL,
                    claimed_at TIMESTAMPTZ NULL
                );
                CREATE INDEX ix_devices_owner_user_id ON devices (owner_user_id);
                """),
        new(4, "product_devices_admission",
            Sqlite: """
                ALTER TABLE devices ADD COLUMN cloud_product_id INTEGER NULL REFERENCES products (id) ON DELETE SET NULL;
                ALTER TABLE devices ADD COLUMN product_privileges TEXT NULL CHECK (product_privileges IN ('full', 'limited', 'none'));
                CREATE INDEX ix_devices_cloud_product_id ON devices (cloud_product_id);
                CREATE INDEX ix_devices_serial_number ON devices (serial_number);
                CREATE TABLE product_device_states (
                    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
                    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
                    state TEXT NOT NULL CHECK (state IN ('quarantined', 'denied', 'removed', 'unrecognized')),
                    reason TEXT NULL,
                    firmware_product_id INTEGER NULL,
                    system_version INTEGER NULL,
                    updated_at TEXT NOT NULL,
                    last_attempt_at TEXT NULL,
                    PRIMARY KEY (product_id, device_id)
                );
                CREATE INDEX ix_product_device_states_product_state ON product_device_states (product_id, state);
                CREATE INDEX ix_product_device_states_device_id ON product_device_states (device_id);
                """,
            Postgres: """
                ALTER TABLE devices ADD COLUMN cloud_product_id INTEGER NULL REFERENCES products (id) ON DELETE SET NULL;
                ALTER TABLE devices ADD COLUMN product_privileges TEXT NULL CHECK (product_privileges IN ('full', 'limited', 'none'));
                CREATE INDEX ix_devices_cloud_product_id ON devices (cloud_product_id);
                CREATE INDEX ix_devices_serial_number ON devices (serial_number);
                CREATE TABLE product_device_states (
                    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
                    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
                    state TEXT NOT NULL CHECK (state IN ('quarantined', 'denied', 'removed', 'unrecognized')),
                    reason TEXT NULL,
                    firmware_product_id INTEGER NULL,
                    system_version INTEGER NULL,
                    updated_at TIMESTAMPTZ NOT NULL,
                    last_attempt_at TIMESTAMPTZ NULL,
                    PRIMARY KEY (product_id, device_id)
                );
                CREATE INDEX ix_product_device_states_product_state ON product_device_states (product_id, state);
                CREATE INDEX ix_product_device_states_device_id ON product_device_states (device_id);
                """),
        new(5, "firmware_groups_ota",
            Sqlite: """
                CREATE TABLE product_firmware (
                    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
                    version INTEGER NOT NULL CHECK (version BETWEEN 1 AND 65535),
                    id TEXT NOT NULL,
                    title TEXT NOT NULL,
                    description TEXT NULL,
                    file_name TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    platform_id INTEGER NOT NULL,
                    module_version INTEGER NOT NULL,
                    required_system_version INTEGER NULL,
                    is_protected INTEGER NOT NULL DEFAULT 0,
                    product_default INTEGER NOT NULL DEFAULT 0,
                    intelligent INTEGER NOT NULL DEFAULT 0,
                    mandatory INTEGER NOT NULL DEFAULT 0,
                    first_released_at TEXT NULL,
                    uploaded_at TEXT NOT NULL,
                    uploaded_by_id TEXT NULL,
                    uploaded_by_name TEXT NULL,
                    updated_at TEXT NULL,
                    PRIMARY KEY (product_id, version)
                );
                CREATE TABLE product_firmware_binaries (
                    product_id INTEGER NOT NULL,
                    version INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (product_id, version),
                    FOREIGN KEY (product_id, version) REFERENCES product_firmware (product_id, version) ON DELETE CASCADE
                );
                CREATE TABLE device_groups (
                    id TEXT NOT NULL PRIMARY KEY,
                    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    description TEXT NULL,
                    color TEXT NULL,
                    firmware_version INTEGER NULL,
                    created_at TEXT NOT NULL
                );
                CREATE UNIQUE INDEX ix_device_groups_product_name ON device_groups (product_id, name);
                CREATE TABLE device_group_members (
                    group_id TEXT NOT NULL REFERENCES device_groups (id) ON DELETE CASCADE,
                    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
                    PRIMARY KEY (group_id, device_id)
                );
                CREATE INDEX ix_device_group_members_device_id ON device_group_members (device_id);
                CREATE TABLE device_firmware_states (
                    device_id TEXT NOT NULL PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
                    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
                    development INTEGER NOT NULL DEFAULT 0,
                    desired_firmware_version INTEGER NULL,
                    ota_status TEXT NULL,
                    ota_version INTEGER NULL,
                    ota_attempts INTEGER NOT NULL DEFAULT 0,
                    ota_error TEXT NULL,
                    ota_updated_at TEXT NULL,
                    ota_retry_at TEXT NULL
                );
                CREATE INDEX ix_device_firmware_states_product_id ON device_firmware_states (product_id);
                """,
            Postgres: """
                CREATE TABLE product_firmware (
                    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
                    version INTEGER NOT NULL CHECK (version BETWEEN 1 AND 65535),
                    id TEXT NOT NULL,
                    title TEXT NOT NULL,
                    description TEXT NULL,
                    file_name TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    platform_id INTEGER NOT NULL,
                    module_version INTEGER NOT NULL,
                    required_system_version INTEGER NULL,
                    is_protected BOOLEAN NOT NULL DEFAULT FALSE,
                    product_default BOOLEAN NOT NULL DEFAULT FALSE,
                    intelligent BOOLEAN NOT NULL DEFAULT FALSE,
                    mandatory BOOLEAN NOT NULL DEFAULT FALSE,
                    first_released_at TIMESTAMPTZ NULL,
                    uploaded_at TIMESTAMPTZ NOT NULL,
                    uploaded_by_id TEXT NULL,
                    uploaded_by_name TEXT NULL,
                    updated_at TIMESTAMPTZ NULL,
                    PRIMARY KEY (product_id, version)
                );
                CREATE TABLE product_firmware_binaries (
                    product_id INTEGER NOT NULL,
                    version INTEGER NOT NULL,
                    data BYTEA NOT NULL,
                    PRIMARY KEY (product_id, version),
                    FOREIGN KEY (product_id, version) REFERENCES product_firmware (product_id, version) ON DELETE CASCADE
                );
                CREATE TABLE device_groups (
                    id TEXT NOT NULL PRIMARY KEY,
                    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    description TEXT NULL,
                    color TEXT NULL,
                    firmware_version INTEGER NULL,
                    created_at TIMESTAMPTZ NOT NULL
                );
                CREATE UNIQUE INDEX ix_device_groups_product_name ON device_groups (product_id, name);
                CREATE TABLE device_group_members (
                    group_id TEXT NOT NULL REFERENCES device_groups (id) ON DELETE CASCADE,
                    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
                    PRIMARY KEY (group_id, device_id)
                );
                CREATE INDEX ix_device_group_members_device_id ON device_group_members (device_id);
                CREATE TABLE device_firmware_states (
                    device_id TEXT NOT NULL PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
                    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
                    development BOOLEAN NOT NULL DEFAULT FALSE,
                    desired_firmware_version INTEGER NULL,
                    ota_status TEXT NULL,
                    ota_version INTEGER NULL,
                    ota_attempts INTEGER NOT NULL DEFAULT 0,
                    ota_error TEXT NULL,
                    ota_updated_at TIMESTAMPTZ NULL,
                    ota_retry_at TIMESTAMPTZ NULL
                );
                CREATE INDEX ix_device_firmware_states_product_id ON device_firmware_states (product_id);
                """),
        new(6, "device_system_modules",
            Sqlite: """
                ALTER TABLE devices ADD COLUMN system_modules TEXT NULL;
                """,
            Postgres: """
                ALTER TABLE devices ADD COLUMN system_modules TEXT NULL;
                """),
        new(7, "device_protection",
            Sqlite: """
                ALTER TABLE devices ADD COLUMN device_protection_status TEXT NULL;
                CREATE TABLE product_protection (
                    product_id INTEGER NOT NULL PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
                    enabled_at TEXT NOT NULL,
                    enabled_by_id TEXT NULL,
                    enabled_by_name TEXT NULL
                );
                CREATE TABLE device_protection (
                    device_id TEXT NOT NULL PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
                    reported_protected INTEGER NULL,
                    reported_at TEXT NULL,
                    bootloader_sent_at TEXT NULL,
                    bootloader_sent_version INTEGER NULL,
                    service_mode_started_at TEXT NULL,
                    service_mode_resets INTEGER NOT NULL DEFAULT 0,
                    updated_at TEXT NOT NULL
                );
                CREATE TABLE device_os_modules (
                    id TEXT NOT NULL PRIMARY KEY,
                    platform_id INTEGER NOT NULL,
                    function INTEGER NOT NULL,
                    module_index INTEGER NOT NULL,
                    version INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    uploaded_at TEXT NOT NULL,
                    uploaded_by_name TEXT NULL
                );
                CREATE UNIQUE INDEX ix_device_os_modules_identity ON device_os_modules (platform_id, function, module_index, version);
                """,
            Postgres: """
                ALTER TABLE devices ADD COLUMN device_protection_status TEXT NULL;
                CREATE TABLE product_protection (
                    product_id INTEGER NOT NULL PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
                    enabled_at TIMESTAMPTZ NOT NULL,
                    enabled_by_id TEXT NULL,
                    enabled_by_name TEXT NULL
                );
                CREATE TABLE device_protection (
                    device_id TEXT NOT NULL PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
                    reported_protected BOOLEAN NULL,
                    reported_at TIMESTAMPTZ NULL,
                    bootloader_sent_at TIMESTAMPTZ NULL,
                    bootloader_sent_version INTEGER NULL,
                    service_mode_started_at TIMESTAMPTZ NULL,
                    service_mode_resets INTEGER NOT NULL DEFAULT 0,
                    updated_at TIMESTAMPTZ NOT NULL
                );
                CREATE TABLE device_os_modules (
                    id TEXT NOT NULL PRIMARY KEY,
                    platform_id INTEGER NOT NULL,
                    function INTEGER NOT NULL,
                    module_index INTEGER NOT NULL,
                    version INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    data BYTEA NOT NULL,
                    uploaded_at TIMESTAMPTZ NOT NULL,
                    uploaded_by_name TEXT NULL
                );
                CREATE UNIQUE INDEX ix_device_os_modules_identity ON device_os_modules (platform_id, function, module_index, version);
                """),
        // The UDP gateway finds a device by the raw EC key it presents in the DTLS handshake; provisioning stores that
        // key as the PEM of its SPKI, so an index on the PEM makes the lookup exact and cheap.
        new(8, "devices_ec_key_index",
            Sqlite: """
                CREATE INDEX ix_devices_ec_public_key_pem ON devices (ec_public_key_pem);
                """,
            Postgres: """
                CREATE INDEX ix_devices_ec_public_key_pem ON devices (ec_public_key_pem);
                """),
    ];
}
