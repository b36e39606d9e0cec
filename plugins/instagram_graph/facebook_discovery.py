"""Finding the Instagram accounts of a Facebook Login: the Pages of a Facebook user.

``instagram-graph accounts discover`` hands a Facebook user token (from Meta's login
dialog, usually short-lived) to :func:`discover`, which exchanges it for a long-lived one
(``fb_exchange_token``), lists the user's Pages (``/me/accounts``) and registers every Page
that has an Instagram business account: the account with ``login = facebook``, its Page
and its Page token (which does not expire), encrypted like every token. The user's
long-lived token is kept too (``instagram.facebook_users``): it renews and revokes them.

Running it again updates the tokens and adds new Pages; ``dry_run`` only lists. Nothing
here returns or logs a token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from instagram_graph.accounts import AccountRegistry
from instagram_graph.settings import LOGIN_FACEBOOK
from instagram_graph.token_lifecycle import new_token

log = logging.getLogger(__name__)

ADDED, UPDATED = "added", "updated"
SKIPPED = "skipped: no Instagram business account"
NO_PAGE_TOKEN = "skipped: no Page token (the user has no task on this Page that allows it)"


@dataclass(frozen=True)
class DiscoveredPage:
    """One Page of the user and what discovery did with it (no token in it)."""

    page_id: str
    page_name: str
    account_id: str | None
    username: str | None
    action: str  # ADDED, UPDATED or SKIPPED ("would be ..." in a dry run)


@dataclass(frozen=True)
class Discovery:
    user_id: str
    user_name: str | None
    user_token_expires_at: datetime | None  # None in a dry run (nothing was exchanged)
    pages: list[DiscoveredPage] = field(default_factory=list)

    @property
    def registered(self) -> list[DiscoveredPage]:
        """The Pages whose Instagram account was (or in a dry run would be) added or updated."""
        return [page for page in self.pages if page.action.removeprefix("would be ") in (ADDED, UPDATED)]


def discover(hook: Any, store: Any, user_token: str, *, dry_run: bool = False, now: datetime | None = None) -> Discovery:
    """Register the Instagram accounts behind the Pages of the user whose token this is.

    :param hook: an :class:`~instagram_graph.hooks.graph_api.InstagramGraphHook` (its connection
        carries the Facebook app id and secret).
    :param store: the :class:`~instagram_graph.token_store.TokenStore` to write to.
    :raises GraphApiError: Meta refused the token or the app (nothing was written).
    """
    issued_at = now or datetime.now(UTC)
    expires_at: datetime | None = None
    token = user_token
    if not dry_run:
        token, expires_at = new_token(hook.exchange_user_token(user_token), issued_at, "the user token's exchange")
    me = hook.get_facebook_user(token)
    user_id, user_name = str(me["id"]), me.get("name")
    known = set(AccountRegistry(store).account_ids())  # ids only: no token is decrypted
    pages = list(hook.iter_pages(user_id, token))  # every page before any write: a failure writes nothing
    if not dry_run:
        store.put_facebook_user(user_id, token, expires_at=expires_at, issued_at=issued_at, name=user_name)
    found = []
    for page in pages:
        account = page.get("instagram_business_account") or {}
        page_id, page_name = str(page["id"]), str(page.get("name") or "")
        if not account.get("id"):
            found.append(DiscoveredPage(page_id, page_name, None, None, SKIPPED))
            continue
        account_id, username = str(account["id"]), account.get("username")
        if not page.get("access_token"):
            found.append(DiscoveredPage(page_id, page_name, account_id, username, NO_PAGE_TOKEN))
            continue
        action = UPDATED if account_id in known else ADDED
        if dry_run:
            action = f"would be {action}"
        else:
            store.put(
                account_id, str(page["access_token"]), expires_at=None, issued_at=issued_at, username=username,
                login=LOGIN_FACEBOOK, page_id=page_id, facebook_user_id=user_id,
            )
        found.append(DiscoveredPage(page_id, page_name, account_id, username, action))
    log.info("Facebook user %s: %d Page(s), %d with an Instagram account", user_id, len(found),
             sum(1 for page in found if page.account_id))
    return Discovery(user_id, user_name, expires_at, found)
