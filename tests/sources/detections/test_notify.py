"""Alert delivery (``visionlake notify detections``): each alert delivered once, retries, rejections, a kill
between a POST and its record, against a local webhook server. No Spark."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from tests.conftest import REPO

from visionlake.config import NotifySettings
from visionlake.devtools import free_port, webhook_server
from visionlake.errors import ConfigError, LakeError
from visionlake.lake import reader
from visionlake.sources.detections import notify as nt

KEY = "R0UTINGKEY0123456789abcdef012345"  # a made-up PagerDuty routing key

ALERTS_SCHEMA = pa.schema(
    [
        ("alert_id", pa.string()),
        ("dedup_key", pa.string()),
        ("rule_id", pa.int32()),
        ("rule_version", pa.int32()),
        ("severity", pa.string()),
        ("user_id", pa.string()),
        ("device_id", pa.string()),
        ("site_id", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("last_seen_at", pa.timestamp("us", tz="UTC")),
        ("frames", pa.int64()),
        ("labels_matched", pa.list_(pa.string())),
        ("peak_score", pa.float64()),
        ("median_score", pa.float64()),
        ("first_frame_key", pa.string()),
        ("alerted_at", pa.timestamp("us", tz="UTC")),
        ("local_date", pa.date32()),
    ]
)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _alert(n: int, rule_id: int, severity: str, user: str, device: str, site: str, started: str, **more) -> dict:
    alert_id = f"{n:032x}"
    return {
        "alert_id": alert_id,
        "dedup_key": f"visionlake/detections/rule-{rule_id}/{alert_id}",
        "rule_id": rule_id,
        "rule_version": 1,
        "severity": severity,
        "user_id": user,
        "device_id": device,
        "site_id": site,
        "started_at": _t(started),
        "last_seen_at": _t(started),
        "frames": 3,
        "labels_matched": ["person"],
        "peak_score": 0.9,
        "median_score": 0.8,
        "first_frame_key": f"frame-{n}",
        "alerted_at": _t(started),
        "local_date": date(2026, 11, 30),
        **more,
    }


# written in an order other than started_at, which is the order of delivery: B (22:00), A (22:14), C (23:30)
A = _alert(
    0xA,
    3,
    "critical",
    "u-0042",
    "cam-03",
    "site-7",
    "2026-11-30T22:14:05.120000",
    last_seen_at=_t("2026-11-30T22:15:40"),
    frames=7,
    labels_matched=["dog", "person"],
    peak_score=0.97,
    median_score=0.81,
    alerted_at=_t("2026-11-30T22:14:09"),
)
B = _alert(0xB, 5, "warning", "u-0042", "cam-01", "site-7", "2026-11-30T22:00:00")
C = _alert(0xC, 3, "error", "u-0099", "cam-11", "site-2", "2026-11-30T23:30:00")
ORDER = [B["alert_id"], A["alert_id"], C["alert_id"]]


@pytest.fixture
def lake(tmp_path) -> str:
    from deltalake import write_deltalake

    root = tmp_path / "lake"
    rows = pa.Table.from_pylist([A, B, C], schema=ALERTS_SCHEMA)
    write_deltalake(str(root / "gold" / "detections" / "alerts"), rows)
    return str(root)


@pytest.fixture
def fast(cfg):
    """The test configuration with small timeouts and backoff."""
    settings = NotifySettings(timeout_seconds=2.0, max_attempts=4, backoff_seconds=0.01)
    return dataclasses.replace(cfg, detections=dataclasses.replace(cfg.detections, notify=settings))


@pytest.fixture(autouse=True)
def routing_key(monkeypatch):
    monkeypatch.setenv(nt.ROUTING_KEY_ENV, KEY)


def _deliveries(lake: str) -> list[tuple]:
    """(alert_id, attempt, status, http_status, error) of every delivery row, sorted."""
    table = reader.read_table(f"{lake}/gold/detections/alert_deliveries")
    if table is None:
        return []
    return sorted((r["alert_id"], r["attempt"], r["status"], r["http_status"], r["error"]) for r in table.to_pylist())


def _sent_ids(hook) -> list[str]:
    return [r["body"]["dedup_key"].rsplit("/", 1)[1] for r in hook.received]


# --------------------------------------------------------------------------------------------------
# delivered once


def test_every_alert_is_delivered_once_as_a_pagerduty_event(lake, fast):
    with webhook_server() as hook:
        result = nt.notify(lake, hook.url + "v2/enqueue", "pagerduty", fast)
        assert (result.alerts, result.sent, result.delivered, result.rejected, result.failed, result.pending) == (
            3,
            3,
            3,
            0,
            0,
            0,
        )
        assert _sent_ids(hook) == ORDER  # oldest started_at first
        assert [r["path"] for r in hook.received] == ["/v2/enqueue"] * 3
        event = hook.received[1]["body"]
        assert event == {
            "routing_key": KEY,
            "event_action": "trigger",
            "dedup_key": "visionlake/detections/rule-3/0000000000000000000000000000000a",
            "payload": {
                "summary": "dog, person on cam-03 at site site-7: rule 3 v1, 7 frames, peak score 0.97",
                "source": "cam-03",
                "severity": "critical",
                "timestamp": "2026-11-30T22:14:05.120000Z",
                "component": "site-7",
                "group": "u-0042",
                "class": "rule-3",
                "custom_details": {
                    "alert_id": "0000000000000000000000000000000a",
                    "dedup_key": "visionlake/detections/rule-3/0000000000000000000000000000000a",
                    "rule_id": 3,
                    "rule_version": 1,
                    "severity": "critical",
                    "user_id": "u-0042",
                    "device_id": "cam-03",
                    "site_id": "site-7",
                    "started_at": "2026-11-30T22:14:05.120000Z",
                    "last_seen_at": "2026-11-30T22:15:40Z",
                    "frames": 7,
                    "labels_matched": ["dog", "person"],
                    "peak_score": 0.97,
                    "median_score": 0.81,
                    "first_frame_key": "frame-10",
                    "alerted_at": "2026-11-30T22:14:09Z",
                    "local_date": "2026-11-30",
                },
            },
        }
        headers = hook.received[1]["headers"]
        assert headers["Content-Type"] == "application/json"
        assert headers["Idempotency-Key"] == event["dedup_key"]
        assert [r["body"]["payload"]["severity"] for r in hook.received] == ["warning", "critical", "error"]
        assert _deliveries(lake) == sorted((i, 1, "delivered", 202, None) for i in ORDER)

        again = nt.notify(lake, hook.url + "v2/enqueue", "pagerduty", fast)
        assert (again.sent, again.delivered, again.delivered_before, again.pending) == (0, 0, 3, 0)
        assert len(hook.received) == 3
        assert len(_deliveries(lake)) == 3
        assert "every alert was delivered or rejected by an earlier call" in again.report()
        assert KEY not in result.report() + again.report()


def test_json_format_posts_the_alert_row(lake, fast):
    with webhook_server() as hook:
        result = nt.notify(lake, hook.url, "json", fast)
    assert result.delivered == 3
    assert hook.received[0]["body"] == {
        "alert_id": "0000000000000000000000000000000b",
        "dedup_key": "visionlake/detections/rule-5/0000000000000000000000000000000b",
        "rule_id": 5,
        "rule_version": 1,
        "severity": "warning",
        "user_id": "u-0042",
        "device_id": "cam-01",
        "site_id": "site-7",
        "started_at": "2026-11-30T22:00:00Z",
        "last_seen_at": "2026-11-30T22:00:00Z",
        "frames": 3,
        "labels_matched": ["person"],
        "peak_score": 0.9,
        "median_score": 0.8,
        "first_frame_key": "frame-11",
        "alerted_at": "2026-11-30T22:00:00Z",
        "local_date": "2026-11-30",
    }
    assert all(KEY not in str(r["body"]) for r in hook.received)  # the routing key is for PagerDuty only


# --------------------------------------------------------------------------------------------------
# retries


def test_server_errors_are_retried_and_attempts_recorded(lake, fast):
    with webhook_server(fail_first=2, fail_status=503) as hook:
        result = nt.notify(lake, hook.url, "pagerduty", fast)
    assert (result.sent, result.delivered, result.failed) == (5, 3, 0)
    assert _sent_ids(hook) == [ORDER[0]] * 3 + ORDER[1:]
    assert [r["status"] for r in hook.received] == [503, 503, 202, 202, 202]
    b, a, c = ORDER
    assert _deliveries(lake) == sorted(
        [
            (b, 1, "failed", 503, 'HTTP 503 Service Unavailable: {"status": "error"}'),
            (b, 2, "failed", 503, 'HTTP 503 Service Unavailable: {"status": "error"}'),
            (b, 3, "delivered", 202, None),
            (a, 1, "delivered", 202, None),
            (c, 1, "delivered", 202, None),
        ]
    )
    assert result.outcomes[0] == nt.AlertOutcome(b, f"visionlake/detections/rule-5/{b}", "delivered", (1, 2, 3), 202)


def test_throttling_is_retried(lake, fast):
    with webhook_server(fail_first=1, fail_status=429) as hook:
        result = nt.notify(lake, hook.url, "pagerduty", fast)
    assert (result.sent, result.delivered) == (4, 3)
    assert [r["status"] for r in hook.received] == [429, 202, 202, 202]


def test_timeouts_are_retried(lake, fast):
    cfg = dataclasses.replace(
        fast, detections=dataclasses.replace(fast.detections, notify=NotifySettings(0.3, 4, 0.01))
    )
    with webhook_server() as hook:
        hook.delay_next(2, 1.0)
        result = nt.notify(lake, hook.url, "pagerduty", cfg)
    assert (result.sent, result.delivered) == (5, 3)
    assert _sent_ids(hook) == [ORDER[0]] * 3 + ORDER[1:]  # the timed-out POSTs did arrive
    timed_out = "no answer within 0.3 s (detections.notify.timeout_seconds)"
    b = ORDER[0]
    assert [row for row in _deliveries(lake) if row[0] == b] == [
        (b, 1, "failed", None, timed_out),
        (b, 2, "failed", None, timed_out),
        (b, 3, "delivered", 202, None),
    ]


def test_a_receiver_that_never_stops_answering_times_out(lake, fast):
    """The socket's timeout bounds each read: until Dec 7 a receiver that sent a header line every 0.1 s held the
    POST for as long as it went on."""
    cfg = dataclasses.replace(
        fast, detections=dataclasses.replace(fast.detections, notify=NotifySettings(0.5, 4, 0.01))
    )
    with webhook_server() as hook:
        hook.delay_next(1, 3.0, trickle=True)
        started = time.monotonic()
        result = nt.notify(lake, hook.url, "pagerduty", cfg)
        took = time.monotonic() - started
    assert (result.sent, result.delivered) == (4, 3)
    b = ORDER[0]
    assert [row for row in _deliveries(lake) if row[0] == b] == [
        (b, 1, "failed", None, "no answer within 0.5 s (detections.notify.timeout_seconds)"),
        (b, 2, "delivered", 202, None),
    ]
    assert took < 3.0  # it gave up on the first POST before the receiver was done with it


def test_a_client_error_rejects_the_alert_for_good(lake, fast):
    with webhook_server(fail_first=1, fail_status=400) as hook:
        result = nt.notify(lake, hook.url, "pagerduty", fast)
        assert (result.sent, result.delivered, result.rejected, result.pending) == (3, 2, 1, 0)
        b, a, c = ORDER
        assert _deliveries(lake) == sorted(
            [
                (b, 1, "rejected", 400, 'HTTP 400 Bad Request: {"status": "error"}'),
                (a, 1, "delivered", 202, None),
                (c, 1, "delivered", 202, None),
            ]
        )
        assert f"rejected: alert {b} (attempts 1-1): HTTP 400" in result.report()

        again = nt.notify(lake, hook.url, "pagerduty", fast)
        assert (again.sent, again.rejected_before, again.delivered_before) == (0, 1, 2)
        assert len(hook.received) == 3


def test_an_alert_out_of_attempts_stays_pending_for_the_next_call(lake, fast):
    with webhook_server(fail_first=4, fail_status=500) as hook:  # max_attempts is 4
        result = nt.notify(lake, hook.url, "pagerduty", fast)
        b, a, c = ORDER
        assert (result.sent, result.delivered, result.failed, result.pending) == (4, 0, 1, 3)
        assert [(o.alert_id, o.status, o.attempts) for o in result.outcomes] == [
            (b, "failed", (1, 2, 3, 4)),
            (a, "pending", ()),  # the endpoint is taken to be down: not tried in this call
            (c, "pending", ()),
        ]
        assert "kept failing for 4 attempts" in result.report()
        # the one that failed is not counted again among those not tried
        assert ": 0 delivered, 0 rejected, 1 failed, 2 not tried; 4 POSTs" in result.report()
        assert "3 left for the next call)" in result.report()
        assert [row[1:3] for row in _deliveries(lake)] == [(1, "failed"), (2, "failed"), (3, "failed"), (4, "failed")]

        again = nt.notify(lake, hook.url, "pagerduty", fast)
        assert (again.sent, again.delivered, again.failed, again.pending) == (3, 3, 0, 0)
        assert _sent_ids(hook) == [b] * 5 + [a, c]
        delivered = [row[:3] for row in _deliveries(lake) if row[2] == "delivered"]
        assert delivered == sorted([(b, 5, "delivered"), (a, 1, "delivered"), (c, 1, "delivered")])


def test_the_command_exits_1_naming_every_alert_left_for_the_next_call(lake, monkeypatch, capsys):
    from visionlake import cli

    monkeypatch.setenv("VISIONLAKE__DETECTIONS__NOTIFY__MAX_ATTEMPTS", "2")
    monkeypatch.setenv("VISIONLAKE__DETECTIONS__NOTIFY__BACKOFF_SECONDS", "0.01")
    with webhook_server(fail_first=2, fail_status=503) as hook:
        code = cli.main(["notify", "detections", "--lake", lake, "--webhook", hook.url, "--format", "json"])
    assert code == 1
    err = capsys.readouterr().err
    assert "3 alerts not delivered (1 failed, the rest not tried): the next call sends them" in err


def test_the_command_exits_1_when_the_receiver_rejects_alerts_and_0_on_the_next_call(lake, capsys):
    from visionlake import cli

    argv = ["notify", "detections", "--lake", lake, "--format", "json"]
    with webhook_server(fail_first=1, fail_status=400) as hook:
        code = cli.main([*argv, "--webhook", hook.url])
        assert code == 1
        err = capsys.readouterr().err
        assert "1 alerts rejected by the receiver (HTTP 4xx), never sent again" in err
        assert "not delivered" not in err  # the other two were delivered

        assert cli.main([*argv, "--webhook", hook.url]) == 0  # settled before: nothing sent, nothing to see
        assert len(hook.received) == 3


def test_connection_errors_are_failures(lake, fast):
    result = nt.notify(lake, f"http://127.0.0.1:{free_port()}/", "pagerduty", fast)
    assert (result.sent, result.failed, result.pending) == (4, 1, 3)
    assert all(row[2:4] == ("failed", None) and "connection failed" in row[4] for row in _deliveries(lake))


# --------------------------------------------------------------------------------------------------
# a kill between a POST and its record

NOTIFY = """
import dataclasses, sys
from visionlake.config import NotifySettings, load_config
from visionlake.sources.detections.notify import notify
cfg = load_config("local", environ={})
cfg = dataclasses.replace(cfg, detections=dataclasses.replace(cfg.detections, notify=NotifySettings(2.0, 3, 0.01)))
print(notify(sys.argv[1], sys.argv[2], "pagerduty", cfg).report())
"""


def test_a_kill_after_a_post_resends_only_that_alert_with_the_same_dedup_key(lake, fast):
    env = {**os.environ, "VISIONLAKE_KILL_AT": "notify:sent#2"}
    with webhook_server() as hook:
        killed = subprocess.run(
            [sys.executable, "-c", NOTIFY, lake, hook.url], env=env, cwd=REPO, capture_output=True, text=True
        )
        assert killed.returncode == -9, killed.stderr
        assert _sent_ids(hook) == ORDER[:2]  # the second POST was answered, its record never committed
        assert _deliveries(lake) == [(ORDER[0], 1, "delivered", 202, None)]

        env.pop("VISIONLAKE_KILL_AT")
        rerun = subprocess.run(
            [sys.executable, "-c", NOTIFY, lake, hook.url], env=env, cwd=REPO, capture_output=True, text=True
        )
        assert rerun.returncode == 0, rerun.stderr
        assert "2 delivered, 0 rejected, 0 failed, 0 not tried; 2 POSTs" in rerun.stdout
        assert "was killed while sending" in rerun.stdout
        assert _sent_ids(hook) == [ORDER[0], ORDER[1], ORDER[1], ORDER[2]]
        resent = [r["body"]["dedup_key"] for r in hook.received[1:3]]
        assert resent == [f"visionlake/detections/rule-3/{ORDER[1]}"] * 2
        assert _deliveries(lake) == sorted((i, 1, "delivered", 202, None) for i in ORDER)


# --------------------------------------------------------------------------------------------------
# an episode that took in one already delivered (a late frame before its first frame, or bridging two)


def _replace_alerts(lake: str, rows: list[dict]) -> None:
    from deltalake import write_deltalake

    write_deltalake(
        str(Path(lake) / "gold" / "detections" / "alerts"),
        pa.Table.from_pylist(rows, schema=ALERTS_SCHEMA),
        mode="overwrite",
    )


def test_an_alert_whose_episode_took_in_a_delivered_one_is_sent_with_its_dedup_key(lake, fast):
    """A late frame at 22:13 before A's episode (22:14:05-22:15:40) makes gold's episode start there: a new
    alert id (A2). It goes out with A's dedup_key, so the receiver updates A's incident instead of paging again;
    B's camera has a new episode that overlaps nothing delivered and gets its own key."""
    a = ORDER[1]
    with webhook_server() as hook:
        nt.notify(lake, hook.url, "json", fast)
        a2 = _alert(
            0xA2,
            3,
            "critical",
            "u-0042",
            "cam-03",
            "site-7",
            "2026-11-30T22:13:00",
            last_seen_at=_t("2026-11-30T22:15:40"),
            frames=8,
        )
        # same camera, other rule; same rule, other camera; the camera and rule of A after its end: all new
        others = [
            _alert(0xD1, 5, "critical", "u-0042", "cam-03", "site-7", "2026-11-30T22:14:30"),
            _alert(0xD2, 3, "critical", "u-0042", "cam-01", "site-7", "2026-11-30T22:14:30"),
            _alert(0xD3, 3, "critical", "u-0042", "cam-03", "site-7", "2026-11-30T22:15:41"),
        ]
        _replace_alerts(lake, [a2, B, C, *others])
        result = nt.notify(lake, hook.url, "json", fast)
        assert (result.sent, result.delivered, result.delivered_before) == (4, 4, 2)
        sent = {r["body"]["alert_id"]: r for r in hook.received[3:]}
        assert sent[a2["alert_id"]]["body"]["dedup_key"] == f"visionlake/detections/rule-3/{a}"
        assert sent[a2["alert_id"]]["body"]["continues_alert_id"] == a
        # the header names the request, not the incident: a receiver holding to it would refuse A's key with a new
        # body (the IETF draft's 422, which notify takes as a final rejection)
        assert sent[a2["alert_id"]]["headers"]["Idempotency-Key"] == a2["dedup_key"]
        for other in others:
            assert sent[other["alert_id"]]["body"]["dedup_key"] == other["dedup_key"]
            assert "continues_alert_id" not in sent[other["alert_id"]]["body"]
        assert f"alert {a2['alert_id']} continues alert {a}, delivered earlier: sent with its dedup_key" in (
            result.report()
        )
        table = reader.read_table(f"{lake}/gold/detections/alert_deliveries").to_pylist()
        row = next(r for r in table if r["alert_id"] == a2["alert_id"])
        assert (row["dedup_key"], row["started_at"], row["last_seen_at"]) == (
            f"visionlake/detections/rule-3/{a}",
            _t("2026-11-30T22:13:00"),
            _t("2026-11-30T22:15:40"),
        )
        # a third frame bridging A2 and D3 into one episode: it keeps A's key, the earliest delivered
        bridged = _alert(
            0xA3,
            3,
            "critical",
            "u-0042",
            "cam-03",
            "site-7",
            "2026-11-30T22:13:00",
            last_seen_at=_t("2026-11-30T22:16:00"),
        )
        _replace_alerts(lake, [bridged, B, C, *others[:2]])
        again = nt.notify(lake, hook.url, "json", fast)
        assert again.sent == 1
        assert hook.received[-1]["body"]["dedup_key"] == f"visionlake/detections/rule-3/{a}"


