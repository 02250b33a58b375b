-- The V2G optimizer's inputs (csms/storage/optimizer_inputs.py), read every few minutes for
-- every plugged-in EV: the newest capability of an EVSE, and the newest discharge session of a
-- transaction (its last SoC), each found by an index rather than a scan.

CREATE INDEX v2g_capabilities_evse_newest_idx
    ON v2g_capabilities (station_id, evse_id, updated_at DESC);
CREATE INDEX v2g_sessions_transaction_idx
    ON v2g_sessions (station_id, transaction_id, updated_at DESC)
    WHERE transaction_id IS NOT NULL;
