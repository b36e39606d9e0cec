"""Start-up configuration and the settings that may change while the simulator runs."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import catalog

THROTTLE_CODES = (4, 17, 80002)
# How a call that expands media insights counts in the usage meter: as one call, or once per media.
EXPANDED_INSIGHTS_WEIGHTS = ("call", "media")
# Product types whose metrics ``refused_media_metrics`` can refuse (carousel items refuse all anyway).
REFUSABLE_PRODUCT_TYPES = (catalog.PRODUCT_FEED, catalog.PRODUCT_REELS, catalog.PRODUCT_STORY)


@dataclass(frozen=True)
class SimConfig:
    """Everything fixed at start: the seed and the size of the world, plus setting defaults.

    ``/__sim__/reset`` goes back to exactly this configuration.
    """

    accounts: int = 3
    media_per_account: int = 120
    # Share of each account's feed (its oldest media) posted before the account became a
    # business account (insights refused with 2108006); None: a seeded 600-680 days ago.
    pre_business_share: float | None = None
    seed: int = 7
    container_finish_seconds: float = 2.0
    calls_per_hour: int = 4800
    throttle_code: int = 80002
    publish_quota: int = 50
    app_secret: str | None = None  # None: derived from the seed
    # Which login each account uses: "instagram", "facebook" or "both" (every second account: Facebook).
    login: str = "both"
    facebook_app_secret: str | None = None  # the Facebook app's, for fb_exchange_token and its proofs
    usage_headers: bool = True
    # product type -> media metrics Meta refuses for it on this run (e.g. {"REELS": ["reels_skip_rate"]})
    refused_media_metrics: Mapping[str, list[str]] = field(default_factory=dict)
    conversations_calls_per_second: int = 2  # per account; 0 = unlimited
    send_calls_per_second: int = 100  # per account; 0 = unlimited
    human_agent_approved: bool = False  # the app has the Human Agent feature (HUMAN_AGENT tag)
    insights_page_limit: int = 50  # larger pages with insights.metric(..) expanded answer "reduce the data"
    expanded_insights_weight: str = "call"  # "call" | "media": how such a call counts in the usage meter

    def __post_init__(self) -> None:
        if self.accounts < 1:
            raise ValueError("accounts must be at least 1")
        if self.media_per_account < 0:
            raise ValueError("media_per_account must not be negative")
        if self.login not in catalog.LOGIN_CHOICES:
            raise ValueError(f"login must be one of {', '.join(catalog.LOGIN_CHOICES)}")
        if self.pre_business_share is not None and not 0 <= self.pre_business_share < 1:
            raise ValueError("pre_business_share must be at least 0 and below 1")
        Settings.validate(
            calls_per_hour=self.calls_per_hour,
            throttle_code=self.throttle_code,
            container_finish_seconds=self.container_finish_seconds,
            publish_quota=self.publish_quota,
            refused_media_metrics=self.refused_media_metrics,
            conversations_calls_per_second=self.conversations_calls_per_second,
            send_calls_per_second=self.send_calls_per_second,
            insights_page_limit=self.insights_page_limit,
            expanded_insights_weight=self.expanded_insights_weight,
        )


@dataclass
class Settings:
    """The knobs ``POST /__sim__/config`` may turn at run time."""

    calls_per_hour: int
    throttle_code: int
    container_finish_seconds: float
    publish_quota: int
    app_secret: str
    facebook_app_id: str
    facebook_app_secret: str
    usage_headers: bool
    refused_media_metrics: dict[str, list[str]]
    conversations_calls_per_second: int
    send_calls_per_second: int
    human_agent_approved: bool
    insights_page_limit: int
    expanded_insights_weight: str

    @classmethod
    def from_config(cls, config: SimConfig, app_secret: str, facebook_app_id: str,
                    facebook_app_secret: str) -> Settings:
        return cls(
            calls_per_hour=config.calls_per_hour,
            throttle_code=config.throttle_code,
            container_finish_seconds=config.container_finish_seconds,
            publish_quota=config.publish_quota,
            app_secret=app_secret,
            facebook_app_id=facebook_app_id,
            facebook_app_secret=facebook_app_secret,
            usage_headers=config.usage_headers,
            refused_media_metrics=copy.deepcopy(dict(config.refused_media_metrics)),
            conversations_calls_per_second=config.conversations_calls_per_second,
            send_calls_per_second=config.send_calls_per_second,
            human_agent_approved=config.human_agent_approved,
            insights_page_limit=config.insights_page_limit,
            expanded_insights_weight=config.expanded_insights_weight,
        )

    @staticmethod
    def validate(**changes: Any) -> None:
        """Refuse values the simulator cannot honour, with a message fit for an HTTP 422."""
        known = {f.name for f in dataclasses.fields(Settings)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        if "calls_per_hour" in changes and int(changes["calls_per_hour"]) < 1:
            raise ValueError("calls_per_hour must be at least 1")
        if "throttle_code" in changes and int(changes["throttle_code"]) not in THROTTLE_CODES:
            raise ValueError(f"throttle_code must be one of {THROTTLE_CODES}")
        if "container_finish_seconds" in changes and float(changes["container_finish_seconds"]) < 0:
            raise ValueError("container_finish_seconds must not be negative")
        if "publish_quota" in changes and int(changes["publish_quota"]) < 0:
            raise ValueError("publish_quota must not be negative")
        for name in ("app_secret", "facebook_app_id", "facebook_app_secret"):
            if name in changes and not changes[name]:
                raise ValueError(f"{name} must not be empty")
        for name in ("conversations_calls_per_second", "send_calls_per_second"):
            if name in changes and int(changes[name]) < 0:
                raise ValueError(f"{name} must not be negative (0 = unlimited)")
        if "insights_page_limit" in changes and int(changes["insights_page_limit"]) < 1:
            raise ValueError("insights_page_limit must be at least 1")
        if "expanded_insights_weight" in changes and changes["expanded_insights_weight"] not in \
                EXPANDED_INSIGHTS_WEIGHTS:
            raise ValueError(f"expanded_insights_weight must be one of {EXPANDED_INSIGHTS_WEIGHTS}")
        if "refused_media_metrics" in changes:
            _check_refused_media_metrics(changes["refused_media_metrics"])

    def update(self, **changes: Any) -> None:
        self.validate(**changes)
        for name, value in changes.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_refused_media_metrics(refused: Mapping[str, Any]) -> None:
    for product, metrics in refused.items():
        if product not in REFUSABLE_PRODUCT_TYPES:
            raise ValueError(f"refused_media_metrics: product type must be one of {REFUSABLE_PRODUCT_TYPES}, "
                             f"not {product!r}")
        if isinstance(metrics, str) or not all(name in catalog.MEDIA_METRICS for name in metrics):
            raise ValueError(f"refused_media_metrics[{product}] must be a list of media metrics "
                             f"({', '.join(catalog.MEDIA_METRICS)})")