def test_an_alert_gold_no_longer_has_is_withdrawn_once_and_sent_again_if_it_comes_back(lake, fast):
    """A late frame brought A's median under its rule's score: gold has no A any more, and no alert overlaps its
    episode (22:14:05-22:15:40 on cam-03, rule 3). An earlier episode of the same camera and rule (E, 22:00, a
    late frame) is a new alert. E is sent, then A withdrawn with the key it was sent with; a third call sends
    nothing; A back in gold (more late frames) is sent again."""
    b, a, c = ORDER
    e = _alert(0xE, 3, "critical", "u-0042", "cam-03", "site-7", "2026-11-30T22:00:00")
    with webhook_server() as hook:
        nt.notify(lake, hook.url, "json", fast)
        _replace_alerts(lake, [B, C, e])
        result = nt.notify(lake, hook.url, "json", fast)
        assert (result.sent, result.delivered, result.withdrawn, result.delivered_before) == (2, 1, 1, 2)
        assert hook.received[3]["body"]["alert_id"] == e["alert_id"]
        withdrawal = hook.received[4]
        assert withdrawal["body"] == {
            "event": "withdrawn",
            "reason": "the alert is no longer an alert of gold: a late frame changed its episode",
            "alert_id": a,
            "dedup_key": f"visionlake/detections/rule-3/{a}",
            "user_id": "u-0042",
            "device_id": "cam-03",
            "rule_id": 3,
            "started_at": "2026-11-30T22:14:05.120000Z",
            "last_seen_at": "2026-11-30T22:15:40Z",
        }
        assert withdrawal["headers"]["Idempotency-Key"] == f"{a}/withdrawn-after-1"
        assert f"withdrawn: alert {a}, delivered earlier, is no longer an alert of gold" in result.report()
        assert result.report().splitlines()[0].endswith("; 1 withdrawn")
        assert nt.notify(lake, hook.url, "json", fast).sent == 0
        _replace_alerts(lake, [A, B, C, e])
        back = nt.notify(lake, hook.url, "json", fast)
        assert (back.sent, back.delivered, back.withdrawn) == (1, 1, 0)
        assert hook.received[5]["body"]["alert_id"] == a
        assert "continues_alert_id" not in hook.received[5]["body"]  # not a continuation of itself
        # a new request: a receiver holding to the header would drop it under the first trigger's key
        assert hook.received[5]["headers"]["Idempotency-Key"] == f"visionlake/detections/rule-3/{a}/after-withdrawal-2"
    assert _deliveries(lake) == sorted(
        [
            (b, 1, "delivered", 202, None),
            (a, 1, "delivered", 202, None),
            (c, 1, "delivered", 202, None),
            (e["alert_id"], 1, "delivered", 202, None),
            (a, 2, "withdrawn", 202, None),
            (a, 3, "delivered", 202, None),
        ]
    )


