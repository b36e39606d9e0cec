-- 008: objects that vanish at Meta (deleted posts and comments) and metrics Meta refuses.
--
-- Rows are never deleted: a media or comment Meta says is gone (100/33 on a read of it,
-- or missing from a walk that covered its place) keeps its row, marked by deleted_at, and
-- is never asked about again. Seeing it again (Meta restores some) clears the mark.

ALTER TABLE instagram.media ADD COLUMN deleted_at timestamptz;
COMMENT ON COLUMN instagram.media.deleted_at IS
    'When the sync found the media gone at Meta (deleted, or out of reach); NULL while it exists. '
    'Stories past their 24 hours are NOT marked: they expired, they were not deleted.';
ALTER TABLE instagram.comments ADD COLUMN deleted_at timestamptz;
COMMENT ON COLUMN instagram.comments.deleted_at IS
    'When the sync found the comment gone (missing from a full read of its media''s comments, '
    'or its media deleted); NULL while it exists.';

CREATE INDEX media_account_live ON instagram.media (account_id, "timestamp" DESC) WHERE deleted_at IS NULL;

-- One row per kind of media and metric Meta refused ("metric X is not supported for this
-- media type"). The media-insights sync stops asking for that metric on that kind of media
-- and asks again once last_seen_at is older than its retry period (default 7 days).
CREATE TABLE instagram.metric_refusals (
    media_product_type text NOT NULL,
    media_type         text NOT NULL,
    metric             text NOT NULL,
    refusal            text NOT NULL,
    first_seen_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (media_product_type, media_type, metric)
);
COMMENT ON TABLE instagram.metric_refusals IS
    'Media metrics Meta refused, by media_product_type and media_type ('''' when Meta gave none). '
    'refusal is Meta''s message (no token). Delete a row to ask again at once.';
