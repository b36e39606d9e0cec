-- 012: an unknown outcome stays unknown until it can no longer change.
--
-- When the answer to a publish or a send is lost (a timeout, a reset, an HTTP 5xx, a worker
-- gone mid-request), the request may still be taking effect at Meta: a lookup made at once
-- can miss it, and a resend after that lookup would post or send twice. The row stays in
-- 'publishing' / 'sending' with the time the answer was found lost; the lookup that decides
-- whether the request took effect (and any resend) waits until settle_seconds (a setting of
-- the instagram_graph connection: the request timeout plus a margin) after that time. A
-- task retry or a re-trigger of the same key reads this time and waits too.

ALTER TABLE instagram.publish_jobs ADD COLUMN answer_lost_at timestamptz;
COMMENT ON COLUMN instagram.publish_jobs.answer_lost_at IS
    'When the answer to the latest media_publish was found lost (state publishing): whether it took effect '
    'is looked up only settle_seconds after this. NULL while a request is in flight or when its answer came; '
    'kept once the lookup decided.';

ALTER TABLE instagram.outbound_messages ADD COLUMN answer_lost_at timestamptz;
COMMENT ON COLUMN instagram.outbound_messages.answer_lost_at IS
    'When the answer to the latest send was found lost (state sending): whether the message went out is '
    'looked up only settle_seconds after this. NULL while a request is in flight or when its answer came; '
    'kept once the lookup decided.';
