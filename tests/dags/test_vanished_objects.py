"""Objects that vanish at Meta (deleted posts and comments, expired stories), through real DAG runs.

Meta answers 100/33 for them. The runs must stay green, mark exactly those rows with
``deleted_at``, and - from the run after - make no call about them at all.
"""

from __future__ import annotations

# Comments of every seeded media (two years), so media beyond the first page of the
# media edge are read one by one: deleting those exercises Meta's 100/33 answers.
COMMENTS_FOR_TWO_YEARS = '{"comment_days": 800}'
FIRST_PAGE = 100  # media per page of the media edge; the incremental walk reads only this one


def _sync(run_dag) -> None:
    for dag_id, conf in (("instagram_media", COMMENTS_FOR_TWO_YEARS), ("instagram_insights", None)):
        result = run_dag(dag_id, conf=conf)
        assert result.returncode == 0, result.output[-4000:]


def _calls_about(sim, object_ids: set[str]) -> list[str]:
    return [
        f"{r['method']} {r['path']}"
        for r in sim.requests()
        if any(part in object_ids for part in r["path"].strip("/").split("/"))
    ]


def test_deleted_media_comments_and_expired_stories_are_marked_and_never_asked_again(
    run_dag, sim, warehouse
) -> None:
    _sync(run_dag)
    account = sim.accounts()[0]["id"]
    media = sim.truth("media", account_id=account)
    on_first_page = [m for m in media[:FIRST_PAGE] if m.get("comments_count", 0) > 0]
    beyond = [m for m in media[FIRST_PAGE:] if m.get("comments_count", 0) > 0]
    assert len(on_first_page) >= 9 and len(beyond) >= 5, "the seeded world has commented media on and past page 1"
    # Five the media walk no longer lists; five only reads of the media itself find gone
    # (the oldest: the walk's page, short of five deleted media, reaches a little further).
    doomed_media = [m["id"] for m in on_first_page[:5] + beyond[-5:]]
    # Three comments of other media (a comment takes its replies with it).
    doomed_comments: list[str] = []
    expected_comment_marks: set[str] = set()
    for survivor in on_first_page[5:]:
        for comment in sim.truth("comments", media_id=survivor["id"])[:1]:
            doomed_comments.append(comment["id"])
            expected_comment_marks |= {comment["id"], *(r["id"] for r in comment.get("replies", []))}
        if len(doomed_comments) == 3:
            break
    assert len(doomed_comments) == 3
    stories = [s["id"] for a in sim.accounts() for s in sim.truth("stories", account_id=a["id"])]
    assert stories
    loaded_story_insights = warehouse(
        "SELECT count(DISTINCT media_id) FROM instagram.media_insights WHERE media_id = ANY(%s)", (stories,)
    )[0][0]
    assert loaded_story_insights > 0, "live stories' insights are read by the hourly media run"
    for media_id in doomed_media:
        expected_comment_marks |= {r[0] for r in warehouse(
            "SELECT comment_id FROM instagram.comments WHERE media_id = %s", (media_id,)
        )}
    for object_id in doomed_media + doomed_comments:
        sim.delete_object(object_id)
    sim.advance_clock(25 * 3600)  # every story is past its 24 hours

    sim.clear_requests()
    _sync(run_dag)
    first_rerun_calls = _calls_about(sim, set(doomed_media) | set(doomed_comments) | set(stories))

    marked_media = {r[0] for r in warehouse("SELECT media_id FROM instagram.media WHERE deleted_at IS NOT NULL")}
    assert marked_media == set(doomed_media)
    marked_comments = {r[0] for r in warehouse("SELECT comment_id FROM instagram.comments WHERE deleted_at IS NOT NULL")}
    assert marked_comments == expected_comment_marks
    assert warehouse("SELECT count(*) FROM instagram.media WHERE media_id = ANY(%s)", (stories,))[0][0] == len(stories), (
        "expired stories keep their rows"
    )

    sim.clear_requests()
    _sync(run_dag)
    second_rerun_calls = _calls_about(sim, set(doomed_media) | set(doomed_comments) | set(stories))
    print(f"\ncalls about vanished objects: first rerun {len(first_rerun_calls)}, second rerun {len(second_rerun_calls)}")
    assert len(first_rerun_calls) == 5, "one 100/33 per media past page 1 (never retried); the walk found the rest"
    assert second_rerun_calls == []
    assert len(sim.requests()) > 0, "the second rerun still synced the rest"
    # Nothing was lost: every row is still there, only marked.
    assert {r[0] for r in warehouse("SELECT media_id FROM instagram.media WHERE media_id = ANY(%s)", (doomed_media,))} == set(
        doomed_media
    )
