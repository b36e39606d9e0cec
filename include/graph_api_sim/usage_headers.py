"""Meta's usage headers, from the ``UsageMeter``'s call shares.

Percentages go out in ``X-Business-Use-Case-Usage`` (nested by account id, regain time in
minutes) and ``X-App-Usage``; a header is left out while its call share rounds down to
0 %, because Meta sends them only after some calls. Messaging calls carry neither.
"""

from __future__ import annotations

import json

from .config import Settings
from .usage import UsageMeter

_COMPACT = (",", ":")

Header = tuple[bytes, bytes]


def usage_headers(settings: Settings, meter: UsageMeter, account_id: str | None, *,
                  regain_minutes: int | None = None) -> list[Header]:
    """The headers of an answer to a call of ``account_id``; ``regain_minutes`` overrides the meter's (a fault)."""
    if not settings.usage_headers:
        return []
    out: list[Header] = []
    app_pct = meter.app_share()
    if app_pct > 0:
        out.append((b"x-app-usage", _json(_shares(app_pct))))
    if account_id is None:
        return out
    pct = meter.account_share(account_id)
    if pct is None:
        return out
    regain = meter.regain_minutes(account_id) if regain_minutes is None else regain_minutes
    if regain:
        pct = 100
    if pct > 0:
        entry = {"type": "instagram", **_shares(pct), "estimated_time_to_regain_access": regain}
        out.append((b"x-business-use-case-usage", _json({account_id: [entry]})))
    return out


def _shares(call_pct: int) -> dict[str, int]:
    # CPU and total time are not simulated; they follow the call share at a lower level.
    return {"call_count": call_pct, "total_cputime": call_pct * 3 // 5, "total_time": call_pct * 4 // 5}


def _json(value: object) -> bytes:
    return json.dumps(value, separators=_COMPACT).encode()
