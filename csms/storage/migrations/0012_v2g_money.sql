-- The money side of V2G: one compensation per discharge session (idempotent: unique on the
-- session), the priced intervals it was computed from (kept for audit), and its payout to the
-- owner's wallet (pending -> sent -> paid | failed, one idempotency key per compensation).
-- Money in BRL: totals to the centavo, interval values unrounded; energy in Wh.
--
-- 0004's v2g_compensations (one row per interval, its payout state on the row) was never
-- written by the node; it is replaced.

DROP TABLE v2g_compensations;

CREATE TABLE v2g_compensations (
    id                 uuid PRIMARY KEY,
    session_id         uuid NOT NULL UNIQUE REFERENCES v2g_sessions (id),
    station_id         text NOT NULL,
    user_id            text,
    -- the station group whose price source priced it ('default' for the rest)
    station_group      text NOT NULL CHECK (length(station_group) BETWEEN 1 AND 100),
    price_source       text NOT NULL CHECK (price_source IN ('regulated', 'pld', 'contract')),
    -- some price rested on the simulated PLD (CCEE unreachable)
    simulated          boolean NOT NULL,
    exported_wh        numeric NOT NULL CHECK (exported_wh >= 0),
    gross_brl          numeric(14, 2) NOT NULL CHECK (gross_brl >= 0),
    margin_brl         numeric(14, 2) NOT NULL CHECK (margin_brl >= 0),
    net_brl            numeric(14, 2) NOT NULL CHECK (net_brl >= 0 AND net_brl = gross_brl - margin_brl),
    margin_percent     numeric NOT NULL CHECK (margin_percent BETWEEN 0 AND 100),
    margin_brl_per_kwh numeric NOT NULL CHECK (margin_brl_per_kwh >= 0),
    session_started_at timestamptz,
    session_ended_at   timestamptz NOT NULL,
    computed_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX v2g_compensations_user_idx ON v2g_compensations (user_id, session_ended_at);
CREATE INDEX v2g_compensations_station_idx ON v2g_compensations (station_id, session_ended_at);
CREATE INDEX v2g_compensations_ended_idx ON v2g_compensations (session_ended_at);

CREATE TABLE v2g_compensation_intervals (
    compensation_id   uuid NOT NULL REFERENCES v2g_compensations (id) ON DELETE CASCADE,
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    energy_wh         numeric NOT NULL CHECK (energy_wh >= 0),
    price_brl_per_kwh numeric NOT NULL CHECK (price_brl_per_kwh >= 0),
    gross_brl         numeric NOT NULL CHECK (gross_brl >= 0),
    -- the Tarifa Branca post and the PLD behind the price, for the auditors
    post              text NOT NULL CHECK (post IN ('fora_ponta', 'intermediario', 'ponta')),
    pld_brl_per_mwh   numeric NOT NULL,
    pld_source        text NOT NULL CHECK (pld_source IN ('ccee', 'simulated')),
    PRIMARY KEY (compensation_id, starts_at),
    CHECK (ends_at > starts_at)
);

CREATE TABLE v2g_payouts (
    compensation_id  uuid PRIMARY KEY REFERENCES v2g_compensations (id),
    user_id          text,
    -- the wallet at the time of the first attempt (users.wallet_id)
    wallet_id        text,
    amount_brl       numeric(14, 2) NOT NULL CHECK (amount_brl > 0),
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sent', 'paid', 'failed')),
    -- sent with every attempt, so the wallet pays a compensation once
    idempotency_key  text NOT NULL UNIQUE,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    paid_at          timestamptz,
    wallet_reference text,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'paid') = (paid_at IS NOT NULL))
);
CREATE INDEX v2g_payouts_due_idx ON v2g_payouts (next_attempt_at)
    WHERE state IN ('pending', 'sent');
CREATE INDEX v2g_payouts_user_idx ON v2g_payouts (user_id, created_at);
