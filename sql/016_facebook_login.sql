-- 016: accounts reached with Facebook Login (graph.facebook.com, through a Facebook Page),
-- beside Instagram Login (graph.instagram.com).
--
-- A Facebook Login account records its Page and the Facebook user who manages it; its
-- token in instagram.oauth_tokens is the Page token (made from a long-lived user token, it
-- does not expire). The user's own long-lived token (60 days) is kept, encrypted, in
-- instagram.facebook_users: it is what renews (fb_exchange_token) and revokes the access of
-- every Page of that user. Written by `instagram-graph accounts discover`.

ALTER TABLE instagram.accounts
    ADD COLUMN login text NOT NULL DEFAULT 'instagram' CHECK (login IN ('instagram', 'facebook')),
    ADD COLUMN page_id text CHECK (page_id <> ''),
    ADD COLUMN facebook_user_id text CHECK (facebook_user_id <> ''),
    ADD CONSTRAINT accounts_facebook_login_has_a_page CHECK ((login = 'facebook') = (page_id IS NOT NULL));
COMMENT ON COLUMN instagram.accounts.login IS
    'instagram: Instagram Login (graph.instagram.com, an Instagram user token). facebook: Facebook Login '
    '(graph.facebook.com, the Page token; messaging goes through the Page).';
COMMENT ON COLUMN instagram.accounts.page_id IS 'Facebook Login: the Facebook Page the account is linked to.';
COMMENT ON COLUMN instagram.accounts.facebook_user_id IS
    'Facebook Login: the Facebook user whose login gave the Page token (instagram.facebook_users).';

CREATE TABLE instagram.facebook_users (
    user_id           text PRIMARY KEY CHECK (user_id <> ''),
    name              text,
    -- A Fernet token, as in instagram.oauth_tokens: never the plaintext user token.
    ciphertext        bytea NOT NULL
                      CHECK (substring(ciphertext FROM 1 FOR 6) = '\x674141414141'::bytea),
    issued_at         timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz,
    status            text NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'expired', 'invalid', 'revoked')),
    last_error        text,
    last_refreshed_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE instagram.facebook_users IS
    'Facebook users whose login connected Facebook Login accounts: their long-lived user token, encrypted '
    '(read and written through instagram_graph.token_store.TokenStore). Renewed by the token refresh DAG.';

CREATE TRIGGER facebook_users_touch_updated_at BEFORE UPDATE ON instagram.facebook_users
    FOR EACH ROW EXECUTE FUNCTION instagram.touch_updated_at();
