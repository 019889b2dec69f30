"""The Lambda@Edge view: its model, and the widget driven as a learner would."""

from __future__ import annotations

import time

import boto3
import pytest

import helpers


@pytest.fixture
def view(lab):
    view = helpers.edge_view(lab, name=f"edgepg-{time.monotonic_ns() % 10**9}")
    yield view
    view.close()


def send(view, path: str, group: str = "none", broken: bool = False):
    view.path.value, view.group.value, view.broken.value = path, group, broken
    view.send_button.click()
    view.wait()
    return view.model.results[-1]


def stages(view) -> dict:
    return {row["stage"]: row for row in view.model.steps()}


def test_a_miss_runs_all_four_triggers_and_a_hit_skips_the_origin_ones(view):
    first = send(view, "/", group="b")
    assert first.status == 200, view.message.value
    assert first.body == "<h1>Version B</h1>"
    assert first.header("X-Cache") == "Miss from cloudfront"
    assert first.header("Strict-Transport-Security") == "max-age=63072000"
    assert first.header("X-Viewer-Response") == "ran"
    way = stages(view)
    assert all(way[stage]["ran"] for stage in ("viewer-request", "cache", "origin-request",
                                               "origin", "origin-response",
                                               "viewer-response"))
    assert "uri / -> /b/index.html" in way["viewer-request"]["what"]
    assert way["origin"]["what"] == "GET /b/index.html -> 200"
    second = send(view, "/", group="b")
    assert second.header("X-Cache") == "Hit from cloudfront"
    way = stages(view)
    assert way["cache"]["what"].startswith("hit")
    for stage in ("origin-request", "origin", "origin-response"):
        assert not way[stage]["ran"] and way[stage]["what"] == "skipped: cache hit"
    assert way["viewer-response"]["ran"]
    assert "Version B" in view.way.value and "Hit from cloudfront" in view.history.value


def test_the_groups_get_their_own_page_and_origin_request_adds_html(view):
    assert send(view, "/").body == "<h1>Version A</h1>"  # no cookie: group a
    about = send(view, "/about")
    assert about.status == 200 and about.body == "<h1>About</h1>"
    assert "uri /about -> /about.html" in stages(view)["origin-request"]["what"]


def test_a_disallowed_header_answers_502_and_invalidate_empties_the_cache(view):
    send(view, "/about")
    assert send(view, "/about").header("X-Cache") == "Hit from cloudfront"
    broken = send(view, "/about", broken=True)
    assert broken.status == 200  # a hit: origin-response does not run
    view.invalidate_button.click()
    view.wait()
    assert "the cache is empty" in view.message.value
    broken = send(view, "/about", broken=True)
    assert broken.status == 502 and broken.header("X-Cache") == "Error from cloudfront"
    way = stages(view)
    assert way["origin-response"]["what"].startswith("invalid")
    assert "x-cache" in way["origin-response"]["what"]
    assert not way["viewer-response"]["ran"]


def test_a_missing_page_skips_viewer_response_and_bad_input_is_said(view):
    missing = send(view, "/nothing.txt")
    assert missing.status == 404
    assert stages(view)["viewer-response"]["what"] == \
        "skipped: the origin answered 400 or more"
    view.path.value = "no-slash"
    view.send_button.click()
    view.wait()
    assert "The path starts with" in view.message.value


def test_the_view_sets_itself_up_again_after_a_clean_up(view):
    model = view.model
    boto3.client("cloudfront").delete_distribution(Id=model.distribution_id, IfMatch="x")
    again = send(view, "/")
    assert again.status == 200, view.message.value
    assert model.describe().splitlines()[0].startswith("GET / (group none): HTTP 200")
