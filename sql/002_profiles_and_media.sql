-- 002: profiles (latest + history), media (feed, reels and stories), carousel children, comments.
--
-- Natural keys are Graph API ids, so every load is an idempotent upsert. Every entity
-- table keeps the whole API object in `raw` beside the typed columns: a field Meta adds
-- is never lost, and a typed column can be back-filled from raw later.

CREATE TABLE instagram.profiles (
    account_id          text PRIMARY KEY,
    username            text,
    name                text,
    biography           text,
    website             text,
    profile_picture_url text,
    followers_count     bigint,
    follows_count       bigint,
    media_count         bigint,
    raw                 jsonb NOT NULL DEFAULT '{}',
    fetched_at          timestamptz NOT NULL DEFAULT now(),
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE instagram.profiles IS 'Latest IG User object per account (see profile_snapshots for history).';

CREATE TABLE instagram.profile_snapshots (
    account_id      text NOT NULL,
    captured_at     timestamptz NOT NULL,
    followers_count bigint,
    follows_count   bigint,
    media_count     bigint,
    raw             jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (account_id, captured_at)
);
COMMENT ON TABLE instagram.profile_snapshots IS 'One row per profile fetch: follower and media counts over time.';

CREATE TABLE instagram.media (
    media_id           text PRIMARY KEY,
    account_id         text NOT NULL,
    username           text,
    caption            text,
    media_type         text,
    media_product_type text,
    media_url          text,
    permalink          text,
    thumbnail_url      text,
    shortcode          text,
    "timestamp"        timestamptz,
    like_count         bigint,
    comments_count     bigint,
    is_comment_enabled boolean,
    raw                jsonb NOT NULL DEFAULT '{}',
    first_seen_at      timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE instagram.media IS
    'IG Media: feed posts, reels, carousels AND stories. Stories live here with '
    'media_product_type = ''STORY'' (from the /stories edge; Meta serves them for 24 h, '
    'the rows stay). Carousel slides are in media_children.';
COMMENT ON COLUMN instagram.media.media_url IS 'May be NULL (e.g. copyrighted media); Meta''s URLs expire.';

CREATE INDEX media_account_timestamp ON instagram.media (account_id, "timestamp" DESC);
CREATE INDEX media_account_stories ON instagram.media (account_id, "timestamp" DESC)
    WHERE media_product_type = 'STORY';

CREATE TABLE instagram.media_children (
    child_id      text PRIMARY KEY,
    -- Deferred, so a load may write children before their parent in one transaction.
    parent_id     text NOT NULL REFERENCES instagram.media (media_id)
                  ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    position      integer NOT NULL CHECK (position >= 0),
    media_type    text,
    media_url     text,
    thumbnail_url text,
    "timestamp"   timestamptz,
    raw           jsonb NOT NULL DEFAULT '{}',
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE instagram.media_children IS
    'Carousel slides, from field expansion children{...} on the parent. position is the '
    '0-based index in the parent''s children list. Children have no insights.';

CREATE INDEX media_children_parent ON instagram.media_children (parent_id, position);

CREATE TABLE instagram.comments (
    comment_id        text PRIMARY KEY,
    media_id          text NOT NULL,
    account_id        text,
    parent_comment_id text,
    username          text,
    text              text,
    like_count        bigint,
    hidden            boolean,
    "timestamp"       timestamptz,
    raw               jsonb NOT NULL DEFAULT '{}',
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN instagram.comments.parent_comment_id IS 'NULL for a top-level comment; the comment replied to otherwise.';
COMMENT ON COLUMN instagram.comments.account_id IS 'The account owning the media (not the commenter).';

CREATE INDEX comments_media_timestamp ON instagram.comments (media_id, "timestamp");
CREATE INDEX comments_parent ON instagram.comments (parent_comment_id) WHERE parent_comment_id IS NOT NULL;
