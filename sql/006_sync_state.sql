-- 006: per-account, per-stream state of incremental syncs and call budgets.

CREATE TABLE instagram.sync_state (
    account_id text NOT NULL,
    stream     text NOT NULL,
    state      jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, stream)
);
COMMENT ON TABLE instagram.sync_state IS
    'What a stream (e.g. ''media'', ''account_insights'', ''conversations'') has loaded so far: '
    'newest media timestamp, last insights day, calls spent... Never Graph API paging '
    'cursors (they die when items are deleted) and never URLs (paging.next holds the token).';

CREATE TRIGGER sync_state_touch_updated_at BEFORE UPDATE ON instagram.sync_state
    FOR EACH ROW EXECUTE FUNCTION instagram.touch_updated_at();