def test_a_withdrawal_is_a_pagerduty_resolve_and_one_that_fails_waits_for_the_next_call(lake, fast):
    a = ORDER[1]
    with webhook_server() as hook:
        nt.notify(lake, hook.url, "pagerduty", fast)
    _replace_alerts(lake, [B, C])
    with webhook_server(fail_first=4, fail_status=503) as down:
        failed = nt.notify(lake, down.url, "pagerduty", fast)
    assert (failed.sent, failed.withdrawn, failed.failed, failed.pending) == (4, 0, 1, 1)
    with webhook_server() as hook:
        result = nt.notify(lake, hook.url, "pagerduty", fast)
    assert (result.sent, result.withdrawn) == (1, 1)
    assert hook.received[0]["body"] == {
        "routing_key": KEY,
        "event_action": "resolve",
        "dedup_key": f"visionlake/detections/rule-3/{a}",
    }
    assert [row for row in _deliveries(lake) if row[0] == a][-1] == (a, 6, "withdrawn", 202, None)


def test_a_withdrawal_refused_with_a_client_error_is_not_sent_again(lake, fast):
    a = ORDER[1]
    with webhook_server() as hook:
        nt.notify(lake, hook.url, "json", fast)
    _replace_alerts(lake, [B, C])
    with webhook_server(fail_first=1, fail_status=400) as refusing:
        refused = nt.notify(lake, refusing.url, "json", fast)
    assert (refused.sent, refused.rejected, refused.withdrawn) == (1, 1, 0)
    with webhook_server() as hook:
        assert nt.notify(lake, hook.url, "json", fast).sent == 0
    assert [row[:3] for row in _deliveries(lake) if row[0] == a] == [(a, 1, "delivered"), (a, 2, "rejected")]


