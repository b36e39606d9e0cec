-- 001: the schema, accounts, and their OAuth tokens (ciphertext only).
--
-- Applied by instagram_graph.migrations (`instagram-graph migrate`), which records it in
-- instagram.schema_migrations. Never edit an applied file: add a new numbered one.

CREATE SCHEMA IF NOT EXISTS instagram;

-- Sets updated_at on UPDATE unless the statement set it itself. Used by the state tables
-- (accounts, tokens, jobs, sync state), where every update is a real change.
CREATE FUNCTION instagram.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TABLE instagram.accounts (
    account_id      text PRIMARY KEY CHECK (account_id <> ''),
    username        text,
    display_name    text,
    enabled         boolean NOT NULL DEFAULT true,
    disabled_reason text,
    graph_conn_id   text NOT NULL DEFAULT 'instagram_graph_default',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE instagram.accounts IS
    'Instagram professional accounts this project syncs for. account_id is the IG user id. '
    'Scheduled syncs map over the enabled ones.';
COMMENT ON COLUMN instagram.accounts.graph_conn_id IS
    'Airflow connection (type instagram_graph) used for this account''s calls.';

CREATE TRIGGER accounts_touch_updated_at BEFORE UPDATE ON instagram.accounts
    FOR EACH ROW EXECUTE FUNCTION instagram.touch_updated_at();

CREATE TABLE instagram.oauth_tokens (
    account_id        text PRIMARY KEY REFERENCES instagram.accounts (account_id) ON DELETE CASCADE,
    -- A Fernet token (base64url text as bytes) from instagram_graph.tokens.TokenStore.
    -- Every Fernet token starts with 'gAAAAA' (version byte 0x80 + timestamp): the check
    -- refuses a plaintext access token written here by mistake.
    ciphertext        bytea NOT NULL
                      CHECK (substring(ciphertext FROM 1 FOR 6) = '\x674141414141'::bytea),
    token_type        text NOT NULL DEFAULT 'bearer',
    scopes            text[] NOT NULL DEFAULT '{}',
    issued_at         timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz,
    status            text NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'expired', 'invalid', 'revoked')),
    last_error        text,
    last_refreshed_at timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE instagram.oauth_tokens IS
    'Encrypted access tokens, one per account. Ciphertext only: read and write through '
    'instagram_graph.tokens.TokenStore (keys in env INSTAGRAM_TOKEN_KEYS).';
COMMENT ON COLUMN instagram.oauth_tokens.expires_at IS 'NULL means the token does not expire.';
COMMENT ON COLUMN instagram.oauth_tokens.issued_at IS
    'When this token was obtained; Meta refreshes only tokens at least 24 h old.';

CREATE INDEX oauth_tokens_active_expiry ON instagram.oauth_tokens (expires_at)
    WHERE status = 'active';

CREATE TRIGGER oauth_tokens_touch_updated_at BEFORE UPDATE ON instagram.oauth_tokens
    FOR EACH ROW EXECUTE FUNCTION instagram.touch_updated_at();
