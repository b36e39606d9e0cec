"""Shards of accounts: how many task instances a sync DAG run makes, and which account is where."""

from __future__ import annotations

import pytest

from instagram_graph.shards import Shard, plan, shard_from_arg, shard_size


@pytest.mark.parametrize(
    ("accounts", "size", "tasks"),
    [(1, 1, 1), (16, 1, 16), (17, 1024, 1), (100, 1024, 1), (1_000, 1024, 1), (1_025, 1024, 2),
     (32_768, 1024, 32), (32_769, 2048, 17), (10_000, 1024, 10), (100_000, 4096, 25)],
)
def test_automatic_shards_one_task_per_account_when_few_and_a_few_dozen_big_shards_at_most(
    accounts, size, tasks
) -> None:
    assert shard_size(0, accounts) == size
    shards = plan(list(range(accounts)))
    assert len(shards) == tasks
    assert sum(s.accounts for s in shards) == accounts


def test_shards_of_fifty_are_named_by_their_range() -> None:
    shards = plan(list(range(120)), 50)
    assert [(s.first, s.last, s.accounts) for s in shards] == [(0, 49, 50), (50, 99, 50), (100, 149, 20)]
    assert [s.label for s in shards] == ["accounts 1-50 (50)", "accounts 51-100 (50)", "accounts 101-150 (20)"]


def test_an_account_stays_in_its_shard_as_others_come_and_go() -> None:
    before = {o: s.index for s in plan(list(range(120)), 50) for o in range(s.first, s.last + 1)}
    ordinals = [o for o in range(130) if o not in (3, 57, 60)]  # three left, ten came
    after = {o: s.index for s in plan(ordinals, 50) for o in range(s.first, s.last + 1)}
    assert all(after[o] == before[o] for o in ordinals if o < 120)
    assert len(plan(ordinals, 50)) == 3


def test_max_map_length_never_caps_the_number_of_accounts() -> None:
    shards = plan(list(range(120)), 1, max_map_length=10)
    assert len(shards) <= 10 and sum(s.accounts for s in shards) == 120
    assert len(plan(list(range(1_025)), 1)) <= 1024, "Airflow's default refuses 1,025 mapped instances"
    assert len(plan(list(range(5)), 1)) == 5, "one task per account when it fits"


def test_empty_and_sparse_ordinals() -> None:
    assert plan([]) == []
    shards = plan([0, 1, 200], 50)
    assert [(s.index, s.accounts) for s in shards] == [(0, 2), (4, 1)], "empty ranges make no task"


def test_the_mapped_argument_round_trips_and_bad_ones_are_named() -> None:
    shard = Shard(2, 100, 149, 20)
    assert shard_from_arg(shard.as_arg()) == shard
    assert shard_from_arg({**shard.as_arg(), "name": "shop (1)"}).label == "shop (1)"
    with pytest.raises(ValueError, match="shard must be a mapping"):
        shard_from_arg("accounts 1-50")
    with pytest.raises(ValueError, match="accounts_per_task"):
        shard_size(-1, 10)
