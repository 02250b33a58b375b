-- Vehicle-to-grid: capability, preferences, sessions, their events, grid prices, compensation.
-- Energy in Wh, power in W, money in BRL as numeric.

CREATE TABLE v2g_capabilities (
    station_id               text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    evse_id                  integer NOT NULL CHECK (evse_id >= 0),
    -- EVCCID, VIN or '' when the EV did not identify itself
    ev_id                    text NOT NULL DEFAULT '',
    bidirectional            boolean NOT NULL,
    energy_transfer_modes    text[] NOT NULL
                             CHECK (energy_transfer_modes <@ ARRAY[
                                 'AC_single_phase', 'AC_two_phase', 'AC_three_phase', 'DC',
                                 'AC_BPT', 'AC_BPT_DER', 'AC_DER', 'DC_BPT', 'DC_ACDP',
                                 'DC_ACDP_BPT', 'WPT']::text[]),
    max_charge_power_w       numeric CHECK (max_charge_power_w >= 0),
    max_discharge_power_w    numeric CHECK (max_discharge_power_w >= 0),
    battery_capacity_wh      numeric CHECK (battery_capacity_wh > 0),
    source                   text NOT NULL
                             CHECK (source IN ('v2x_parameters', 'custom_data', 'declared')),
    raw                      jsonb,
    updated_at               timestamptz NOT NULL,
    PRIMARY KEY (station_id, evse_id, ev_id)
);

CREATE TABLE v2g_preferences (
    user_id               text PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 100),
    opted_in              boolean NOT NULL DEFAULT false,
    min_soc_percent       numeric NOT NULL CHECK (min_soc_percent BETWEEN 0 AND 100),
    max_discharge_power_w numeric NOT NULL CHECK (max_discharge_power_w > 0),
    -- [{"days": [0..6], "start": "HH:MM", "end": "HH:MM"}], checked by the service
    allowed_windows       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(allowed_windows) = 'array'),
    max_cycles_per_day    integer NOT NULL DEFAULT 1 CHECK (max_cycles_per_day >= 0),
    wallet_id             text,
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE v2g_sessions (
    id                 uuid PRIMARY KEY,
    station_id         text NOT NULL REFERENCES stations (id),
    evse_id            integer NOT NULL CHECK (evse_id >= 0),
    transaction_id     text,
    user_id            text,
    ev_id              text,
    state              text NOT NULL CHECK (state IN ('requested', 'starting', 'discharging',
                                                      'stopping', 'completed', 'failed')),
    requested_by       text NOT NULL,
    target_power_w     numeric NOT NULL CHECK (target_power_w > 0),
    min_soc_percent    numeric NOT NULL CHECK (min_soc_percent BETWEEN 0 AND 100),
    start_soc_percent  numeric CHECK (start_soc_percent BETWEEN 0 AND 100),
    soc_percent        numeric CHECK (soc_percent BETWEEN 0 AND 100),
    energy_exported_wh numeric NOT NULL DEFAULT 0 CHECK (energy_exported_wh >= 0),
    profile_id         integer,
    window_end_at      timestamptz,
    started_at         timestamptz,
    ended_at           timestamptz,
    end_reason         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((state IN ('completed', 'failed')) = (ended_at IS NOT NULL))
);
-- one discharge at a time per EVSE
CREATE UNIQUE INDEX v2g_sessions_one_active_idx ON v2g_sessions (station_id, evse_id)
    WHERE state IN ('requested', 'starting', 'discharging', 'stopping');
CREATE INDEX v2g_sessions_user_idx ON v2g_sessions (user_id, created_at DESC);
CREATE INDEX v2g_sessions_station_idx ON v2g_sessions (station_id, created_at DESC);

CREATE TABLE v2g_events (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id         uuid NOT NULL REFERENCES v2g_sessions (id) ON DELETE CASCADE,
    at                 timestamptz NOT NULL,
    kind               text NOT NULL CHECK (length(kind) BETWEEN 1 AND 50),
    soc_percent        numeric CHECK (soc_percent BETWEEN 0 AND 100),
    power_w            numeric,
    energy_exported_wh numeric CHECK (energy_exported_wh >= 0),
    payload            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object')
);
CREATE INDEX v2g_events_session_idx ON v2g_events (session_id, at);

CREATE TABLE v2g_grid_prices (
    -- CCEE submarkets: SE_CO (Sudeste/Centro-Oeste), S, NE, N
    submarket          text NOT NULL CHECK (submarket IN ('SE_CO', 'S', 'NE', 'N')),
    starts_at          timestamptz NOT NULL,
    ends_at            timestamptz NOT NULL,
    source             text NOT NULL CHECK (source IN ('ccee', 'simulated')),
    pld_brl_per_mwh    numeric(12, 2) NOT NULL CHECK (pld_brl_per_mwh >= 0),
    retail_brl_per_kwh numeric(12, 6) NOT NULL CHECK (retail_brl_per_kwh >= 0),
    tariff_band        text CHECK (tariff_band IN ('fora_ponta', 'intermediario', 'ponta',
                                                   'critical_peak')),
    fetched_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (submarket, starts_at),
    CHECK (ends_at > starts_at)
);

CREATE TABLE v2g_compensations (
    id                uuid PRIMARY KEY,
    session_id        uuid NOT NULL REFERENCES v2g_sessions (id),
    user_id           text NOT NULL,
    station_id        text NOT NULL,
    interval_start    timestamptz NOT NULL,
    interval_end      timestamptz NOT NULL,
    energy_wh         numeric(14, 3) NOT NULL CHECK (energy_wh >= 0),
    price_brl_per_kwh numeric(12, 6) NOT NULL CHECK (price_brl_per_kwh >= 0),
    gross_brl         numeric(14, 2) NOT NULL CHECK (gross_brl >= 0),
    margin_brl        numeric(14, 2) NOT NULL CHECK (margin_brl >= 0),
    net_brl           numeric(14, 2) NOT NULL CHECK (net_brl = gross_brl - margin_brl),
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'paying', 'paid', 'failed')),
    -- sent to the wallet service so a retried payout never pays twice
    idempotency_key   text NOT NULL UNIQUE,
    payout_reference  text,
    paid_at           timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, interval_start),
    CHECK (interval_end > interval_start),
    CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);
CREATE INDEX v2g_compensations_pending_idx ON v2g_compensations (created_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX v2g_compensations_user_idx ON v2g_compensations (user_id, interval_start);
CREATE INDEX v2g_compensations_station_idx ON v2g_compensations (station_id, interval_start);
