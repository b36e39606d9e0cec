"""How many requests per second the simulator answers for one keep-alive client.

    python -m graph_api_sim.bench_throughput [--seconds 5] [--base-url URL --token TOKEN]

Without ``--base-url`` it starts its own simulator subprocess. Two clients are timed:
a ``requests.Session`` (what the hook uses; the client is then the bottleneck) and a
bare ``http.client`` connection (closer to the server's own ceiling). Benchmarks of the
hook should stay well below these figures, so that they measure the client, not the server.
"""

from __future__ import annotations

import argparse
import http.client
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlparse

import requests

from .testing import SimulatorProcess


def measure(call: Callable[[], None], seconds: float) -> float:
    for _ in range(50):  # warm up the connection and the server
        call()
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        call()
        count += 1
    return count / (time.perf_counter() - started)


def run(base_url: str, token: str, seconds: float) -> None:
    session = requests.Session()
    parsed = urlparse(base_url)

    def with_requests(url: str) -> Callable[[], None]:
        return lambda: session.get(url).raise_for_status()

    def with_http_client(url: str) -> Callable[[], None]:
        target = url[len(base_url):]
        connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port)

        def call() -> None:
            connection.request("GET", target)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status

        return call

    cases = [
        ("GET /v24.0/me", "/v24.0/me", {}),
        ("GET /v24.0/me/media (25 items, 6 fields)", "/v24.0/me/media",
         {"fields": "id,caption,media_type,media_url,timestamp,like_count"}),
    ]
    print(f"{'':45s} {'requests':>10s} {'http.client':>12s}  (requests/s, one keep-alive connection)")
    for label, path, params in cases:
        url = f"{base_url}{path}?{urlencode({'access_token': token, **params})}"
        rates = [measure(client(url), seconds) for client in (with_requests, with_http_client)]
        print(f"{label:45s} {rates[0]:10.0f} {rates[1]:12.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--base-url")
    parser.add_argument("--token")
    args = parser.parse_args()
    if args.base_url:
        run(args.base_url, args.token, args.seconds)
        return
    # A limit the benchmark cannot reach, so it measures serving, not throttling.
    with SimulatorProcess(accounts=1, media_per_account=200, seed=7, calls_per_hour=10**9) as sim:
        run(sim.base_url, sim.accounts()[0]["token"], args.seconds)


if __name__ == "__main__":
    main()
