-- 007: what the exactly-once checks of publishing and DMs need besides 005's tables.
--
-- A publish or send is recorded as started (state 'publishing' / 'sending' and the time
-- below) and committed BEFORE the request goes out. A retry that finds that state does
-- not know whether Meta acted, so it looks first: the container's status_code, or the
-- conversation for a message newer than this time. Unique media and message ids stop two
-- jobs from claiming the same post or message when they are matched after a lost answer.

ALTER TABLE instagram.publish_jobs
    ADD COLUMN publish_started_at timestamptz;
COMMENT ON COLUMN instagram.publish_jobs.publish_started_at IS
    'When the latest media_publish request was about to be sent (written before sending).';

CREATE UNIQUE INDEX publish_jobs_media_id ON instagram.publish_jobs (media_id)
    WHERE media_id IS NOT NULL;

ALTER TABLE instagram.outbound_messages
    ADD COLUMN send_started_at timestamptz,
    ADD COLUMN conversation_id text;
COMMENT ON COLUMN instagram.outbound_messages.send_started_at IS
    'When the latest send request was about to be sent (written before sending).';
COMMENT ON COLUMN instagram.outbound_messages.conversation_id IS
    'The conversation the message was found in when a lost answer was checked; else NULL.';

CREATE UNIQUE INDEX outbound_messages_message_id ON instagram.outbound_messages (message_id)
    WHERE message_id IS NOT NULL;
