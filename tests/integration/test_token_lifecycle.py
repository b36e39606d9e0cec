"""Which tokens are due for refresh, refreshing one, and `instagram-graph accounts revoke`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from instagram_graph import cli
from instagram_graph.accounts import AccountRegistry
from instagram_graph.errors import TokenError
from instagram_graph.token_lifecycle import accounts_due, refresh


@pytest.fixture
def accounts(sim) -> tuple[dict, dict, dict]:
    """The simulator's three accounts: expiring in about 30, 5 and 51 days."""
    first, due, later = sim.accounts()
    return first, due, later


@pytest.fixture
def registry(token_store) -> AccountRegistry:
    return AccountRegistry(token_store)


def test_due_means_expiring_soon_old_enough_enabled_and_not_revoked(registry, token_store, accounts) -> None:
    first, due, _later = accounts
    assert accounts_due(registry) == [due["id"]]
    assert accounts_due(registry, timedelta(days=40)) == [due["id"], first["id"]]

    now = datetime.now(UTC)
    token_store.put(first["id"], first["token"], expires_at=now + timedelta(days=2), issued_at=now - timedelta(hours=2))
    assert first["id"] not in accounts_due(registry), "Meta refreshes no token younger than 24 h"
    registry.disable(due["id"], "paused")
    assert due["id"] not in accounts_due(registry)
    registry.enable(due["id"])
    token_store.mark(due["id"], "revoked")
    assert due["id"] not in accounts_due(registry)
    token_store.mark(due["id"], "expired")
    assert due["id"] in accounts_due(registry), "an expired token is listed: its task must fail and name it"


def test_refresh_stores_the_new_token_encrypted(hook, token_store, sim, accounts, schema) -> None:
    _, due, _ = accounts
    result = refresh(hook, token_store, due["id"])
    new_token = next(a["token"] for a in sim.accounts() if a["id"] == due["id"])
    assert new_token != due["token"] and token_store.get(due["id"]).token == new_token
    assert timedelta(days=59) < result.expires_at - datetime.now(UTC) < timedelta(days=61)
    assert new_token not in json.dumps(result.summary())


def test_a_revoked_token_cannot_be_refreshed(registry, hook, token_store, sim, accounts) -> None:
    _, due, _ = accounts
    sim.set_token(due["id"], revoked=True)
    with pytest.raises(TokenError):
        refresh(hook, token_store, due["id"])
    assert next(i for i in registry.list_accounts() if i.account_id == due["id"]).status == "invalid"


@pytest.fixture
def cli_env(sim, schema, redis_client, monkeypatch) -> None:
    """What a shell running the CLI next to Airflow has: the warehouse DSN and the connections."""
    monkeypatch.setenv("INSTAGRAM_WAREHOUSE_DSN", schema)
    monkeypatch.setenv(
        "AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT",
        json.dumps({"conn_type": "instagram_graph", "host": sim.base_url, "extra": {"retry_base_delay": 0.02}}),
    )


def test_revoke_revokes_at_meta_marks_the_token_and_disables_the_account(
    registry, cli_env, token_store, sim, accounts, capsys
) -> None:
    first, _, _ = accounts
    assert cli.main(["accounts", "revoke", first["id"], "--reason", "client offboarded"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "revoked at Meta; token marked revoked; account disabled (client offboarded)" in out
    assert next(a for a in sim.accounts() if a["id"] == first["id"])["revoked"] is True
    (info,) = [i for i in registry.list_accounts() if i.account_id == first["id"]]
    assert (info.status, info.enabled, info.disabled_reason) == ("revoked", False, "client offboarded")
    assert first["token"] not in out

    sim.clear_requests()
    assert cli.main(["accounts", "revoke", first["id"]]) == cli.EXIT_OK, "running it again is harmless"
    assert "nothing left to revoke there" in capsys.readouterr().out
    assert sim.requests() == [], "a token marked revoked is not sent to Meta again"


def test_revoke_changes_nothing_when_meta_cannot_be_reached(
    registry, cli_env, token_store, sim, accounts, capsys
) -> None:
    first, _, _ = accounts
    sim.add_fault(method="DELETE", path=r"/permissions$", kind="http_500")
    assert cli.main(["accounts", "revoke", first["id"]]) == cli.EXIT_GRAPH_API
    assert "Nothing was changed. Run the command again." in capsys.readouterr().err
    (info,) = [i for i in registry.list_accounts() if i.account_id == first["id"]]
    assert (info.status, info.enabled) == ("active", True)


def test_revoke_refuses_an_unknown_account(cli_env, token_store, capsys) -> None:
    assert cli.main(["accounts", "revoke", "999"]) == cli.EXIT_USAGE
    assert "unknown account 999" in capsys.readouterr().err
