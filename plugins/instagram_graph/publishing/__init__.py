"""Publishing one post exactly once.

- :mod:`~instagram_graph.publishing.rules`: what Instagram accepts (PublishRequest and its
  limits); pure, no warehouse, no HTTP.
- :mod:`~instagram_graph.publishing.store`: the rows of ``instagram.publish_jobs`` and every
  statement over them.
- :mod:`~instagram_graph.publishing.machine`: the state machine (Publisher), one step per state.
- :mod:`~instagram_graph.publishing.lookup`: finding the post of a container that says
  PUBLISHED when the answer with its media id was lost.
"""

from instagram_graph.publishing.lookup import PUBLISHED_AS, PublishedMediaNotFound
from instagram_graph.publishing.machine import (
    NOT_READY_WAIT,
    Publisher,
    PublishFailed,
    PublishOutcomeUnknown,
    WaitFor,
)
from instagram_graph.publishing.rules import (
    ALT_TEXT_MAX_CHARS,
    AUDIO_NAME_MAX_CHARS,
    CAPTION_MAX_CHARS,
    CAPTION_MAX_HASHTAGS,
    CAPTION_MAX_MENTIONS,
    CAROUSEL,
    CAROUSEL_MAX_ITEMS,
    CAROUSEL_MIN_ITEMS,
    LOCATION_ID_MAX_DIGITS,
    MEDIA_TYPES,
    OPTION_TYPES,
    THUMB_OFFSET_MAX_MS,
    USER_TAGS_MAX,
    ContainerSpec,
    MediaOptions,
    PublishRequest,
    UserTag,
)
from instagram_graph.publishing.store import PublishJob

__all__ = [
    "ALT_TEXT_MAX_CHARS",
    "AUDIO_NAME_MAX_CHARS",
    "CAPTION_MAX_CHARS",
    "CAPTION_MAX_HASHTAGS",
    "CAPTION_MAX_MENTIONS",
    "CAROUSEL",
    "CAROUSEL_MAX_ITEMS",
    "CAROUSEL_MIN_ITEMS",
    "LOCATION_ID_MAX_DIGITS",
    "MEDIA_TYPES",
    "NOT_READY_WAIT",
    "OPTION_TYPES",
    "PUBLISHED_AS",
    "THUMB_OFFSET_MAX_MS",
    "USER_TAGS_MAX",
    "ContainerSpec",
    "MediaOptions",
    "PublishFailed",
    "PublishJob",
    "PublishOutcomeUnknown",
    "PublishRequest",
    "PublishedMediaNotFound",
    "Publisher",
    "UserTag",
    "WaitFor",
]
