-- Transactions, their events (exactly once per seqNo) and meter values.

CREATE TABLE transactions (
    station_id     text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    transaction_id text NOT NULL CHECK (length(transaction_id) BETWEEN 1 AND 36),
    state          text NOT NULL CHECK (state IN ('Active', 'Ended')),
    evse_id        integer CHECK (evse_id >= 0),
    connector_id   integer CHECK (connector_id >= 0),
    id_token       text,
    id_token_type  text,
    charging_state text
                   CHECK (charging_state IN ('Charging', 'EVConnected', 'SuspendedEV',
                                             'SuspendedEVSE', 'Idle')),
    -- earliest event seen; events can arrive out of order after the station was offline
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz,
    stopped_reason text,
    last_seq_no    integer NOT NULL CHECK (last_seq_no >= 0),
    -- charging_state and the token follow the event with the highest seqNo
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, transaction_id),
    CHECK ((state = 'Ended') = (ended_at IS NOT NULL))
);
CREATE INDEX transactions_active_idx ON transactions (station_id) WHERE state = 'Active';
CREATE INDEX transactions_started_idx ON transactions (started_at DESC);
CREATE INDEX transactions_id_token_idx ON transactions (id_token) WHERE id_token IS NOT NULL;

CREATE TABLE transaction_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id     text NOT NULL,
    transaction_id text NOT NULL,
    seq_no         integer NOT NULL CHECK (seq_no >= 0),
    event_type     text NOT NULL CHECK (event_type IN ('Started', 'Updated', 'Ended')),
    timestamp      timestamptz NOT NULL,
    trigger_reason text NOT NULL CHECK (length(trigger_reason) BETWEEN 1 AND 50),
    offline        boolean NOT NULL DEFAULT false,
    evse_id        integer CHECK (evse_id >= 0),
    connector_id   integer CHECK (connector_id >= 0),
    id_token       text,
    id_token_type  text,
    charging_state text,
    stopped_reason text,
    payload        jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    received_at    timestamptz NOT NULL DEFAULT now(),
    -- a retried event (same station, transaction and seqNo) is stored once
    UNIQUE (station_id, transaction_id, seq_no),
    FOREIGN KEY (station_id, transaction_id)
        REFERENCES transactions (station_id, transaction_id) ON DELETE CASCADE
);

-- Enumerations of meter values as enum types: 4 bytes a row instead of text, and the check of a
-- value costs one hash lookup instead of a comparison against every allowed label. (The enum's
-- binary COPY format is its label, so the writer sends plain text.)
CREATE TYPE measurand AS ENUM (
    'Current.Export', 'Current.Export.Offered', 'Current.Export.Minimum', 'Current.Import',
    'Current.Import.Offered', 'Current.Import.Minimum', 'Current.Offered',
    'Display.PresentSOC', 'Display.MinimumSOC', 'Display.TargetSOC', 'Display.MaximumSOC',
    'Display.RemainingTimeToMinimumSOC', 'Display.RemainingTimeToTargetSOC',
    'Display.RemainingTimeToMaximumSOC', 'Display.ChargingComplete',
    'Display.BatteryEnergyCapacity', 'Display.InletHot', 'Energy.Active.Export.Interval',
    'Energy.Active.Export.Register', 'Energy.Active.Import.Interval',
    'Energy.Active.Import.Register', 'Energy.Active.Import.CableLoss',
    'Energy.Active.Import.LocalGeneration.Register', 'Energy.Active.Net',
    'Energy.Active.Setpoint.Interval', 'Energy.Apparent.Export', 'Energy.Apparent.Import',
    'Energy.Apparent.Net', 'Energy.Reactive.Export.Interval',
    'Energy.Reactive.Export.Register', 'Energy.Reactive.Import.Interval',
    'Energy.Reactive.Import.Register', 'Energy.Reactive.Net', 'EnergyRequest.Target',
    'EnergyRequest.Minimum', 'EnergyRequest.Maximum', 'EnergyRequest.Minimum.V2X',
    'EnergyRequest.Maximum.V2X', 'EnergyRequest.Bulk', 'Frequency', 'Power.Active.Export',
    'Power.Active.Import', 'Power.Active.Setpoint', 'Power.Active.Residual',
    'Power.Export.Minimum', 'Power.Export.Offered', 'Power.Factor', 'Power.Import.Offered',
    'Power.Import.Minimum', 'Power.Offered', 'Power.Reactive.Export',
    'Power.Reactive.Import', 'SoC', 'Voltage', 'Voltage.Minimum', 'Voltage.Maximum');
CREATE TYPE meter_phase AS ENUM (
    'L1', 'L2', 'L3', 'N', 'L1-N', 'L2-N', 'L3-N', 'L1-L2', 'L2-L3', 'L3-L1');
CREATE TYPE meter_location AS ENUM ('Body', 'Cable', 'EV', 'Inlet', 'Outlet', 'Upstream');
CREATE TYPE reading_context AS ENUM (
    'Interruption.Begin', 'Interruption.End', 'Other', 'Sample.Clock', 'Sample.Periodic',
    'Transaction.Begin', 'Transaction.End', 'Trigger');

-- The busiest table: written with COPY, so it carries one index and no foreign key (a referential
-- trigger per row halves COPY throughput). Deleting a station deletes its rows explicitly.
CREATE TABLE meter_values (
    station_id     text NOT NULL CHECK (length(station_id) BETWEEN 1 AND 48),
    timestamp      timestamptz NOT NULL,
    evse_id        integer NOT NULL DEFAULT 0 CHECK (evse_id >= 0),
    transaction_id text CHECK (length(transaction_id) BETWEEN 1 AND 36),
    measurand      measurand NOT NULL,
    phase          meter_phase,
    location       meter_location,
    context        reading_context,
    unit           text CHECK (length(unit) <= 20),
    -- scaled by the sample's multiplier: Wh for energy, W for power, percent for SoC
    value          numeric NOT NULL CHECK (value <> 'NaN')
);
-- serves "by station and time range" and "by transaction" (a transaction's rows lie in its
-- station's time window, so the transaction filter rides on the same index)
CREATE INDEX meter_values_station_time_idx ON meter_values (station_id, timestamp);
