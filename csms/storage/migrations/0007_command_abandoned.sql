-- A command whose caller gave up (its deadline passed, or it went away) before the command
-- reached the front of the station's mailbox is never sent: audited as 'abandoned'.

ALTER TABLE commands DROP CONSTRAINT commands_status_check;
ALTER TABLE commands ADD CONSTRAINT commands_status_check
    CHECK (status IN ('pending', 'sent', 'responded', 'error', 'timeout', 'failed', 'abandoned'));
