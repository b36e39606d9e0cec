-- 014: when each media's type-specific insights were last read.
--
-- Feed and reels media get their common metrics (reach, views, likes...) by field
-- expansion, a page of media per call. The metrics only some kinds have (FEED:
-- profile_visits, follows, profile_activity; REELS: the watch-time metrics) cost one call
-- per media, so the media-insights stream reads them while a media is young and once
-- when it has settled, then never again (instagram_graph.sync.media_insights). This table
-- is its memory: the media's age in whole days at its last such read, by the run's clock
-- (so a backfill or a simulated clock keeps the windows exact).

CREATE TABLE instagram.media_specific_reads (
    media_id   text        PRIMARY KEY,
    account_id text        NOT NULL,
    age_days   integer     NOT NULL CHECK (age_days >= 0),
    read_at    timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE instagram.media_specific_reads IS
    'Per media: its age in whole days when its type-specific insights were last read (young window: at most once '
    'per day of age; settled window: once). Deleting a row only makes the media due again.';
CREATE INDEX media_specific_reads_account ON instagram.media_specific_reads (account_id);
