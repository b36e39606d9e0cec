"""The control API under ``/__sim__/``: reset, accounts, faults, request log, truth, knobs,
and the things Meta does on its own (a container refused at publish, a post deleted by hand).

No authentication (it is a simulator) and not counted against any rate limit.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from .simulator import Simulator
from .truth import Truth, TruthError
from .world import Conversation


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: str = Field("*", description='"GET", "POST", "DELETE" or "*"')
    path: str = Field(".*", description="regular expression searched in the path without version prefix")
    kind: Literal["http_500", "error", "delay", "reset", "malformed", "throttle", "commit_then_drop"]
    times: int | None = Field(None, ge=0, description="fire on the first N matching calls; null: every call")
    probability: float | None = Field(None, ge=0, le=1, description="fire on a seeded share of matching calls")
    code: int | None = None
    subcode: int | None = None
    type: str | None = None
    is_transient: bool | None = None
    http_status: int | None = None
    message: str | None = None
    error_user_title: str | None = None
    error_user_msg: str | None = None
    error_data: dict[str, Any] | None = None
    seconds: float | None = None
    regain_minutes: int | None = None
    body: str | None = None


class ConfigPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls_per_hour: int | None = None
    throttle_code: Literal[4, 17, 80002] | None = None
    container_finish_seconds: float | None = None
    publish_quota: int | None = None
    app_secret: str | None = None
    facebook_app_id: str | None = None
    facebook_app_secret: str | None = None
    usage_headers: bool | None = None
    refused_media_metrics: dict[str, list[str]] | None = Field(
        None, description='product type (FEED, REELS, STORY) -> media metrics refused for it, e.g. '
                          '{"REELS": ["reels_skip_rate"]}')
    conversations_calls_per_second: int | None = Field(None, description="per account; 0 = unlimited")
    send_calls_per_second: int | None = Field(None, description="per account; 0 = unlimited")
    human_agent_approved: bool | None = None
    insights_page_limit: int | None = Field(
        None, description="largest page (limit) that may expand insights.metric(..); larger answers code 1, "
                          "HTTP 500 (at least 1)")
    expanded_insights_weight: Literal["call", "media"] | None = Field(
        None, description='how a call expanding insights counts in the usage meter: "call" (1) or "media" '
                          '(one per media with insights in the answer)')


class TokenPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_at: float | None = None
    permissions: list[str] | None = None
    revoked: bool | None = None
    requires_appsecret_proof: bool | None = None


class ClockAdvance(BaseModel):
    advance_seconds: float = Field(ge=0)


class ContainerPatch(BaseModel):
    status_code: Literal["IN_PROGRESS", "FINISHED", "ERROR", "EXPIRED"]
    reason: str | None = None


class InboundMessage(BaseModel):
    text: str = Field(min_length=1)


class PublishRefusalSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: Literal["not_ready", "builder_expired"] = Field(
        description="not_ready: 9007/2207027; builder_expired: 24/2207008")
    times: int = Field(1, ge=1, description="how many media_publish calls answer it")
    account_id: str | None = Field(None, description="only this account's calls (default: any account)")


def _drop_none(model: BaseModel) -> dict[str, Any]:
    return {key: value for key, value in model.model_dump().items() if value is not None}


def control_router(sim: Simulator) -> APIRouter:
    router = APIRouter(prefix="/__sim__", tags=["simulator control"])
    truth = Truth(sim)

    @router.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "accounts": len(sim.world.accounts), "seed": sim.config.seed}

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        """Back to the seeded state: data, clock, faults, request log, usage, quota, settings."""
        sim.reset()
        return {"ok": True}

    @router.get("/accounts")
    async def accounts() -> list[dict[str, Any]]:
        return [{"id": account.id, "username": account.username, "name": account.name,
                 "followers_count": account.followers_count, **sim.tokens.describe(account.id)}
                for account in sim.world.accounts]

    @router.get("/facebook_user")
    async def facebook_user() -> dict[str, Any]:
        """The person behind the Facebook Login accounts: the token the login dialog gave it
        (short-lived: what ``instagram-graph accounts discover`` starts from) and its Pages."""
        user, tokens = sim.world.facebook_user, sim.tokens
        if user is None or tokens.user_token is None or tokens.long_lived_user_token is None:
            raise HTTPException(404, "no Facebook Login accounts: start the simulator with --login facebook or both")
        return {
            "id": user.id, "name": user.name, "token": tokens.user_token.value,
            "token_expires_at": int(tokens.user_token.expires_at),
            "long_lived_token": tokens.long_lived_user_token.value,
            "long_lived_token_issued_at": int(tokens.long_lived_user_token.issued_at),
            "long_lived_token_expires_at": int(tokens.long_lived_user_token.expires_at),
            "app_id": sim.settings.facebook_app_id,
            "pages": [{"id": page.id, "name": page.name, "instagram_account_id": page.ig_account_id}
                      for page in user.pages],
        }

    @router.get("/config")
    async def get_config() -> dict[str, Any]:
        return {**sim.settings.as_dict(), "seed": sim.config.seed, "accounts": sim.config.accounts,
                "media_per_account": sim.config.media_per_account, "now": sim.clock.now(),
                "clock_offset": sim.clock.offset, "day_anchor": sim.world.day_anchor,
                "hour_anchor": sim.world.hour_anchor}

    @router.post("/config")
    async def set_config(patch: ConfigPatch) -> dict[str, Any]:
        try:
            sim.settings.update(**_drop_none(patch))
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return sim.settings.as_dict()

    @router.post("/tokens/{account_id}")
    async def set_token(account_id: str, patch: TokenPatch) -> dict[str, Any]:
        if sim.world.account(account_id) is None:
            raise HTTPException(404, f"no account {account_id}")
        try:
            sim.tokens.update(account_id, **_drop_none(patch))
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"id": account_id, **sim.tokens.describe(account_id)}

    @router.post("/clock")
    async def advance_clock(body: ClockAdvance) -> dict[str, Any]:
        sim.clock.advance(body.advance_seconds)
        return {"now": sim.clock.now(), "offset": sim.clock.offset}

    @router.get("/clock")
    async def clock() -> dict[str, Any]:
        return {"now": sim.clock.now(), "offset": sim.clock.offset}

    @router.post("/faults")
    async def add_fault(spec: FaultSpec) -> dict[str, Any]:
        base = {"method", "path", "kind", "times", "probability"}
        args = {k: v for k, v in _drop_none(spec).items() if k not in base}
        try:
            fault = sim.faults.add(method=spec.method, path=spec.path, kind=spec.kind, times=spec.times,
                                   probability=spec.probability, **args)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"id": fault.id}

    @router.get("/faults")
    async def list_faults() -> list[dict[str, Any]]:
        return sim.faults.describe()

    @router.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        sim.faults.clear()
        return {"ok": True}

    @router.delete("/faults/{fault_id}")
    async def remove_fault(fault_id: str) -> dict[str, Any]:
        if not sim.faults.remove(fault_id):
            raise HTTPException(404, f"no fault {fault_id}")
        return {"ok": True}

    @router.get("/requests")
    async def requests(method: str | None = None, path: str | None = None,
                       account_id: str | None = None) -> list[dict[str, Any]]:
        return sim.log.query(method=method, path=path, account_id=account_id)

    @router.get("/requests/count")
    async def count_requests() -> dict[str, Any]:
        """Calls since the log was last cleared (the log itself keeps the newest 100,000), and
        the answered ones by HTTP status."""
        return {"total": sim.log.total, "by_status": dict(sim.log.statuses)}

    @router.delete("/requests")
    async def clear_requests() -> dict[str, Any]:
        sim.log.clear()
        return {"ok": True}

    @router.get("/truth/{kind}")
    async def get_truth(kind: str, request: Request) -> Any:
        try:
            return truth.get(kind, dict(request.query_params))
        except TruthError as exc:
            raise HTTPException(404, str(exc)) from None

    @router.post("/containers/{container_id}")
    async def set_container(container_id: str, patch: ContainerPatch) -> dict[str, Any]:
        """Force a container's status, e.g. ERROR with a reason."""
        if container_id not in sim.publishing.containers:
            raise HTTPException(404, f"no container {container_id}")
        container = sim.publishing.force_status(container_id, patch.status_code, patch.reason)
        return sim.publishing.describe_container(container)

    @router.post("/publish_refusals")
    async def refuse_publish(spec: PublishRefusalSpec) -> list[dict[str, Any]]:
        """The next ``times`` media_publish calls answer the error and publish nothing; returns the queue."""
        if spec.account_id is not None and sim.world.account(spec.account_id) is None:
            raise HTTPException(404, f"no account {spec.account_id}")
        sim.publishing.refuse_next_publishes(spec.error, spec.times, spec.account_id)
        return [refusal.describe() for refusal in sim.publishing.refusals]

    @router.get("/publish_refusals")
    async def publish_refusals() -> list[dict[str, Any]]:
        return [refusal.describe() for refusal in sim.publishing.refusals]

    @router.delete("/objects/{object_id}")
    async def delete_object(object_id: str) -> dict[str, Any]:
        """A feed media, story, comment or reply vanishes (as deleted in the app) until the next reset."""
        try:
            node = sim.delete(object_id)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"id": node.id, "deleted": True, "type": node.node_type}

    @router.post("/conversations/{conversation_id}/messages")
    async def customer_writes(conversation_id: str, body: InboundMessage) -> dict[str, Any]:
        """The customer sends a message (reopens the 24 h window)."""
        conversation = sim.node(conversation_id)
        if not isinstance(conversation, Conversation):
            raise HTTPException(404, f"no conversation {conversation_id}")
        message = sim.inbox.receive(conversation, body.text)
        return {"message_id": message.id, "created_time": message.created_time}

    return router
