"""Conversations and their messages; only conversations that moved since the last run."""

from __future__ import annotations

from instagram_graph.graph_time import parse_graph_time
from instagram_graph.records import CONVERSATIONS, MESSAGES, conversation_row, message_row
from instagram_graph.sync.base import SyncResult, SyncRun
from instagram_graph.sync.stream_state import conversation_times
from instagram_graph.warehouse import load


def sync_conversations(run: SyncRun) -> SyncResult:
    """One paged listing, then one messages call per conversation whose updated_time moved.

    Each conversation loads with its messages in one transaction: a conversation row is
    only ever as new as the messages beside it, so an interrupted run re-reads the rest.
    """
    result = SyncResult("conversations", run.account_id)
    known = conversation_times(run.conn, run.account_id)
    run.spend()
    for conversation in run.hook.iter_conversations(run.account_id):
        seen = known.get(conversation["id"])
        updated = parse_graph_time(conversation.get("updated_time"))
        if seen is not None and updated is not None and updated <= seen:
            continue
        run.spend()
        messages = run.hook.get_messages(run.account_id, conversation["id"])
        participants = {run.account_id}
        for message in messages:
            parties = [message.get("from") or {}, *((message.get("to") or {}).get("data") or [])]
            participants.update(party_id for party in parties if (party_id := party.get("id")) is not None)
        result.add(
            load(
                run.conn,
                [
                    (CONVERSATIONS, [conversation_row(run.account_id, conversation, sorted(participants))]),
                    (MESSAGES, [message_row(run.account_id, conversation["id"], m) for m in messages]),
                ],
            )
        )
    result.calls = run.calls_spent
    return result
