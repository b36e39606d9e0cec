-- 011: the audit trail of Graph API calls: one row per call attempt.
--
-- Written by the hook in batches (COPY, every 500 attempts or 5 seconds and when the hook
-- closes), so a task pays one round trip per batch, not one per call. Partitioned by UTC
-- day: keeping `audit_retention_days` days costs one DROP TABLE per day, never a DELETE of
-- millions of rows. Partitions are made by the writers as days begin
-- (instagram.api_calls_partition) and dropped by them once a day (instagram.api_calls_prune).
-- Never a token, an appsecret_proof or a query string: the path is stored without its query.

CREATE TABLE instagram.api_calls (
    called_at   timestamptz NOT NULL,
    account_id  text        NOT NULL,
    method      text        NOT NULL,
    path        text        NOT NULL CHECK (position('?' IN path) = 0),
    status      smallint,
    duration_ms real        NOT NULL,
    attempt     smallint    NOT NULL,
    fbtrace_id  text,
    error       text,
    dag_id      text,
    run_id      text,
    task_id     text,
    map_index   integer,
    try_number  integer
) PARTITION BY RANGE (called_at);

COMMENT ON TABLE instagram.api_calls IS
    'One row per Graph API call attempt (retries are rows of their own), kept audit_retention_days days '
    '(day partitions api_calls_YYYYMMDD, UTC). dag_id, run_id, task_id, map_index and try_number name the '
    'Airflow task try that made the call (NULL outside Airflow, e.g. the CLI or a trigger).';
COMMENT ON COLUMN instagram.api_calls.called_at IS 'When the request was sent (the worker''s clock).';
COMMENT ON COLUMN instagram.api_calls.path IS 'The URL path as sent (e.g. /v24.0/17841400000000000/media), never the query string.';
COMMENT ON COLUMN instagram.api_calls.status IS 'HTTP status of the answer; NULL when none came (timeout, reset).';
COMMENT ON COLUMN instagram.api_calls.duration_ms IS 'From sending the request to its answer (or to giving up on it).';
COMMENT ON COLUMN instagram.api_calls.attempt IS 'Attempt number of the call, 1 for the first (the hook retries transient failures).';
COMMENT ON COLUMN instagram.api_calls.fbtrace_id IS 'Meta''s trace id: the x-fb-trace-id header, or the error''s fbtrace_id. Quote it to Meta support.';
COMMENT ON COLUMN instagram.api_calls.error IS 'The error class the attempt ended in (TransientError, RateLimitError ...); NULL on success.';
COMMENT ON COLUMN instagram.api_calls.map_index IS 'The mapped task''s index (-1 for a task that is not mapped).';

CREATE INDEX api_calls_account ON instagram.api_calls (account_id, called_at);
CREATE INDEX api_calls_run ON instagram.api_calls (run_id, dag_id);

-- The partition of one UTC day, made when missing. Two writers may race to make it: the
-- loser finds it made.
CREATE FUNCTION instagram.api_calls_partition(day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    name text := 'api_calls_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(format('instagram.%I', name)) IS NULL THEN
        PERFORM set_config('lock_timeout', '2s', true);
        EXECUTE format(
            'CREATE TABLE instagram.%I PARTITION OF instagram.api_calls FOR VALUES FROM (%L) TO (%L)',
            name, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
    END IF;
EXCEPTION WHEN duplicate_table OR unique_violation THEN
    NULL;
END $$;
COMMENT ON FUNCTION instagram.api_calls_partition(date) IS
    'Makes the api_calls partition of one UTC day if it is missing.';

-- Drops the day partitions older than keep_days days (today, UTC, is day 0). Returns how
-- many were dropped; NULL when a lock could not be had within 2 s (someone is reading the
-- trail: a later writer drops them).
CREATE FUNCTION instagram.api_calls_prune(keep_days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part record;
    dropped integer := 0;
    cutoff date := (now() AT TIME ZONE 'UTC')::date - keep_days;
BEGIN
    PERFORM set_config('lock_timeout', '2s', true);
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'instagram.api_calls'::regclass AND c.relname ~ '^api_calls_[0-9]{8}$'
          AND to_date(substr(c.relname, 11), 'YYYYMMDD') < cutoff
    LOOP
        EXECUTE format('DROP TABLE instagram.%I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
EXCEPTION WHEN lock_not_available THEN
    RETURN NULL;
END $$;
COMMENT ON FUNCTION instagram.api_calls_prune(integer) IS
    'Drops api_calls day partitions older than keep_days days (UTC); the writers call it once a day.';
