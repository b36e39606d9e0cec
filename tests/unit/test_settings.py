"""GraphApiSettings.from_connection: one place that reads the connection, with clear errors."""

from __future__ import annotations

import pytest
from airflow.sdk import Connection

from instagram_graph.settings import GraphApiSettings, SettingsError


def conn(**kwargs) -> Connection:
    return Connection(conn_id="instagram_graph_default", conn_type="instagram_graph", **kwargs)


def test_defaults_point_at_instagram_login_host() -> None:
    settings = GraphApiSettings.from_connection(conn())
    assert settings.base_url == "https://graph.instagram.com"
    assert settings.url("me/media") == f"https://graph.instagram.com/{settings.api_version}/me/media"
    assert settings.calls_per_hour == 200 and settings.timeout == 30.0


def test_extras_are_parsed_once_and_typed() -> None:
    settings = GraphApiSettings.from_connection(
        conn(
            host="http://127.0.0.1",
            port=8800,
            password="app-secret",
            extra='{"api_version": "v26.0", "calls_per_hour": "50", "timeout": 5, "app_id": "123"}',
        )
    )
    assert settings.base_url == "http://127.0.0.1:8800"
    assert settings.url("me") == "http://127.0.0.1:8800/v26.0/me"
    assert (settings.calls_per_hour, settings.timeout, settings.app_id) == (50, 5.0, "123")
    assert settings.app_secret == "app-secret"
    assert "app-secret" not in repr(settings)


def test_bare_host_gets_https() -> None:
    assert GraphApiSettings.from_connection(conn(host="graph.facebook.com")).base_url == "https://graph.facebook.com"


def test_old_form_prefix_is_understood() -> None:
    settings = GraphApiSettings.from_connection(conn(extra='{"extra__instagram_graph__calls_per_hour": 10}'))
    assert settings.calls_per_hour == 10


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ('{"calls_per_hour": "many"}', "calls_per_hour"),
        ('{"api_version": "24"}', "v24.0"),
        ('{"timout": 3}', "unknown extra field"),
        ('{"calls_per_hour": 0}', "at least 1"),
        ('{"window_seconds": 0}', "window_seconds must be at least 1"),
        ('{"messaging_calls_per_second": 0}', "messaging_calls_per_second must be positive"),
    ],
)
def test_bad_values_name_the_field_and_the_fix(extra: str, words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        GraphApiSettings.from_connection(conn(extra=extra))


def test_window_and_messaging_pace_come_from_extras_beside_calls_per_hour() -> None:
    settings = GraphApiSettings.from_connection(
        conn(extra='{"calls_per_hour": 4800, "window_seconds": "86400", "messaging_calls_per_second": "1.5"}')
    )
    assert (settings.calls_per_hour, settings.window_seconds) == (4800, 86400)
    assert settings.messaging_calls_per_second == 1.5
    defaults = GraphApiSettings.from_connection(conn(extra='{"calls_per_hour": 50}'))
    assert (defaults.window_seconds, defaults.messaging_calls_per_second) == (3600, 2.0), "old connections"


@pytest.mark.parametrize("value", ["0", "100000"])
def test_slot_lease_max_is_bounded(value) -> None:
    with pytest.raises(SettingsError, match="slot_lease_max must be between 1"):
        GraphApiSettings.from_connection(conn(extra=f'{{"slot_lease_max": "{value}"}}'))


def test_settle_seconds_default_to_the_timeout_plus_30_s_and_are_never_shorter_than_it() -> None:
    assert GraphApiSettings().outcome_settle_seconds == 60.0
    assert GraphApiSettings.from_connection(conn(extra='{"timeout": 10}')).outcome_settle_seconds == 40.0
    settings = GraphApiSettings.from_connection(conn(extra='{"timeout": 10, "settle_seconds": "15"}'))
    assert settings.outcome_settle_seconds == 15.0
    for value in ("5", "100000"):
        with pytest.raises(SettingsError, match=r"settle_seconds is .*: it must be at least timeout"):
            GraphApiSettings.from_connection(conn(extra=f'{{"timeout": 10, "settle_seconds": "{value}"}}'))


def test_each_login_has_its_host_and_its_apps_secret() -> None:
    conn = Connection(
        conn_id="c", conn_type="instagram_graph", host="graph.instagram.com", password="ig-secret",
        extra='{"facebook_base_url": "http://127.0.0.1:8787/facebook/", "facebook_app_id": "123", '
              '"facebook_app_secret": "fb-secret"}',
    )
    settings = GraphApiSettings.from_connection(conn)
    assert settings.url("me/media") == "https://graph.instagram.com/v24.0/me/media"
    assert settings.url("109/conversations", "facebook") == "http://127.0.0.1:8787/facebook/v24.0/109/conversations"
    assert (settings.app_secret_for("instagram"), settings.app_secret_for("facebook")) == ("ig-secret", "fb-secret")
    assert "fb-secret" not in repr(settings) and "ig-secret" not in repr(settings)
    assert GraphApiSettings().host_url("facebook") == "https://graph.facebook.com"
    with pytest.raises(SettingsError, match="is not a URL"):
        GraphApiSettings(facebook_base_url="graph.facebook.com")
