"""Sync streams: each reads one part of the Graph API for one account into the warehouse.

A stream is a plain function ``sync_x(run: SyncRun) -> SyncResult``; the operator builds
the :class:`SyncRun` (hook, warehouse connection, data interval, settings) and the DAG
maps the operator over accounts. Every stream loads in batches, one transaction each,
so a run that dies half-way keeps what it loaded and the rerun completes it.
"""

from instagram_graph.sync.base import BudgetSpent, SyncResult, SyncRun
from instagram_graph.sync.conversations import sync_conversations
from instagram_graph.sync.insights import sync_account_insights
from instagram_graph.sync.media import sync_comments, sync_media, sync_stories
from instagram_graph.sync.media_insights import sync_media_insights
from instagram_graph.sync.profiles import sync_profile

STREAMS = {
    "profile": sync_profile,
    "media": sync_media,
    "stories": sync_stories,
    "comments": sync_comments,
    "account_insights": sync_account_insights,
    "media_insights": sync_media_insights,
    "conversations": sync_conversations,
}

__all__ = ["STREAMS", "BudgetSpent", "SyncResult", "SyncRun"]
