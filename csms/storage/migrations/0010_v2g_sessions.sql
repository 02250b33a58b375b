-- Discharge sessions as their actors keep them (csms/actors/v2g): what a session resumed after a
-- node restart needs, and the state negotiating (the EV was asked to renegotiate a bidirectional
-- mode with NotifyAllowedEnergyTransfer). Power in W, energy in Wh, SoC in percent.

ALTER TABLE v2g_sessions DROP CONSTRAINT v2g_sessions_state_check;
ALTER TABLE v2g_sessions ADD CONSTRAINT v2g_sessions_state_check
    CHECK (state IN ('requested', 'negotiating', 'starting', 'discharging', 'stopping',
                     'completed', 'failed'));

DROP INDEX v2g_sessions_one_active_idx;
-- one discharge at a time per EVSE
CREATE UNIQUE INDEX v2g_sessions_one_active_idx ON v2g_sessions (station_id, evse_id)
    WHERE state IN ('requested', 'negotiating', 'starting', 'discharging', 'stopping');
CREATE INDEX v2g_sessions_active_idx ON v2g_sessions (created_at)
    WHERE state IN ('requested', 'negotiating', 'starting', 'discharging', 'stopping');

ALTER TABLE v2g_sessions
    -- the station's OCPP version when the session started: ocpp2.0.1 or ocpp2.1
    ADD COLUMN ocpp_version      text NOT NULL DEFAULT 'ocpp2.1'
                                 CHECK (ocpp_version IN ('ocpp2.0.1', 'ocpp2.1')),
    -- the discharge power commanded now (positive), W
    ADD COLUMN setpoint_w        numeric CHECK (setpoint_w >= 0),
    -- the last exported power the station reported, W
    ADD COLUMN last_power_w      numeric,
    -- Energy.Active.Export.Register: the session's first reading and the last one received;
    -- exported energy is their difference (never integrated from power samples)
    ADD COLUMN export_first_wh   numeric CHECK (export_first_wh >= 0),
    ADD COLUMN export_last_wh    numeric CHECK (export_last_wh >= 0),
    -- CentralSetpoint for OCPP 2.1; null for 2.0.1 (a negative TxProfile limit)
    ADD COLUMN operation_mode    text CHECK (length(operation_mode) BETWEEN 1 AND 50),
    -- Absolute or Dynamic (setpoint changes by UpdateDynamicSchedule)
    ADD COLUMN profile_kind      text CHECK (profile_kind IN ('Absolute', 'Dynamic')),
    -- the session's policy state the columns above do not hold (the policy's own JSON)
    ADD COLUMN policy_state      jsonb NOT NULL DEFAULT '{}'
                                 CHECK (jsonb_typeof(policy_state) = 'object');
