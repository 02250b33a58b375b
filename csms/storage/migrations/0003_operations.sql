-- Command audit, charging profiles, the device model, security events, firmware jobs.

CREATE TABLE commands (
    id                uuid PRIMARY KEY,
    -- no foreign key: the audit outlives a deleted station
    station_id        text NOT NULL CHECK (length(station_id) BETWEEN 1 AND 48),
    action            text NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    requested_by      text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 100),
    node_id           text,
    message_id        text CHECK (length(message_id) <= 36),
    payload           jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    status            text NOT NULL
                      CHECK (status IN ('pending', 'sent', 'responded', 'error', 'timeout', 'failed')),
    response          jsonb,
    error_code        text,
    error_description text,
    requested_at      timestamptz NOT NULL,
    sent_at           timestamptz,
    completed_at      timestamptz,
    CHECK ((status IN ('pending', 'sent')) = (completed_at IS NULL))
);
CREATE INDEX commands_station_idx ON commands (station_id, requested_at DESC);
CREATE INDEX commands_open_idx ON commands (requested_at) WHERE status IN ('pending', 'sent');

CREATE TABLE charging_profiles (
    station_id     text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    profile_id     integer NOT NULL,
    evse_id        integer NOT NULL DEFAULT 0 CHECK (evse_id >= 0),
    stack_level    integer NOT NULL CHECK (stack_level >= 0),
    purpose        text NOT NULL
                   CHECK (purpose IN ('ChargingStationExternalConstraints',
                                      'ChargingStationMaxProfile', 'TxDefaultProfile',
                                      'TxProfile', 'PriorityCharging', 'LocalGeneration')),
    kind           text NOT NULL CHECK (kind IN ('Absolute', 'Recurring', 'Relative', 'Dynamic')),
    transaction_id text,
    valid_from     timestamptz,
    valid_to       timestamptz,
    profile        jsonb NOT NULL CHECK (jsonb_typeof(profile) = 'object'),
    source         text NOT NULL CHECK (source IN ('csms', 'station', 'external')),
    status         text NOT NULL CHECK (status IN ('requested', 'active', 'rejected', 'cleared')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, profile_id),
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from),
    CHECK ((purpose = 'TxProfile') OR transaction_id IS NULL)
);
CREATE INDEX charging_profiles_evse_idx ON charging_profiles (station_id, evse_id, purpose)
    WHERE status = 'active';

-- NULLS NOT DISTINCT (PostgreSQL 15+): a variable without instance or EVSE is one row, not many.
CREATE TABLE device_variables (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id         text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    component          text NOT NULL CHECK (length(component) BETWEEN 1 AND 50),
    component_instance text CHECK (length(component_instance) <= 50),
    evse_id            integer CHECK (evse_id >= 0),
    connector_id       integer CHECK (connector_id >= 0),
    variable           text NOT NULL CHECK (length(variable) BETWEEN 1 AND 50),
    variable_instance  text CHECK (length(variable_instance) <= 50),
    attribute_type     text NOT NULL DEFAULT 'Actual'
                       CHECK (attribute_type IN ('Actual', 'Target', 'MinSet', 'MaxSet')),
    value              text CHECK (length(value) <= 2500),
    mutability         text CHECK (mutability IN ('ReadOnly', 'WriteOnly', 'ReadWrite')),
    persistent         boolean,
    constant           boolean,
    data_type          text,
    unit               text,
    min_limit          numeric,
    max_limit          numeric,
    values_list        text,
    updated_at         timestamptz NOT NULL,
    UNIQUE NULLS NOT DISTINCT (station_id, component, component_instance, evse_id,
                               connector_id, variable, variable_instance, attribute_type)
);

CREATE TABLE security_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id  text NOT NULL CHECK (length(station_id) BETWEEN 1 AND 48),
    type        text NOT NULL CHECK (length(type) BETWEEN 1 AND 50),
    timestamp   timestamptz NOT NULL,
    tech_info   text CHECK (length(tech_info) <= 255),
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_station_idx ON security_events (station_id, timestamp DESC);

CREATE TABLE firmware_updates (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    request_id          integer NOT NULL,
    location            text NOT NULL CHECK (length(location) BETWEEN 1 AND 2000),
    retrieve_at         timestamptz NOT NULL,
    install_at          timestamptz,
    retries             integer CHECK (retries >= 0),
    retry_interval_s    integer CHECK (retry_interval_s >= 0),
    signing_certificate text,
    signature           text,
    requested_by        text NOT NULL,
    -- last FirmwareStatusNotification status (or the UpdateFirmware response status)
    status              text NOT NULL CHECK (status IN (
        'Requested', 'Accepted', 'Rejected', 'AcceptedCanceled', 'InvalidCertificate',
        'RevokedCertificate', 'Downloaded', 'DownloadFailed', 'Downloading', 'DownloadScheduled',
        'DownloadPaused', 'Idle', 'InstallationFailed', 'Installing', 'Installed',
        'InstallRebooting', 'InstallScheduled', 'InstallVerificationFailed', 'InvalidSignature',
        'SignatureVerified', 'TimedOut', 'Replaced')),
    state               text NOT NULL DEFAULT 'active'
                        CHECK (state IN ('active', 'completed', 'failed', 'canceled')),
    status_at           timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, request_id),
    CHECK ((signature IS NULL) = (signing_certificate IS NULL))
);
-- at most one running job per station: a replacement cancels the old one first
CREATE UNIQUE INDEX firmware_updates_one_active_idx ON firmware_updates (station_id)
    WHERE state = 'active';