def test_a_deliveries_table_from_before_the_episode_columns_gains_them(lake, fast):
    """Rows written before Dec 5 have no dedup_key nor episode: they continue nothing, and new rows add the
    columns to the table."""
    from deltalake import write_deltalake

    old = pa.schema(
        [
            f
            for f in nt.DELIVERIES_SCHEMA
            if f.name in ("alert_id", "attempt", "status", "http_status", "sent_at", "error")
        ]
    )
    b, a, c = ORDER
    row = {
        "alert_id": a,
        "attempt": 1,
        "status": "delivered",
        "http_status": 202,
        "sent_at": _t("2026-11-30T23:00:00"),
        "error": None,
    }
    write_deltalake(f"{lake}/gold/detections/alert_deliveries", pa.Table.from_pylist([row], schema=old))
    with webhook_server() as hook:
        result = nt.notify(lake, hook.url, "json", fast)
    assert (result.sent, result.delivered, result.delivered_before) == (2, 2, 1)
    table = reader.read_table(f"{lake}/gold/detections/alert_deliveries").to_pylist()
    assert sorted((r["alert_id"], r["dedup_key"]) for r in table) == sorted(
        [(a, None), (b, f"visionlake/detections/rule-5/{b}"), (c, f"visionlake/detections/rule-3/{c}")]
    )


