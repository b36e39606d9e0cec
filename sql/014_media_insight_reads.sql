-- 014: when each media's insights were last read, by the media-insights stream.
--
-- read_at: the last read of its common metrics (a page of media per call, or one call per
-- media), by the run's clock. Which media are due again (older ones once stale_days old)
-- is decided on it: media_insights.loaded_at moves only when a value changes, so a media
-- whose numbers have settled would otherwise look stale on every run.
-- specific_age_days: the media's age in whole days at its last type-specific read (FEED:
-- profile_visits, follows...; REELS: watch time), which costs one call per media: read at
-- most once per day of age while young, and once when settled
-- (instagram_graph.sync.media_insights).

CREATE TABLE instagram.media_insight_reads (
    media_id          text        PRIMARY KEY,
    account_id        text        NOT NULL,
    read_at           timestamptz,
    specific_age_days integer     CHECK (specific_age_days >= 0),
    specific_read_at  timestamptz
);

COMMENT ON TABLE instagram.media_insight_reads IS
    'Per media: when the media-insights stream last read its common metrics (read_at, run clock), and its age in '
    'whole days at its last type-specific read. Deleting a row only makes the media due again.';
CREATE INDEX media_insight_reads_account ON instagram.media_insight_reads (account_id);

-- Media read before this table existed: their last read is their last loaded value.
INSERT INTO instagram.media_insight_reads (media_id, account_id, read_at)
SELECT i.media_id, m.account_id, max(i.loaded_at)
  FROM instagram.media_insights i
  JOIN instagram.media m ON m.media_id = i.media_id
 GROUP BY i.media_id, m.account_id;
