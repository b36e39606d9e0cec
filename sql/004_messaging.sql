-- 004: Instagram Direct conversations and messages (read side).

CREATE TABLE instagram.conversations (
    conversation_id text PRIMARY KEY,
    account_id      text NOT NULL,
    updated_time    timestamptz,
    participant_ids text[] NOT NULL DEFAULT '{}',
    raw             jsonb NOT NULL DEFAULT '{}',
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN instagram.conversations.participant_ids IS 'IGSIDs of the participants, the account itself included.';

CREATE INDEX conversations_account_updated ON instagram.conversations (account_id, updated_time DESC);

CREATE TABLE instagram.messages (
    message_id      text PRIMARY KEY,
    conversation_id text NOT NULL,
    account_id      text NOT NULL,
    from_id         text,
    to_id           text,
    text            text,
    created_time    timestamptz,
    raw             jsonb NOT NULL DEFAULT '{}',
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN instagram.messages.to_id IS 'First recipient (Instagram Direct is one-to-one); all of them are in raw.';

CREATE INDEX messages_conversation_created ON instagram.messages (conversation_id, created_time);
CREATE INDEX messages_account_created ON instagram.messages (account_id, created_time DESC);
