"""The limiter's Redis client is shared by every thread of a shard task (up to 128)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import redis
from airflow.sdk import Connection

from instagram_graph.rate_limit.redis_client import MAX_CONNECTIONS, redis_from_connection


def _connection(redis_client: redis.Redis) -> Connection:
    kwargs = redis_client.connection_pool.connection_kwargs
    return Connection(conn_id="instagram_redis", conn_type="redis", host=kwargs["host"], port=kwargs["port"],
                      extra=json.dumps({"db": kwargs["db"]}))


def _hold_a_connection(client: redis.Redis) -> None:
    client.blpop(["nothing-will-come"], timeout=0.3)  # keeps its connection 0.3 s: they all overlap


def test_more_threads_than_connections_wait_for_one_instead_of_failing(redis_client) -> None:
    client = redis_from_connection(_connection(redis_client))
    with ThreadPoolExecutor(4 * MAX_CONNECTIONS) as threads:
        list(threads.map(lambda _: _hold_a_connection(client), range(4 * MAX_CONNECTIONS)))
    assert len(client.connection_pool._connections) <= MAX_CONNECTIONS
    assert client.connection_pool.connection_kwargs["db"] == redis_client.connection_pool.connection_kwargs["db"]
    client.close()
