"""The accounts page as HTML: one table, escaped throughout (Jinja autoescape), no script.

Markup that browser tests and people may rely on: ``<table id="instagram-accounts">``, one
``<tr data-account-id="...">`` per account, cells with a class per column (``username``,
``account-id``, ``flavour``, ``enabled``, ``token-status``, ``days-left``, ``calls``,
``paused-until``, ``streams``), and in ``streams`` one ``<tr data-stream="...">`` per stream
with ``last-success`` and ``last-failure`` cells. A part that could not be read is a
``<p class="unavailable" data-part="...">`` above the table.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jinja2 import Environment, StrictUndefined

from instagram_graph.ui.accounts_view import AccountsPage

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Instagram accounts</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1rem; color: #1a202c; }
  table { border-collapse: collapse; }
  th, td { border-bottom: 1px solid #e2e8f0; padding: .35rem .6rem; text-align: left; vertical-align: top; }
  table.streams td, table.streams th { border: none; padding: .1rem .4rem; font-size: .9em; }
  .unavailable { background: #fff5f5; border-left: 4px solid #e53e3e; padding: .5rem; }
  .failing, .token-bad { color: #c53030; }
  .muted { color: #718096; }
</style>
</head>
<body>
<h1>Instagram accounts</h1>
<p class="muted">As of <time datetime="{{ page.generated_at.isoformat() }}">{{ when(page.generated_at) }}</time>.
  The same data as JSON: <a href="api/accounts">api/accounts</a>.</p>
{% for part, why in page.unavailable.items() %}
<p class="unavailable" data-part="{{ part }}">The {{ part }} is unavailable ({{ why }}), so the page leaves it out.</p>
{% endfor %}
<table id="instagram-accounts">
<thead><tr>
  <th>Username</th><th>Account id</th><th>Login</th><th>Enabled</th><th>Token</th><th>Days left</th>
  <th>Calls in window</th><th>Paused until</th><th>Streams</th>
</tr></thead>
<tbody>
{% for account in page.accounts %}
<tr data-account-id="{{ account.account_id }}">
  <td class="username">{{ account.username or "" }}</td>
  <td class="account-id">{{ account.account_id }}</td>
  <td class="flavour">{{ account.flavour }}</td>
  <td class="enabled">{{ "yes" if account.enabled else "no" }}</td>
  <td class="token-status{% if account.token_status != 'active' %} token-bad{% endif %}">
    {{- account.token_status or "no token" }}</td>
  <td class="days-left">{{ "" if account.days_left is none else account.days_left }}</td>
  <td class="calls">
    {%- if account.calls %}{{ account.calls.used }} / {{ account.calls.limit }}
    {{- " per " ~ seconds(account.calls.window_seconds) }}
    {%- else %}<span class="muted">unknown</span>{% endif %}</td>
  <td class="paused-until">
    {%- if account.paused_until %}<time datetime="{{ account.paused_until.isoformat() }}">
    {{- when(account.paused_until) }}</time>{% endif %}</td>
  <td class="streams">
    {%- if account.streams %}
    <table class="streams">
    {% for history in account.streams %}
      <tr data-stream="{{ history.stream }}"{% if history.failing %} class="failing"{% endif %}>
        <th class="stream">{{ history.stream }}</th>
        <td class="last-success">{% if history.last_success %}{% set run = history.last_success %}
          {{- when(run.finished_at) }}: {{ run.rows }} rows, {{ run.calls }} calls,
          {{- " " ~ seconds(run.duration.total_seconds()) }}
          {%- else %}<span class="muted">no success yet</span>{% endif %}</td>
        <td class="last-failure">{% if history.last_failure %}{% set run = history.last_failure %}
          {{- when(run.finished_at) }}: <span class="error-class">{{ run.error_class }}</span>
          {%- if run.advice %} <span class="advice">{{ run.advice }}</span>{% endif %}
          {%- endif %}</td>
      </tr>
    {% endfor %}
    </table>
    {%- else %}<span class="muted">no sync recorded</span>{% endif %}</td>
</tr>
{% else %}
<tr><td colspan="9" class="muted">No accounts to show.</td></tr>
{% endfor %}
</tbody>
</table>
</body>
</html>
"""

_ENVIRONMENT = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(value: float) -> str:
    """A duration the way a person reads it: 850 ms, 42 s, 1.5 min, 1 h, 1 day."""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.0f} s"


_PAGE = _ENVIRONMENT.from_string(_TEMPLATE, globals={"when": _when, "seconds": _seconds})


def render(page: AccountsPage) -> str:
    """The page as an HTML document; every value is escaped."""
    return _PAGE.render(page=page)
