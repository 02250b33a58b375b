-- What an OCPP 2.1 station said of its V2X support (V2XChargingCtrlr, read with GetVariables
-- after each BootNotification), so that a node that restarts knows it before the next boot.
-- A NULL enabled / operation_modes: the station did not report that variable (unknown).

CREATE TABLE v2x_station_support (
    station_id      text PRIMARY KEY REFERENCES stations (id) ON DELETE CASCADE,
    enabled         boolean,
    operation_modes text[],
    -- the GetVariables results as the station sent them (wire JSON)
    raw             jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(raw) = 'array'),
    read_at         timestamptz NOT NULL
);
