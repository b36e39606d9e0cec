"""Failures: classification, retries, throttles and secrecy, proven by the simulator's log."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from instagram_graph.accounts import AccountRegistry
from instagram_graph.errors import (
    InvalidRequestError,
    ObjectNotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RateLimiterUnavailableError,
    TokenExpiredError,
    TokenInvalidError,
    TransientError,
)


def _attempts(sim, path_fragment: str) -> int:
    return len([r for r in sim.requests() if path_fragment in r["path"]])


def test_persistent_500_is_tried_four_times(hook, sim, account) -> None:
    sim.add_fault(method="GET", path=r"^/\d+$", kind="http_500")
    sim.clear_requests()
    with pytest.raises(TransientError) as caught:
        hook.get_profile(account["id"])
    assert caught.value.http_status == 500
    assert _attempts(sim, account["id"]) == 4


def test_transient_failures_then_success(hook, sim, account) -> None:
    sim.add_fault(method="GET", path=r"^/\d+$", kind="reset", times=1)
    sim.add_fault(method="GET", path=r"^/\d+$", kind="error", code=2, is_transient=True, http_status=503, times=1)
    sim.clear_requests()
    assert hook.get_profile(account["id"])["id"] == account["id"]
    assert _attempts(sim, account["id"]) == 3


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"kind": "malformed"}, TransientError),
        ({"kind": "error", "code": 2, "http_status": 503}, TransientError),
        ({"kind": "delay", "seconds": 3.0}, TransientError),
    ],
)
def test_other_transient_kinds_are_retried(hook, sim, account, fault, expected) -> None:
    sim.add_fault(method="GET", path=r"^/\d+$", **fault)
    sim.clear_requests()
    with pytest.raises(expected):
        hook.get_profile(account["id"])
    assert _attempts(sim, account["id"]) == 4


def test_an_object_that_is_gone_is_tried_once(hook, sim, account) -> None:
    # 100/33 (deleted post, expired story) was once taken for transient: never retry it.
    media_id = sim.truth("media", account_id=account["id"])[0]["id"]
    sim.delete_object(media_id)
    sim.clear_requests()
    with pytest.raises(ObjectNotFoundError) as caught:
        hook.get_media(account["id"], media_id)
    assert caught.value.retryable is False and "does not exist" in str(caught.value)
    assert len([r for r in sim.requests() if media_id in r["path"]]) == 1


def test_permission_error_is_tried_once(hook, sim, account) -> None:
    sim.add_fault(method="GET", path=r"^/\d+$", kind="error", code=10, http_status=403, type="IGApiException")
    sim.clear_requests()
    with pytest.raises(PermissionDeniedError) as caught:
        hook.get_profile(account["id"])
    assert caught.value.fbtrace_id and caught.value.fbtrace_id in str(caught.value)
    assert _attempts(sim, account["id"]) == 1


def test_invalid_request_is_tried_once(hook, sim, account) -> None:
    sim.clear_requests()
    with pytest.raises(InvalidRequestError, match=r"(?i)field"):
        hook.get_profile(account["id"], fields="id,no_such_field")
    assert _attempts(sim, account["id"]) == 1


def test_token_expired_at_meta_is_tried_once_and_recorded(hook, sim, account, token_store) -> None:
    sim.set_token(account["id"], expires_at=int(time.time()) - 60)
    sim.clear_requests()
    with pytest.raises(TokenExpiredError) as caught:
        hook.get_profile(account["id"])
    assert (caught.value.code, caught.value.subcode) == (190, 463)
    assert _attempts(sim, account["id"]) == 1
    status = {a.account_id: a.status for a in AccountRegistry(token_store).list_accounts()}
    assert status[account["id"]] == "expired"


def test_revoked_token_is_invalid(hook, sim, account) -> None:
    sim.set_token(account["id"], revoked=True)
    with pytest.raises(TokenInvalidError) as caught:
        hook.get_profile(account["id"])
    assert caught.value.code == 190 and caught.value.subcode == 467


def test_expired_token_in_store_raises_before_any_request(hook, sim, account, token_store) -> None:
    token_store.put(
        account["id"], account["token"], expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    sim.clear_requests()
    with pytest.raises(TokenExpiredError):
        hook.get_profile(account["id"])
    assert sim.requests() == []


def test_the_window_refuses_the_call_past_the_limit(make_hook, sim, account) -> None:
    hook = make_hook(calls_per_hour=3)
    for _ in range(3):
        hook.get_profile(account["id"])
    sim.clear_requests()
    with pytest.raises(RateLimitError) as caught:
        hook.get_profile(account["id"])
    assert 3500 < caught.value.retry_after <= 3600
    assert sim.requests() == []


def test_meta_throttle_pauses_every_worker(make_hook, sim, account) -> None:
    first, second = make_hook(), make_hook()
    sim.add_fault(method="GET", path=r"^/\d+$", kind="throttle", regain_minutes=5, times=1)
    with pytest.raises(RateLimitError) as caught:
        first.get_profile(account["id"])
    assert caught.value.retry_after == pytest.approx(300, abs=5)

    sim.clear_requests()
    with pytest.raises(RateLimitError):
        second.get_profile(account["id"])  # another worker: paused through Redis
    assert sim.requests() == []


def test_usage_headers_past_the_threshold_pause_a_second_hook(make_hook, sim, account) -> None:
    sim.configure(calls_per_hour=20)
    first, second = make_hook(), make_hook()
    with pytest.raises(RateLimitError):
        for _ in range(25):
            first.get_profile(account["id"])
    sim.clear_requests()
    with pytest.raises(RateLimitError):
        second.get_profile(account["id"])
    assert sim.requests() == []


def test_redis_down_fails_closed(sim, token_store, account) -> None:
    import redis as redis_lib

    from instagram_graph.hooks.graph_api import InstagramGraphHook
    from instagram_graph.rate_limit import RedisRateLimiter, UsageThrottle
    from instagram_graph.settings import GraphApiSettings

    dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    hook = InstagramGraphHook(
        settings=GraphApiSettings(base_url=sim.base_url, retry_base_delay=0.01),
        token_store=token_store,
        rate_limiter=RedisRateLimiter(dead),
        throttle=UsageThrottle(dead),
    )
    sim.clear_requests()
    with pytest.raises(RateLimiterUnavailableError):
        hook.get_profile(account["id"])
    assert sim.requests() == []


def test_backoff_grows_with_jitter(make_hook, sim, account, capsys) -> None:
    # The hook logs through Airflow's task logger, which writes to stdout here.
    hook = make_hook(retry_base_delay=0.05, retry_max_delay=1.0)
    sim.add_fault(method="GET", path=r"^/\d+$", kind="http_500")
    delays = []
    for _ in range(2):
        capsys.readouterr()
        with pytest.raises(TransientError):
            hook.get_profile(account["id"])
        text = capsys.readouterr().out
        run = [float(m) for m in re.findall(r"retrying in ([0-9.]+)s", text)]
        assert len(run) == 3 and "attempt 1 of 4" in text
        delays.append(run)
    for run in delays:
        assert 0.05 <= run[0] <= 0.10 and 0.10 <= run[1] <= 0.15 and 0.20 <= run[2] <= 0.25
    assert delays[0] != delays[1], "jitter makes two runs differ"


def test_no_token_in_logs_or_errors(make_hook, sim, account, task_logs) -> None:
    hook = make_hook()
    errors = []
    hook.get_profile(account["id"])
    list(hook.iter_media(account["id"]))
    for fault in ({"kind": "reset"}, {"kind": "http_500"}, {"kind": "error", "code": 190, "subcode": 467}):
        sim.clear_faults()
        sim.add_fault(method="GET", path=r"^/\d+$", **fault)
        try:
            hook.get_profile(account["id"])
        except Exception as exc:
            errors.append(exc)
    assert len(errors) == 3
    logged = task_logs()
    assert "GET /" in logged, "the hook's own log lines were captured"
    everything = logged + "\n".join(f"{e!s} {e!r} {e.__cause__!r} {e.__context__!r}" for e in errors)
    assert account["token"] not in everything
    assert all(r["params"].get("appsecret_proof") in (None, "***") for r in sim.requests())


def test_appsecret_proof_is_sent_when_the_app_requires_it(make_hook, sim, account) -> None:
    sim.set_app_secret("app-secret-for-tests")
    sim.set_token(account["id"], requires_appsecret_proof=True)

    with pytest.raises(InvalidRequestError, match="appsecret_proof"):
        make_hook().get_profile(account["id"])
    assert make_hook(app_secret="app-secret-for-tests").get_profile(account["id"])["id"] == account["id"]


def test_the_test_button_signs_like_a_real_call_and_fails_where_it_fails(sim, account, redis_client) -> None:
    """test_connection takes the call path's auth, send and classification: an app that
    requires appsecret_proof refuses the button exactly as it refuses a real call."""
    from instagram_graph.hooks.graph_api import InstagramGraphHook
    from instagram_graph.rate_limit import RedisRateLimiter, UsageThrottle
    from instagram_graph.settings import GraphApiSettings

    sim.set_app_secret("app-secret-for-tests")
    sim.set_token(account["id"], requires_appsecret_proof=True)

    def single_account_hook(**overrides) -> InstagramGraphHook:
        settings = GraphApiSettings(base_url=sim.base_url, access_token=account["token"], max_attempts=1, **overrides)
        return InstagramGraphHook(
            settings=settings, rate_limiter=RedisRateLimiter(redis_client), throttle=UsageThrottle(redis_client)
        )

    for secret, refusal in ((None, "require an appsecret_proof"), ("not-the-secret", "Invalid appsecret_proof")):
        hook = single_account_hook(app_secret=secret, audit_calls=False)
        ok, message = hook.test_connection()
        assert not ok and message.startswith("InvalidRequestError: ") and refusal in message and "code 100" in message
        assert account["token"] not in message
        with pytest.raises(InvalidRequestError, match=refusal):
            hook.get_profile(account["id"])
        hook.close()

    hook = single_account_hook(app_secret="app-secret-for-tests", audit_calls=False)
    assert hook.test_connection() == (True, f"Connected as {account['username']}")
    assert hook.get_profile(account["id"])["id"] == account["id"]
    hook.close()


def test_the_test_button_without_a_token_reaches_the_host_or_says_why_not(sim) -> None:
    from graph_api_sim.testing import free_port
    from instagram_graph.hooks.graph_api import InstagramGraphHook
    from instagram_graph.settings import GraphApiSettings

    reached = InstagramGraphHook(settings=GraphApiSettings(base_url=sim.base_url)).test_connection()
    assert reached == (True, f"Reached {sim.base_url} (HTTP 400); tokens live in the token store")
    nobody = InstagramGraphHook(settings=GraphApiSettings(base_url=f"http://127.0.0.1:{free_port()}", timeout=1.0))
    assert nobody.test_connection() == (False, "TransientError: GET /me failed: ConnectionError")