# --------------------------------------------------------------------------------------------------
# refusals, missing tables, secrets


def test_no_alerts_table_means_nothing_to_send(tmp_path, fast):
    from deltalake import write_deltalake

    write_deltalake(str(tmp_path / "lake" / "gold" / "alpr" / "vehicles"), pa.table({"n": [1]}))
    with webhook_server() as hook:
        result = nt.notify(str(tmp_path / "lake"), hook.url, "pagerduty", fast)
        # a folder of no table (a mistyped --lake) is an error, as for every other command (until Dec 7 it passed)
        with pytest.raises(LakeError, match=r"^no tables in .*/typo: nothing to notify$"):
            nt.notify(str(tmp_path / "typo"), hook.url, "pagerduty", fast)
    assert (result.alerts, result.sent) == (0, 0)
    assert result.report().startswith("notify detections: nothing to send (no alerts table at ")
    assert hook.received == []
    assert not (tmp_path / "lake" / "_locks").exists() and not (tmp_path / "typo").exists()  # no lease file


def test_pagerduty_without_routing_key(lake, fast, monkeypatch):
    monkeypatch.delenv(nt.ROUTING_KEY_ENV)
    with pytest.raises(ConfigError, match=f"{nt.ROUTING_KEY_ENV} is not set: PagerDuty would reject"):
        nt.notify(lake, "https://events.eu.pagerduty.com/v2/enqueue", "pagerduty", fast)
    assert _deliveries(lake) == []
    with webhook_server() as hook:  # a relay in front of PagerDuty adds the key itself
        result = nt.notify(lake, hook.url, "pagerduty", fast)
    assert result.delivered == 3
    assert all("routing_key" not in r["body"] for r in hook.received)
    assert f"{nt.ROUTING_KEY_ENV} is not set: events were sent without routing_key" in result.report()


