-- Stations, their connectors, id tokens and API tokens.
-- Identifiers follow OCPP limits; every enumerated text column is checked against its enum.

CREATE TABLE stations (
    id                  text PRIMARY KEY
                        CHECK (length(id) BETWEEN 1 AND 48 AND position(':' IN id) = 0),
    -- salted hash written by the authentication code; NULL means no Basic-auth password set
    password_hash       text CHECK (length(password_hash) BETWEEN 16 AND 255),
    security_profile    smallint NOT NULL DEFAULT 1 CHECK (security_profile BETWEEN 1 AND 3),
    registration_status text NOT NULL DEFAULT 'Pending'
                        CHECK (registration_status IN ('Accepted', 'Pending', 'Rejected')),
    ocpp_version        text CHECK (ocpp_version IN ('ocpp2.0.1', 'ocpp2.1')),
    vendor_name         text CHECK (length(vendor_name) <= 50),
    model               text CHECK (length(model) <= 50),
    serial_number       text CHECK (length(serial_number) <= 25),
    firmware_version    text CHECK (length(firmware_version) <= 50),
    modem_iccid         text CHECK (length(modem_iccid) <= 20),
    modem_imsi          text CHECK (length(modem_imsi) <= 20),
    last_boot_at        timestamptz,
    last_boot_reason    text,
    -- presence: the node holding the station's socket, and since when
    node_id             text,
    connected_since     timestamptz,
    last_seen_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((node_id IS NULL) = (connected_since IS NULL))
);
CREATE INDEX stations_node_idx ON stations (node_id) WHERE node_id IS NOT NULL;

CREATE TABLE evses (
    station_id   text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    evse_id      integer NOT NULL CHECK (evse_id >= 0),
    connector_id integer NOT NULL CHECK (connector_id >= 0),
    status       text NOT NULL
                 CHECK (status IN ('Available', 'Occupied', 'Reserved', 'Unavailable', 'Faulted')),
    status_at    timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, evse_id, connector_id)
);

CREATE TABLE id_tokens (
    id_token   text NOT NULL CHECK (length(id_token) BETWEEN 1 AND 255),
    type       text NOT NULL CHECK (length(type) BETWEEN 1 AND 20),
    status     text NOT NULL DEFAULT 'Accepted'
               CHECK (status IN ('Accepted', 'Blocked', 'ConcurrentTx', 'Expired', 'Invalid',
                                 'NoCredit', 'NotAllowedTypeEVSE', 'NotAtThisLocation',
                                 'NotAtThisTime', 'Unknown')),
    expires_at timestamptz,
    group_id   text CHECK (length(group_id) <= 255),
    user_id    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id_token, type)
);
CREATE INDEX id_tokens_group_idx ON id_tokens (group_id) WHERE group_id IS NOT NULL;
-- OCPP: an idToken is case insensitive
CREATE INDEX id_tokens_lower_idx ON id_tokens (lower(id_token));

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    token_hash   text NOT NULL UNIQUE CHECK (length(token_hash) BETWEEN 16 AND 255),
    role         text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
