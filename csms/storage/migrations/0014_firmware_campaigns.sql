-- Firmware campaigns: one update across many stations, a few at a time, halted when too many
-- fail, resumed after a node restart (csms/actors/firmware). A job records its campaign.

CREATE TABLE firmware_campaigns (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    state               text NOT NULL DEFAULT 'running'
                        CHECK (state IN ('running', 'paused', 'halted', 'completed', 'canceled')),
    location            text NOT NULL CHECK (length(location) BETWEEN 1 AND 2000),
    signing_certificate text,
    signature           text,
    -- stations already on it are skipped
    target_version      text CHECK (length(target_version) BETWEEN 1 AND 50),
    max_concurrent      integer NOT NULL CHECK (max_concurrent BETWEEN 1 AND 10000),
    -- halt once this many stations failed (none: never)
    failure_threshold   integer CHECK (failure_threshold >= 1),
    retries             integer CHECK (retries >= 0),
    retry_interval_s    integer CHECK (retry_interval_s >= 0),
    requested_by        text NOT NULL,
    reason              text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((signature IS NULL) = (signing_certificate IS NULL))
);

CREATE TABLE firmware_campaign_stations (
    campaign_id uuid NOT NULL REFERENCES firmware_campaigns (id) ON DELETE CASCADE,
    station_id  text NOT NULL,
    position    integer NOT NULL,
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'installed', 'failed', 'skipped')),
    job_id      uuid,
    reason      text CHECK (length(reason) BETWEEN 1 AND 200),
    PRIMARY KEY (campaign_id, station_id)
);
CREATE INDEX firmware_campaign_stations_order_idx
    ON firmware_campaign_stations (campaign_id, state, position);

ALTER TABLE firmware_updates
    ADD COLUMN campaign_id uuid REFERENCES firmware_campaigns (id) ON DELETE SET NULL;
CREATE INDEX firmware_updates_campaign_idx ON firmware_updates (campaign_id)
    WHERE campaign_id IS NOT NULL;
