-- V2G users: a user (display name, wallet) owns id tokens and one set of discharge preferences;
-- a station may be declared bidirectional (OCPP 2.0.1 has no V2X device model, see docs/V2G.md).

CREATE TABLE users (
    user_id    text PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 100),
    -- the display name
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- where compensation is paid to
    wallet_id  text CHECK (length(wallet_id) BETWEEN 1 AND 255),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Users already named by id tokens or preferences become rows, so the foreign keys hold.
INSERT INTO users (user_id, name, wallet_id)
SELECT user_id, user_id, max(wallet_id) FROM (
    SELECT user_id, NULL::text AS wallet_id FROM id_tokens
    WHERE user_id IS NOT NULL AND length(user_id) BETWEEN 1 AND 100
    UNION ALL
    SELECT user_id, nullif(wallet_id, '') FROM v2g_preferences
) known
GROUP BY user_id;
UPDATE id_tokens SET user_id = NULL WHERE user_id IS NOT NULL AND length(user_id) NOT BETWEEN 1 AND 100;

ALTER TABLE id_tokens ADD CONSTRAINT id_tokens_user_fk
    FOREIGN KEY (user_id) REFERENCES users (user_id) ON DELETE SET NULL;
CREATE INDEX id_tokens_user_idx ON id_tokens (user_id) WHERE user_id IS NOT NULL;

-- Preferences: the wallet moved to users; the floor is at least 10 %; windows name their days
-- ("Mon".."Sun", local time of setting v2g.time_zone; end <= start crosses midnight); the
-- departure need and default departure time are new.
ALTER TABLE v2g_preferences DROP COLUMN wallet_id;
UPDATE v2g_preferences SET min_soc_percent = greatest(min_soc_percent, 10);
UPDATE v2g_preferences p SET allowed_windows = (
    SELECT coalesce(jsonb_agg(
        CASE WHEN jsonb_typeof(w -> 'days') = 'array' THEN jsonb_set(w, '{days}', (
            SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(d) = 'number'
                THEN to_jsonb((ARRAY['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'])[
                    (d #>> '{}')::int + 1])
                ELSE d END ORDER BY n), '[]'::jsonb)
            FROM jsonb_array_elements(w -> 'days') WITH ORDINALITY AS days (d, n)))
        ELSE w END ORDER BY i), '[]'::jsonb)
    FROM jsonb_array_elements(p.allowed_windows) WITH ORDINALITY AS windows (w, i)
);
ALTER TABLE v2g_preferences DROP CONSTRAINT v2g_preferences_min_soc_percent_check;
ALTER TABLE v2g_preferences ADD CONSTRAINT v2g_preferences_min_soc_percent_check
    CHECK (min_soc_percent BETWEEN 10 AND 100);
ALTER TABLE v2g_preferences
    ADD COLUMN departure_energy_wh numeric CHECK (departure_energy_wh >= 0),
    ADD COLUMN departure_time      time,
    ADD COLUMN created_at          timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT v2g_preferences_user_fk
        FOREIGN KEY (user_id) REFERENCES users (user_id) ON DELETE CASCADE;
COMMENT ON COLUMN v2g_preferences.allowed_windows IS
    '[{"days": ["Mon".."Sun"], "start": "HH:MM", "end": "HH:MM"}] local time; [] means any time';

-- OCPP 2.0.1 convention: a station registered as bidirectional may discharge an EV whose
-- NotifyEVChargingNeeds carries the org.csms.v2g customData.
ALTER TABLE stations ADD COLUMN bidirectional boolean NOT NULL DEFAULT false;
