-- 009: the message tag of an outbound DM.
--
-- A DM may carry Meta's HUMAN_AGENT tag: a person's reply up to 7 days after the
-- recipient's last message (24 hours without it). The tag is part of the recorded request,
-- so a retried or resumed send goes out the way it was asked for.

ALTER TABLE instagram.outbound_messages ADD COLUMN tag text;
COMMENT ON COLUMN instagram.outbound_messages.tag IS
    'Meta''s message tag (HUMAN_AGENT) or NULL for a plain reply within 24 hours. Only sent when the '
    'instagram_graph connection has human_agent_enabled (Meta granted the Human Agent feature).';
