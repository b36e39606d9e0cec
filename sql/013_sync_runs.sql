-- 013: what each sync of one stream for one account did, one row per Airflow run.
--
-- Written by InstagramSyncOperator when a stream ends (instagram_graph.sync_record): a
-- success with its calls and rows, or a failure with its error class and the catalogue's
-- advice. A retry of the same run overwrites its row (try_number says which try wrote it).
-- Read by the "Instagram accounts" page: the latest success and failure per account and
-- stream. Never a token, a URL or a raw error message: messages can quote what Meta sent
-- back; the class and the advice say what happened and what to do.

CREATE TABLE instagram.sync_runs (
    account_id    text        NOT NULL,
    stream        text        NOT NULL,
    run_id        text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('success', 'failed')),
    calls         integer     NOT NULL DEFAULT 0 CHECK (calls >= 0),
    rows          bigint      NOT NULL DEFAULT 0 CHECK (rows >= 0),
    rows_by_table jsonb       NOT NULL DEFAULT '{}',
    error_class   text,
    advice        text,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    try_number    integer,
    PRIMARY KEY (account_id, stream, run_id),
    CHECK (finished_at >= started_at),
    CHECK ((status = 'failed') = (error_class IS NOT NULL))
);

COMMENT ON TABLE instagram.sync_runs IS
    'One row per (account, stream, Airflow run): how the latest try of that run ended. A retry overwrites the '
    'row. No token, URL or error message: the error class and the catalogue''s advice only.';
COMMENT ON COLUMN instagram.sync_runs.run_id IS
    'The Airflow run id (manual__..., scheduled__..., backfill__...); adhoc__<start> outside a DAG run.';
COMMENT ON COLUMN instagram.sync_runs.calls IS
    'Graph API calls the try made (for a failure: those made before it failed).';
COMMENT ON COLUMN instagram.sync_runs.rows IS 'Rows written by the stream, all tables together (0 for a failure).';
COMMENT ON COLUMN instagram.sync_runs.rows_by_table IS
    'Rows written per warehouse table, e.g. {"media": 12, "media_children": 3}.';
COMMENT ON COLUMN instagram.sync_runs.error_class IS
    'The failure''s class (TokenExpiredError, TransientError ...); NULL for a success.';
COMMENT ON COLUMN instagram.sync_runs.advice IS
    'What a person does about it, from the error catalogue; NULL when the error is not a Graph API one.';
COMMENT ON COLUMN instagram.sync_runs.started_at IS
    'When the try started (the worker''s clock); finished_at - started_at is its duration.';
COMMENT ON COLUMN instagram.sync_runs.try_number IS 'The Airflow try that wrote the row (1 for the first).';

-- The latest success and the latest failure of each account and stream.
CREATE INDEX sync_runs_latest ON instagram.sync_runs (account_id, stream, status, finished_at DESC);
