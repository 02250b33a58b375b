-- Firmware campaigns: an optional daily window (UTC times of day) outside which the campaign
-- starts no job (22:00-05:00 spans midnight); jobs already running go on to their end.

ALTER TABLE firmware_campaigns
    ADD COLUMN window_start time,
    ADD COLUMN window_end   time,
    ADD CONSTRAINT firmware_campaigns_window_check CHECK (
        (window_start IS NULL) = (window_end IS NULL)
        AND (window_start IS NULL OR window_start <> window_end)
    );
