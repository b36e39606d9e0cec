"""
### Instagram: send one direct message (triggered)

Sends one **text DM** from an account to a person who wrote to it, exactly once. Trigger
it from the UI form, the REST API or another DAG; there is no schedule.

Instagram allows replies only within **24 hours** of the person's last message (**7 days**
with the `HUMAN_AGENT` tag, for a person's reply, once Meta granted the app the Human
Agent feature and the connection says so): outside that window the run fails at once,
without retries, and says so. The text is limited in **bytes** of UTF-8, not characters (the
Text field gives the limit), and may hold no control characters (line breaks are fine); bad
input (also ids that are not digits) fails the run at once, without retries, naming the field. Every message is
recorded in **`instagram.outbound_messages`** (one row per idempotency key: state,
message id, errors).

**Exactly once**: the idempotency key (default: `instagram_send_message:<run id>`) stands
for one message. If the answer to a send is lost, the message may still arrive: the task
defers until the connection's `settle_seconds` have passed (default: the request timeout +
30 s), then looks for the message in the conversation and sends again only if it is not
there. Retries and re-triggers of the key wait out the same time. The same key with a
different text or recipient is refused.

Guide: `docs/publishing-and-messaging.md`.
"""

from airflow.sdk import DAG, Param

from instagram_graph.jobs import MAX_IDEMPOTENCY_KEY_LENGTH
from instagram_graph.messaging import HUMAN_AGENT, MESSAGE_MAX_BYTES
from instagram_graph.operators.first_tasks import graph_api_pool_ready
from instagram_graph.operators.messaging import InstagramSendMessageOperator
from instagram_graph.operators.policy import GRAPH_TASK_DEFAULTS
from instagram_graph.validation import INSTAGRAM_ID_MAX_DIGITS

# The form checks types, choices and lengths only; "digits only" is written in the fields'
# descriptions and checked by the task before any call, whose refusal names the field and the
# fix (a jsonschema `pattern` would show the user a raw regex).

with DAG(
    dag_id="instagram_send_message",
    schedule=None,
    catchup=False,
    tags=["instagram", "messaging", "triggered"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={
        "account_id": Param(
            type="string", minLength=1, maxLength=INSTAGRAM_ID_MAX_DIGITS, title="Account",
            description="Instagram user id that sends, digits only (`instagram-graph accounts list`).",
        ),
        "recipient_id": Param(
            type="string", minLength=1, maxLength=INSTAGRAM_ID_MAX_DIGITS, title="Recipient",
            description="The person's Instagram-scoped id (IGSID), digits only, e.g. from instagram.messages.from_id.",
        ),
        "text": Param(
            type="string", minLength=1, maxLength=MESSAGE_MAX_BYTES, title="Text", format="multiline",
            description=f"At most {MESSAGE_MAX_BYTES} bytes in UTF-8 (an emoji takes 4, an accented letter 2); "
            "checked by the task.",
        ),
        "tag": Param(
            None, type=["null", "string"], enum=[None, HUMAN_AGENT], title="Message tag",
            values_display={None: "None: a reply within 24 hours",
                            HUMAN_AGENT: "HUMAN_AGENT: a person's reply, up to 7 days"},
            description="HUMAN_AGENT only when Meta granted the app the Human Agent feature and the connection's "
            "human_agent_enabled is true.",
        ),
        "idempotency_key": Param(
            None, type=["null", "string"], maxLength=MAX_IDEMPOTENCY_KEY_LENGTH, title="Idempotency key",
            description="One key, one message. Empty: derived from the run.",
        ),
    },
):
    graph_api_pool_ready() >> InstagramSendMessageOperator(
        task_id="send_message",
        account_id="{{ params.account_id }}",
        recipient_id="{{ params.recipient_id }}",
        text="{{ params.text }}",
        tag="{{ params.tag or '' }}",
        idempotency_key="{{ params.idempotency_key or '' }}",
    )