@pytest.mark.parametrize("webhook", ["file:///etc/passwd", "ftp://example.com/x", "127.0.0.1:8080/x"])
def test_only_http_webhooks(lake, fast, webhook):
    with pytest.raises(ConfigError, match="the webhook must be an http:// or https:// URL"):
        nt.notify(lake, webhook, "json", fast)


def test_unknown_format(lake, fast):
    with pytest.raises(ConfigError, match="unknown format 'xml'"):
        nt.notify(lake, "http://127.0.0.1:1/", "xml", fast)


def test_credentials_in_the_webhook_go_out_as_basic_auth_and_never_into_messages(lake, fast):
    with webhook_server(fail_first=1, fail_status=404) as hook:
        url = hook.url.replace("http://", "http://hookuser:s3cr%40tpass@") + "services/T0SECRETPATH?token=QUERYTOKEN"
        result = nt.notify(lake, url, "pagerduty", fast)
    assert result.webhook == hook.url.rstrip("/")  # scheme, host and port only
    assert hook.received[0]["headers"]["Authorization"] == "Basic aG9va3VzZXI6czNjckB0cGFzcw=="  # hookuser:s3cr@tpass
    assert hook.received[0]["path"] == "/services/T0SECRETPATH?token=QUERYTOKEN"
    written = result.report() + str(_deliveries(lake))
    for secret in ("hookuser", "s3cr", "T0SECRETPATH", "QUERYTOKEN", KEY):
        assert secret not in written


