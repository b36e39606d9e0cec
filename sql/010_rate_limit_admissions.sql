-- 010: the durable record of rate-limit slots the limiter admitted.
--
-- The limiter's sliding windows live in Redis. When Redis loses them (a restart without
-- persistence, an eviction, a failover to an empty replica) the limiter rebuilds an
-- account's window from these rows instead of trusting an empty one. One row per account,
-- budget and minute (Redis's clock) with a count, upserted once per lease of slots (a lease
-- takes up to slot_lease_max slots in one Redis round trip), before the slots are used: the
-- record is never behind what Redis admitted. Rows older than a few windows are pruned by
-- the writers themselves (see instagram_graph.admission_record).

CREATE TABLE instagram.rate_limit_admissions (
    account_id text        NOT NULL,
    budget     text        NOT NULL,
    minute     timestamptz NOT NULL,
    calls      integer     NOT NULL CHECK (calls > 0),
    PRIMARY KEY (account_id, budget, minute)
);
COMMENT ON TABLE instagram.rate_limit_admissions IS
    'Rate-limit slots admitted per account, budget (platform) and minute, by Redis''s clock. The limiter '
    'rebuilds a window Redis lost from these rows, each minute''s calls counted at the end of the minute. '
    'Pruned after a few windows. Slots given back unused stay counted (a rebuild errs on the safe side).';
