"""Reading nodes and edges: field selection, expansion and paged edge listings.

``GET /{id}``, ``GET /{id}/{edge}`` and ``GET /me/conversations``, and the ``fields=``
expansion of edges inside them, media insights included (``insights.metric(reach,views)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .. import catalog
from ..call import Call
from ..clock import iso
from ..errors import GraphError
from ..fields import FieldSpec, check_fields, default_specs, format_fields
from ..ids import legacy_id
from ..paging import ItemListing, Listing, Page, encode_cursor, parse_limit, take_page
from ..params import split_list
from ..simulator import Simulator
from .insights import media_insight_items

Getter = Callable[[Call, Any], Any]


def _participant(username: str, user_id: str) -> dict[str, str]:
    return {"username": username, "id": user_id}


# Fields that are not a plain attribute of the node; every other field is read with getattr.
COMPUTED_FIELDS: dict[str, dict[str, Getter]] = {
    "IGUser": {
        "user_id": lambda call, user: user.id,
        "media_count": lambda call, user: call.sim.publishing.media_count(user),
        # Legacy ids: a number for users, a numeric string for media (as Meta serves them).
        "ig_id": lambda call, user: legacy_id(call.sim.world.seed, user.id, 10),
    },
    "IGMedia": {
        "timestamp": lambda call, media: iso(media.timestamp),
        "owner": lambda call, media: call.sim.world.account(media.owner_id),
        "comments_count": lambda call, media: call.sim.deletions.comments_count(media),
        "ig_id": lambda call, media: str(legacy_id(call.sim.world.seed, media.id, 19)),
    },
    "IGComment": {
        "timestamp": lambda call, comment: iso(comment.timestamp),
        "from": lambda call, comment: {"id": comment.from_id, "username": comment.username},
        "media": lambda call, comment: call.sim.node(comment.media_id),
    },
    "IGContainer": {
        "status_code": lambda call, container: call.sim.publishing.status_code(container),
        "status": lambda call, container: call.sim.publishing.status_text(container),
    },
    "IGConversation": {
        "updated_time": lambda call, conversation: iso(call.sim.inbox.updated_time(conversation)),
        "participants": lambda call, conversation: {"data": [
            _participant(conversation.owner_username, conversation.owner_id),
            _participant(conversation.user_username, conversation.user_id),
        ]},
    },
    "IGMessage": {
        "created_time": lambda call, message: iso(message.created_time),
        "from": lambda call, message: _participant(message.from_username, message.from_id),
        "to": lambda call, message: {"data": [_participant(message.to_username, message.to_id)]},
        "message": lambda call, message: message.text,
    },
}

COMPUTED_FIELDS["Page"] = {
    # A Page's token is handed only to its manager (as /me/accounts does) or to itself.
    "access_token": lambda call, page: call.sim.tokens.page_token_for(page.id, call.token),
    "instagram_business_account": lambda call, page: (
        call.sim.world.account(page.ig_account_id) if page.ig_account_id else None),
}

# What each edge lists, for both ``GET /{id}/{edge}`` and ``fields={edge}{...}``.
EDGE_LISTINGS: dict[tuple[str, str], Callable[[Simulator, Any], Listing]] = {
    ("FacebookUser", "accounts"): lambda sim, user: ItemListing("Page", user.pages),
    ("IGUser", "media"): lambda sim, user: sim.publishing.timeline(user),
    ("IGUser", "stories"): lambda sim, user: ItemListing("IGMedia", sim.publishing.live_stories(user)),
    ("IGUser", "tags"): lambda sim, user: ItemListing("IGMedia", ()),  # no tagged media in the seeded world
    ("IGUser", "conversations"): lambda sim, user: ItemListing("IGConversation", sim.inbox.conversations(user)),
    ("IGMedia", "children"): lambda sim, media: ItemListing("IGMedia", media.children),
    ("IGMedia", "comments"): lambda sim, media: ItemListing("IGComment", sim.comments(media)),
    ("IGComment", "replies"): lambda sim, comment: ItemListing("IGComment", sim.replies(comment)),
    ("IGConversation", "messages"): lambda sim, conversation: ItemListing(
        "IGMessage", sim.inbox.messages(conversation)),
}


def render_node(call: Call, node: Any, specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """The selected fields of one node; missing values are left out, ``id`` is always there."""
    node_type = node.node_type
    computed = COMPUTED_FIELDS.get(node_type, {})
    edges = catalog.NODE_EDGES[node_type]
    out: dict[str, Any] = {}
    for spec in specs:
        name = spec.name
        if name == catalog.INSIGHTS_FIELD and node_type == "IGMedia":
            out[name] = _expand_insights(call, node, spec)
            continue
        if name in edges:
            expanded = _expand_edge(call, node, spec)
            if expanded["data"]:  # Meta leaves out empty edges (children of a single image)
                out[name] = expanded
            continue
        getter = computed.get(name)
        value = getter(call, node) if getter else getattr(node, name, None)
        if value is None:
            continue
        if hasattr(value, "node_type"):
            value = render_node(call, value, spec.subfields or (FieldSpec("id"),))
        elif spec.subfields and isinstance(value, dict):
            wanted = {sub.name for sub in spec.subfields}
            value = {key: item for key, item in value.items() if key in wanted}
        out[name] = value
    if "id" not in out:
        out["id"] = node.id
    return out


def _expand_edge(call: Call, node: Any, spec: FieldSpec) -> dict[str, Any]:
    listing = EDGE_LISTINGS[(node.node_type, spec.name)](call.sim, node)
    specs = spec.subfields or default_specs(listing.node_type)
    limit = parse_limit(spec.modifier("limit"))
    page = take_page(listing, after=spec.modifier("after"), before=None, limit=limit)
    data = [render_node(call, item, specs) for item in page.items]
    params = {"fields": format_fields(specs)} if spec.subfields else {}
    return with_paging(call, data, page, path=f"/{node.id}/{spec.name}", params=params, limit=limit)


def _expand_insights(call: Call, media: Any, spec: FieldSpec) -> dict[str, Any]:
    """``insights.metric(..)`` of one media: what ``GET /{media-id}/insights`` answers for those metrics,
    or its error, which fails the whole call (Meta gives no partial page)."""
    data = media_insight_items(call.sim, call.owner, media, insights_metrics(spec))
    if spec.subfields:
        wanted = {sub.name for sub in spec.subfields} | {"id"}
        data = [{key: value for key, value in item.items() if key in wanted} for item in data]
    call.insights_media += 1
    return {"data": data}


def insights_metrics(spec: FieldSpec) -> list[str]:
    """The metrics of an ``insights`` field; refuses a missing list and modifiers the field does not take."""
    for key, _ in spec.modifiers:
        if key not in catalog.INSIGHTS_FIELD_MODIFIERS:
            raise GraphError("insights_modifier_unsupported", modifier=key)
    names = split_list(spec.modifier("metric"), "metric")
    if not names:
        raise GraphError("missing_parameter", name="metric")
    return names


def _insights_fields(node_type: str, specs: tuple[FieldSpec, ...], scale: int) -> Iterator[tuple[FieldSpec, int]]:
    """Each ``insights`` field of a selection with how many media it may be expanded for:
    the page size of its listing times the page sizes of the listings around it (1 for a node)."""
    edges = catalog.NODE_EDGES.get(node_type, {})
    for spec in specs:
        if spec.name == catalog.INSIGHTS_FIELD and node_type == "IGMedia":
            yield spec, scale
        elif spec.name in edges:
            if spec.subfields:  # the default fields expand nothing
                yield from _insights_fields(edges[spec.name], spec.subfields, scale * _page_size(spec))
        else:
            target = catalog.NODE_REFERENCES.get((node_type, spec.name))
            if target and spec.subfields:
                yield from _insights_fields(target, spec.subfields, scale)


def _page_size(spec: FieldSpec) -> int:
    try:
        return parse_limit(spec.modifier("limit"))
    except GraphError:  # refused when the edge is expanded, in the order the fields are rendered
        return catalog.PAGE_SIZE_DEFAULT


def check_insights(call: Call, node_type: str, specs: tuple[FieldSpec, ...], page_size: int) -> None:
    """Before any work: a selection that expands media insights needs the insights permission,
    a metric list, and at most ``insights_page_limit`` media per page (else Meta's code 1, HTTP 500)."""
    found = list(_insights_fields(node_type, specs, page_size))
    if not found:
        return
    call.sim.tokens.require(call.token, catalog.MANAGE_INSIGHTS)
    for spec, _ in found:
        insights_metrics(spec)
    if max(scale for _, scale in found) > call.sim.settings.insights_page_limit:
        raise GraphError("reduce_data")


def charge_insights(call: Call) -> None:
    """With ``expanded_insights_weight`` "media", a call that expanded insights counts once per media
    whose insights it answered (at least once): the call itself was counted when it was admitted."""
    if call.insights_media and call.sim.settings.expanded_insights_weight == "media":
        call.sim.usage.charge(call.owner.id, call.insights_media - 1)


def with_paging(call: Call, data: list[dict[str, Any]], page: Page, *, path: str, params: dict[str, Any],
                limit: int) -> dict[str, Any]:
    result: dict[str, Any] = {"data": data}
    if not page.items:
        return result
    first, last = encode_cursor(page.items[0].id), encode_cursor(page.items[-1].id)
    paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
    if page.has_next:
        paging["next"] = call.url(path, {**params, "limit": limit, "after": last})
    if page.has_previous:
        paging["previous"] = call.url(path, {**params, "limit": limit, "before": first})
    result["paging"] = paging
    return result


# --- route handlers -----------------------------------------------------------------------


def get_node(call: Call) -> dict[str, Any]:
    node_type = call.node.node_type
    specs = call.fields() or default_specs(node_type)
    check_fields(node_type, specs)
    check_insights(call, node_type, specs, page_size=1)
    result = render_node(call, call.node, specs)
    charge_insights(call)
    return result


def list_edge(call: Call, listing: Listing | None = None) -> dict[str, Any]:
    """``GET /{id}/{edge}``: one page of the edge with the requested fields."""
    if listing is None:
        assert call.edge is not None  # routed here for an edge
        listing = EDGE_LISTINGS[(call.node.node_type, call.edge)](call.sim, call.node)
    specs = call.fields() or default_specs(listing.node_type)
    check_fields(listing.node_type, specs)
    limit = parse_limit(call.param("limit"))
    check_insights(call, listing.node_type, specs, page_size=limit)
    page = take_page(listing, after=call.param("after"), before=call.param("before"), limit=limit)
    data = [render_node(call, item, specs) for item in page.items]
    charge_insights(call)
    params = {key: value for key, value in call.request.query
              if key not in ("access_token", "after", "before", "limit")}
    return with_paging(call, data, page, path=call.request.path, params=params, limit=limit)


def list_conversations(call: Call) -> dict[str, Any]:
    """``GET /me/conversations?platform=instagram[&user_id=IGSID]``."""
    platform = call.param("platform")
    if platform is not None and platform != "instagram":
        raise GraphError("invalid_parameter", detail="platform must be one of the following values: instagram")
    conversations = call.sim.inbox.conversations(call.node)
    user_id = call.param("user_id")
    if user_id:
        conversations = [c for c in conversations if c.user_id == user_id]
    return list_edge(call, ItemListing("IGConversation", conversations))
