"""``SimulatorProcess``: the simulator as a subprocess on a free loopback port, for tests.

    with SimulatorProcess(accounts=3, media_per_account=120, seed=7) as sim:
        token = sim.accounts()[0]["token"]
        requests.get(f"{sim.base_url}/v24.0/me", params={"access_token": token})
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

STARTUP_TIMEOUT = 20.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


def untraced_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` without the variables that start coverage in a child process.

    Coverage measures the package under test, never the simulator; tracing the simulator's
    every call would only make it (and every test that pages through it) slower.
    """
    return {name: value for name, value in env.items() if not name.startswith("COVERAGE_")}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def login_of(account: dict[str, Any]) -> dict[str, Any]:
    """The ``TokenStore.put`` arguments that say how an account of ``/__sim__/accounts`` is reached."""
    if account.get("login") == "facebook":
        return {"login": "facebook", "page_id": account["page_id"], "facebook_user_id": account["facebook_user_id"]}
    return {}


class SimulatorProcess:
    """Starts ``python -m graph_api_sim`` and wraps its control API in plain methods."""

    def __init__(self, accounts: int = 3, media_per_account: int = 120, seed: int = 7,
                 container_finish_seconds: float = 0.5, calls_per_hour: int = 4800, login: str = "both",
                 extra_args: Sequence[str] = (), startup_timeout: float = STARTUP_TIMEOUT) -> None:
        """:param login: ``instagram``, ``facebook`` or ``both`` (every second account uses Facebook Login)."""
        self.accounts_count = accounts
        self.args = [
            "--accounts", str(accounts), "--media-per-account", str(media_per_account), "--seed", str(seed),
            "--container-finish-seconds", str(container_finish_seconds), "--calls-per-hour", str(calls_per_hour),
            "--login", login, *extra_args,
        ]
        self.startup_timeout = startup_timeout
        self.port = 0
        self.base_url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None
        self._session = requests.Session()

    @classmethod
    def attach(cls, base_url: str) -> SimulatorProcess:
        """Control a simulator that runs on its own (under `make airflow`); stop() leaves it running."""
        sim = cls()
        sim.base_url = base_url.rstrip("/")
        sim.port = int(sim.base_url.rsplit(":", 1)[1])
        return sim

    # --- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> SimulatorProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        last_error = ""
        for _ in range(3):  # a port picked as free can be taken before the child binds it
            self.port = free_port()
            self.base_url = f"http://127.0.0.1:{self.port}"
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - open for the child's lifetime
            env = untraced_env(dict(os.environ))
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
            self._process = subprocess.Popen(
                [sys.executable, "-m", "graph_api_sim", "--host", "127.0.0.1", "--port", str(self.port),
                 "--log-level", "warning", *self.args],
                stdout=subprocess.DEVNULL, stderr=self._stderr, env=env,
            )
            if self._wait_until_ready():
                return
            last_error = self._read_stderr()
            self.stop()
            if "address already in use" not in last_error.lower():
                break
        raise RuntimeError(f"graph_api_sim did not start within {self.startup_timeout:.0f} s:\n{last_error}")

    def _wait_until_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                if self._session.get(f"{self.base_url}/__sim__/health", timeout=1).ok:
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        return False

    def _read_stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._session.close()
        self._session = requests.Session()

    # --- control API ------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._session.request(method, f"{self.base_url}/__sim__{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._call("POST", "/reset")

    def accounts(self) -> list[dict[str, Any]]:
        return self._call("GET", "/accounts")

    def facebook_extra(self) -> dict[str, str]:
        """The ``instagram_graph`` connection extras that send Facebook Login calls (and the
        Facebook app's exchanges) to this simulator, whatever login its accounts use."""
        config = self.config()
        return {"facebook_base_url": f"{self.base_url}/facebook", "facebook_app_id": config["facebook_app_id"],
                "facebook_app_secret": config["facebook_app_secret"]}

    def facebook_user(self) -> dict[str, Any]:
        """The Facebook user of the Facebook Login accounts (its short-lived token, its Pages)."""
        return self._call("GET", "/facebook_user")

    def register_accounts(self, store: Any) -> list[dict[str, Any]]:
        """Put every account's token, expiry and scopes into ``store`` (a TokenStore); return the accounts.

        What the tests and ``make demo`` do before any DAG can call the simulator. A Facebook
        Login account is registered with its Page token and Page, and its Facebook user with
        the user's long-lived token, as ``instagram-graph accounts discover`` would.
        """
        accounts = self.accounts()
        if any(account.get("login") == "facebook" for account in accounts):
            user = self.facebook_user()
            store.put_facebook_user(
                user["id"], user["long_lived_token"], name=user["name"],
                expires_at=datetime.fromtimestamp(user["long_lived_token_expires_at"], tz=UTC),
                issued_at=datetime.fromtimestamp(user["long_lived_token_issued_at"], tz=UTC),
            )
        for account in accounts:
            expires_at = account["token_expires_at"]
            store.put(
                account["id"],
                account["token"],
                expires_at=None if expires_at is None else datetime.fromtimestamp(expires_at, tz=UTC),
                issued_at=datetime.fromtimestamp(account["token_issued_at"], tz=UTC),
                scopes=account.get("permissions", []),
                username=account.get("username"),
                **login_of(account),
            )
        return accounts

    def add_fault(self, **spec: Any) -> str:
        return self._call("POST", "/faults", json=spec)["id"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        return self._call("GET", "/requests", params={k: v for k, v in filters.items() if v is not None})

    def request_count(self, status: int | None = None) -> int:
        """Calls since the log was last cleared, however many that is (``status``: only those
        answered with it)."""
        counts = self.request_counts()
        return int(counts["total"] if status is None else counts["by_status"].get(str(status), 0))

    def request_counts(self) -> dict[str, Any]:
        """``{"total": calls, "by_status": {"200": n, "400": n, ..., "dropped": n}}`` since the last clear."""
        return dict(self._call("GET", "/requests/count"))

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def truth(self, kind: str, **params: Any) -> Any:
        return self._call("GET", f"/truth/{kind}", params=params)

    def configure(self, **settings: Any) -> dict[str, Any]:
        return self._call("POST", "/config", json=settings)

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/config")

    def set_token(self, account_id: str, **changes: Any) -> dict[str, Any]:
        return self._call("POST", f"/tokens/{account_id}", json=changes)

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/clock", json={"advance_seconds": seconds})

    def set_app_secret(self, secret: str) -> None:
        self.configure(app_secret=secret)

    def set_container(self, container_id: str, status_code: str, reason: str | None = None) -> dict[str, Any]:
        return self._call("POST", f"/containers/{container_id}", json={"status_code": status_code, "reason": reason})

    def customer_writes(self, conversation_id: str, text: str) -> dict[str, Any]:
        return self._call("POST", f"/conversations/{conversation_id}/messages", json={"text": text})

    def refuse_publish(self, error: str, times: int = 1, account_id: str | None = None) -> list[dict[str, Any]]:
        """The next ``times`` media_publish calls answer ``error`` ("not_ready": 9007/2207027,
        "builder_expired": 24/2207008) and publish nothing."""
        return self._call("POST", "/publish_refusals", json={"error": error, "times": times, "account_id": account_id})

    def delete_object(self, object_id: str) -> dict[str, Any]:
        """A feed media, story, comment or reply disappears, as if deleted in the Instagram app."""
        return self._call("DELETE", f"/objects/{object_id}")
