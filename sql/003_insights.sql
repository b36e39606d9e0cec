-- 003: account and media insights, long format (one row per object, metric, period,
-- end_time, breakdown). A metric Meta adds or retires changes rows, never the schema.

CREATE TABLE instagram.account_insights (
    account_id  text NOT NULL,
    metric      text NOT NULL,
    period      text NOT NULL,
    end_time    timestamptz NOT NULL,
    breakdown   text NOT NULL DEFAULT '',
    value       numeric,
    metric_type text NOT NULL DEFAULT 'time_series' CHECK (metric_type IN ('time_series', 'total_value')),
    raw         jsonb NOT NULL DEFAULT '{}',
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, metric, period, end_time, breakdown)
);
COMMENT ON TABLE instagram.account_insights IS
    'GET /{ig-user-id}/insights in long format. time_series rows: end_time = the value''s '
    'end_time. total_value rows: end_time = the request''s until. The key has no metric_type: '
    'a metric loaded both ways for the same (period, end_time) keeps the last load.';
COMMENT ON COLUMN instagram.account_insights.breakdown IS
    '''''(empty) for the total; otherwise key=value per dimension, sorted by key, joined by &, '
    'values verbatim: ''age=25-34'', ''age=25-34&gender=F'', ''city=London, England''. '
    'raw keeps the exact breakdown object.';
COMMENT ON COLUMN instagram.account_insights.value IS 'NULL when Meta sent a non-numeric value (see raw).';

CREATE TABLE instagram.media_insights (
    media_id   text NOT NULL,
    account_id text,
    metric     text NOT NULL,
    period     text NOT NULL DEFAULT 'lifetime',
    -- Lifetime values have no end_time in the API; they are stored at the fixed time
    -- 'epoch' (1970-01-01T00:00:00Z) so the key stays non-null and each load overwrites
    -- the previous lifetime value (loaded_at says when it was read).
    end_time   timestamptz NOT NULL DEFAULT 'epoch',
    breakdown  text NOT NULL DEFAULT '',
    value      numeric,
    raw        jsonb NOT NULL DEFAULT '{}',
    loaded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (media_id, metric, period, end_time, breakdown),
    CONSTRAINT media_insights_lifetime_at_epoch CHECK (period <> 'lifetime' OR end_time = 'epoch')
);
COMMENT ON TABLE instagram.media_insights IS
    'GET /{media-id}/insights in long format. Lifetime metrics: end_time = epoch '
    '(1970-01-01T00:00:00Z). breakdown encoded as in account_insights (e.g. '
    '''story_navigation_action_type=TAP_FORWARD''), '''' for the total.';

CREATE INDEX media_insights_account ON instagram.media_insights (account_id, metric);