def test_scrub_removes_the_routing_key_and_the_webhook_secrets():
    url = "https://me:pw-9f8e@hooks.example.com/services/T0SECRET?token=abcd1234"
    text = f"bad key {KEY} for {url} (token=abcd1234, path /services/T0SECRET, user me, password pw-9f8e)"
    assert nt.scrub(text, url, KEY) == "bad key *** for *** (***, path ***, user me, password ***)"
    assert nt.scrub("token abcd1234 expired", url, None) == "token *** expired"
    assert nt.public_url(url) == "https://hooks.example.com"
    # a receiver may echo the path decoded (until Dec 7 recorded as it came back)
    encoded = "https://hooks.example.com/hook/s3cr%2Bt-t%C3%B6ken"
    assert nt.scrub("HTTP 400: no route /hook/s3cr+t-töken", encoded, None) == "HTTP 400: no route ***"


def test_deliveries_table_schema(lake, fast):
    with webhook_server() as hook:
        nt.notify(lake, hook.url, "json", fast)
    snap = reader.snapshot(str(Path(lake) / "gold" / "detections" / "alert_deliveries"))
    assert [(f.name, str(f.type)) for f in snap.schema] == [
        ("alert_id", "string"),
        ("attempt", "int32"),
        ("status", "string"),
        ("http_status", "int32"),
        ("sent_at", "timestamp[us, tz=UTC]"),
        ("error", "string"),
        ("dedup_key", "string"),
        ("user_id", "string"),
        ("device_id", "string"),
        ("rule_id", "int32"),
        ("started_at", "timestamp[us, tz=UTC]"),
        ("last_seen_at", "timestamp[us, tz=UTC]"),
    ]
    assert snap.version == 2  # one commit per attempt (versions 0, 1, 2)


def test_one_notifier_at_a_time(lake, fast):
    from visionlake.errors import LeaseTimeoutError
    from visionlake.lake.lease import Lease

    impatient = dataclasses.replace(fast, lake=dataclasses.replace(fast.lake, lease_wait_seconds=0.3))
    with webhook_server() as hook, Lease(lake, nt.LEASE_NAME, "run-other", fast.storage):
        with pytest.raises(LeaseTimeoutError, match="another run holds the lease on detections-notify"):
            nt.notify(lake, hook.url, "json", impatient)
        assert hook.received == []
