-- Firmware jobs as their actors keep them (csms/actors/firmware): an id for the API, why a job
-- ended, the version the station booted with, when it last reported (the timeout counts from
-- it), and each status the station reported, in order.

ALTER TABLE firmware_updates
    ADD COLUMN id               uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    ADD COLUMN reason           text CHECK (length(reason) BETWEEN 1 AND 50),
    ADD COLUMN firmware_version text CHECK (length(firmware_version) <= 50),
    ADD COLUMN last_activity_at timestamptz,
    -- the job's view: requested, running, rebooting, then completed / failed / canceled
    ADD COLUMN phase            text NOT NULL DEFAULT 'requested'
                                CHECK (phase IN ('requested', 'running', 'rebooting',
                                                 'completed', 'failed', 'canceled')),
    ADD COLUMN command_id       text;

-- a job ends Canceled by an operator, or NotSent when UpdateFirmware could not be delivered
ALTER TABLE firmware_updates DROP CONSTRAINT firmware_updates_status_check;
ALTER TABLE firmware_updates ADD CONSTRAINT firmware_updates_status_check CHECK (status IN (
    'Requested', 'Accepted', 'Rejected', 'AcceptedCanceled', 'InvalidCertificate',
    'RevokedCertificate', 'Downloaded', 'DownloadFailed', 'Downloading', 'DownloadScheduled',
    'DownloadPaused', 'Idle', 'InstallationFailed', 'Installing', 'Installed',
    'InstallRebooting', 'InstallScheduled', 'InstallVerificationFailed', 'InvalidSignature',
    'SignatureVerified', 'TimedOut', 'Replaced', 'Canceled', 'NotSent'));

CREATE INDEX firmware_updates_created_idx ON firmware_updates (created_at DESC);

CREATE TABLE firmware_status_history (
    job_id  uuid NOT NULL REFERENCES firmware_updates (id) ON DELETE CASCADE,
    seq     bigserial,
    status  text NOT NULL CHECK (length(status) BETWEEN 1 AND 50),
    at      timestamptz NOT NULL,
    PRIMARY KEY (job_id, seq)
);
