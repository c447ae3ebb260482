"""``visionlake notify detections``: POST every gold alert that has not been delivered to a webhook, once.

No Spark: the committed snapshots of ``gold/detections/alerts`` and ``gold/detections/alert_deliveries`` are
read with :mod:`visionlake.lake.reader`, and every attempt is appended to ``alert_deliveries`` with delta-rs
right after it (one commit per attempt). A process killed between a POST and its commit (the fault point
``notify:sent``) therefore sends at most that one alert again on the next call, with the same ``dedup_key``,
which PagerDuty (and any receiver honouring the ``Idempotency-Key`` header) folds into the first.

- Order: alerts without a ``delivered`` or ``rejected`` row, oldest ``started_at`` first.
- An alert whose episode took in an episode already delivered under another id (a late frame before its first
  one, or bridging two: gold's alert id follows the episode's first frame) is sent with the ``dedup_key`` that
  delivery used, so that the receiver updates the incident it opened rather than opening a second one; the
  body names the alert it continues (``continues_alert_id``). Its ``Idempotency-Key`` header stays its own key: it
  names the request (a resend after a kill repeats it), not the incident, and a receiver that holds to it would
  refuse a new body under the old one. Each delivery row records the key it sent and the episode it covered
  (camera, rule, ``started_at``, ``last_seen_at``) for that.
- An alert delivered earlier that gold no longer has, and whose episode no alert of gold overlaps (a late frame
  brought its episode's median under the rule's score, or put it in the cooldown of an earlier episode: gold
  decides the whole history again), is **withdrawn**: a PagerDuty ``resolve`` with the dedup_key it was sent
  with (format ``json``: ``{"event": "withdrawn", ...}``), recorded ``withdrawn``, after the new alerts. The
  receiver's incident is closed rather than left open for an alert the lake no longer holds. A withdrawal
  refused with a 4xx is not sent again. An alert that comes back after its withdrawal is sent again, under an
  ``Idempotency-Key`` of its own (``<dedup_key>/after-withdrawal-<attempt>``), and continues no withdrawn alert.
  Rows from before Dec 5 say no episode: those alerts are not withdrawn.
- 2xx: ``delivered``. 5xx, 429, timeouts and connection errors: ``failed``, tried again after
  ``backoff_seconds`` (doubled each time; a 429's ``Retry-After`` up to 60 s is honoured) up to
  ``max_attempts`` per alert and call. An alert that runs out of attempts ends the call: the endpoint is taken
  to be down, and it and the alerts after it stay pending for the next call. 4xx other than 429, and
  redirects (never followed): ``rejected``, not sent again by any later call.
- ``attempt`` numbers continue across calls (the alert's previous highest attempt + 1).
- One notifier at a time per lake: the lease ``detections-notify``.
- Format ``pagerduty``: a PagerDuty Events v2 ``trigger``. Its ``routing_key`` comes from
  ``VISIONLAKE_PAGERDUTY_ROUTING_KEY``; without it the call is refused when the webhook is PagerDuty's own
  (every event would be rejected, and rejections are final) and the key is left out otherwise (a relay that
  adds it). Format ``json``: the alert row as a JSON object.
- The routing key, the webhook's credentials, query and path never appear in a message or a recorded error:
  messages name the webhook by scheme, host and port only.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.client import HTTPException
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc

from visionlake import __version__, faults
from visionlake.config import Config
from visionlake.errors import ConfigError, LakeError, redact
from visionlake.lake import reader, table_location
from visionlake.lake.lease import Lease
from visionlake.lake.runlog import append_described, new_run_id

log = logging.getLogger("visionlake")

FORMATS = ("pagerduty", "json")
ROUTING_KEY_ENV = "VISIONLAKE_PAGERDUTY_ROUTING_KEY"
LEASE_NAME = "detections-notify"
DELIVERIES_TABLE = "gold_detections_alert_deliveries"  # its name in descriptions.yaml
MAX_RETRY_AFTER = 60.0  # seconds: a longer Retry-After is cut to this
MAX_ERROR_BODY = 300  # characters of a refusing answer's body kept in the error

DELIVERIES_SCHEMA = pa.schema(
    [
        pa.field("alert_id", pa.string(), False),
        pa.field("attempt", pa.int32(), False),
        pa.field("status", pa.string(), False),  # delivered | failed | rejected | withdrawn
        pa.field("http_status", pa.int32()),  # null: no answer (timeout, connection error)
        pa.field("sent_at", pa.timestamp("us", tz="UTC"), False),  # when the POST was sent
        pa.field("error", pa.string()),  # null when delivered
        # what was sent (null in rows written before Dec 5): the key, and the episode it covered
        pa.field("dedup_key", pa.string()),
        pa.field("user_id", pa.string()),
        pa.field("device_id", pa.string()),
        pa.field("rule_id", pa.int32()),
        pa.field("started_at", pa.timestamp("us", tz="UTC")),
        pa.field("last_seen_at", pa.timestamp("us", tz="UTC")),
    ]
)
WITHDRAWN = "withdrawn"  # the status of a delivery row that withdrew an alert
EPISODE = ("user_id", "device_id", "rule_id")  # one camera and rule: the key of gold's episodes


@dataclass(frozen=True)
class AlertOutcome:
    """What this call did with one alert: ``status`` is delivered, rejected, failed (attempts ran out) or
    pending (not tried: an earlier alert ran out of attempts); ``attempts`` are the attempt numbers made."""

    alert_id: str
    dedup_key: str
    status: str
    attempts: tuple[int, ...] = ()
    http_status: int | None = None
    error: str | None = None
    continues: str | None = None  # the delivered alert whose dedup_key this one was sent with
    withdrawal: bool = False  # a resolve of an alert delivered earlier that gold no longer has


@dataclass
class NotifyResult:
    """The counts of one call. ``sent``: POSTs made; ``delivered``, ``rejected``, ``failed``: alerts that ended so
    in this call; ``pending``: alerts still to deliver after it (failed and not tried);
    ``delivered_before`` / ``rejected_before``: alerts settled by earlier calls, not sent again."""

    webhook: str  # scheme://host:port only
    fmt: str
    alerts: int = 0  # rows of gold alerts
    sent: int = 0
    delivered: int = 0
    rejected: int = 0
    failed: int = 0
    pending: int = 0
    delivered_before: int = 0
    rejected_before: int = 0
    withdrawn: int = 0  # alerts delivered earlier, withdrawn by this call
    seconds: float = 0.0
    outcomes: list[AlertOutcome] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)  # run ids of notifiers killed while holding the lease
    notes: list[str] = field(default_factory=list)

    def report(self) -> str:
        """What the command prints: one summary line, then one line per alert not delivered, then notes."""
        if self.alerts == 0 and not self.outcomes:
            lines = [f"notify detections: nothing to send ({'; '.join(self.notes) or 'no alerts'})"]
            return "\n".join(lines)
        lines = [
            f"notify detections -> {self.webhook} ({self.fmt}): {self.delivered} delivered, {self.rejected} "
            f"rejected, {self.failed} failed, {self.pending - self.failed} not tried; {self.sent} POSTs in "
            f"{self.seconds:.1f} s ({self.alerts} alerts: {self.delivered_before} delivered and "
            f"{self.rejected_before} rejected by earlier calls; {self.pending} left for the next call)"
        ]
        if self.withdrawn:
            lines[0] += f"; {self.withdrawn} withdrawn"
        for o in self.outcomes:
            if o.continues:
                lines.append(
                    f"  alert {o.alert_id} continues alert {o.continues}, delivered earlier: sent with its dedup_key"
                )
            if o.withdrawal and o.status == "delivered":
                lines.append(
                    f"  withdrawn: alert {o.alert_id}, delivered earlier, is no longer an alert of gold (a late frame "
                    "changed its episode): resolved with its dedup_key"
                )
            elif o.status != "delivered":
                tried = f"attempts {o.attempts[0]}-{o.attempts[-1]}" if o.attempts else "not tried"
                lines.append(f"  {o.status}: alert {o.alert_id} ({tried}){': ' + o.error if o.error else ''}")
        for run_id in self.interrupted:
            lines.append(
                f"  note: notifier run {run_id} was killed while sending; its last alert may have been sent again "
                "with the same dedup_key"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def notify(lake: str, webhook: str, fmt: str, cfg: Config) -> NotifyResult:
    """Deliver every alert of ``lake`` that has no ``delivered`` or ``rejected`` row to ``webhook`` (see the
    module's docstring); returns what was done.

    Raises:
        ConfigError: an unknown format, a webhook that is not http(s), or format pagerduty to PagerDuty's own
            endpoint without ``VISIONLAKE_PAGERDUTY_ROUTING_KEY``.
        LeaseTimeoutError: another notifier held the lake's ``detections-notify`` lease for longer than
            ``lake.lease_wait_seconds``.
        LakeError, EndpointError: the lake has no tables, a table could not be read or a delivery row not
            committed (then the alert just sent is sent again, with the same dedup_key, by the next call).
    """
    started = time.monotonic()
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    parts = urlsplit(webhook)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"the webhook must be an http:// or https:// URL, got scheme {parts.scheme or 'none'!r}")
    where = public_url(webhook)
    secret = os.environ.get(ROUTING_KEY_ENV) or None
    routing_key = secret if fmt == "pagerduty" else None  # never sent in the json format
    result = NotifyResult(webhook=where, fmt=fmt)
    if fmt == "pagerduty" and routing_key is None:
        if _is_pagerduty(parts.hostname):
            raise ConfigError(
                f"{ROUTING_KEY_ENV} is not set: PagerDuty would reject every event (set it to the integration's "
                "routing key)"
            )
        result.notes.append(f"{ROUTING_KEY_ENV} is not set: events were sent without routing_key")

    storage = cfg.storage
    alerts_at = table_location(lake, "gold", "detections", "alerts")
    deliveries_at = table_location(lake, "gold", "detections", "alert_deliveries")
    if reader.snapshot(alerts_at, storage) is None:  # before the lease: do not create _locks in a lake that is not
        if not reader.table_locations(lake, storage):  # a mistyped --lake must not pass (until Dec 7 it did)
            raise LakeError(f"no tables in {lake}: nothing to notify")
        result.notes.append(f"no alerts table at {alerts_at} (run `visionlake run detections` first)")
        return result

    settings = cfg.detections.notify
    lease = Lease.configured(cfg, lake, LEASE_NAME, new_run_id())
    with lease:
        result.interrupted = [h.run_id for h in lease.interrupted]
        lease.recorded()  # reported in the result; delivery rows already tell what they sent
        alerts = _read_alerts(alerts_at, cfg)
        history, delivered = _history(deliveries_at, cfg)
        result.alerts = len(alerts)
        queue = []
        for alert in alerts:
            previous = history.get(alert["alert_id"])
            if previous and previous.delivered:
                result.delivered_before += 1
            elif previous and previous.rejected:
                result.rejected_before += 1
            else:
                queue.append(alert)
        queue += _withdrawals(alerts, history, delivered)
        if result.alerts == 0:
            result.notes.append(f"the alerts table at {alerts_at} is empty")
        sender = _Sender(webhook, deliveries_at, cfg, secret, result)
        endpoint_down = False
        for alert in queue:
            alert_id, dedup_key = alert["alert_id"], alert["dedup_key"]
            if endpoint_down:
                result.outcomes.append(AlertOutcome(alert_id, dedup_key, "pending"))
                result.pending += 1
                continue
            last = history[alert_id].attempt if alert_id in history else 0
            if alert.get("withdrawn"):
                body = _withdrawal_body(alert, fmt, routing_key)
                # the header names this request: the same on a resend after a kill, another for a later withdrawal
                request = f"{alert_id}/withdrawn-after-{history[alert_id].delivered_at}"
                outcome = sender.deliver(alert, body, last, request, WITHDRAWN)
            else:
                # another alert still delivered (not withdrawn) whose episode this one took in
                others = [d for d in delivered if d["alert_id"] != alert_id and history[d["alert_id"]].delivered]
                earlier = _continued(alert, others)
                if earlier is not None:
                    alert = {**alert, "dedup_key": earlier["dedup_key"], "continues_alert_id": earlier["alert_id"]}
                # an alert back after its withdrawal is a new request: a receiver holding to the header would drop
                # a second trigger under the first one's key
                withdrawn_at = history[alert_id].withdrawn_at if alert_id in history else 0
                request = f"{dedup_key}/after-withdrawal-{withdrawn_at}" if withdrawn_at else dedup_key
                outcome = sender.deliver(alert, _body(alert, fmt, routing_key), last, request)
            result.outcomes.append(outcome)
            if outcome.status == "delivered" and outcome.withdrawal:
                result.withdrawn += 1
            elif outcome.status == "delivered":
                result.delivered += 1
            elif outcome.status == "rejected":
                result.rejected += 1
            else:
                result.failed += 1
                result.pending += 1
                endpoint_down = True
        if endpoint_down:
            result.notes.append(
                f"{where} kept failing for {settings.max_attempts} attempts (detections.notify.max_attempts): "
                "the rest waits for the next call"
            )
        elif not queue and result.alerts:
            result.notes.append("every alert was delivered or rejected by an earlier call")
    result.seconds = time.monotonic() - started
    return result


# --------------------------------------------------------------------------------------------------
# reading


@dataclass
class _History:
    attempt: int = 0  # highest attempt number recorded
    delivered_at: int = 0  # the attempt that last delivered the alert (0: none)
    rejected_at: int = 0  # the attempt that last was rejected
    withdrawn_at: int = 0  # the attempt that last withdrew it

    @property
    def delivered(self) -> bool:
        """Delivered, and not withdrawn since."""
        return self.delivered_at > self.withdrawn_at

    @property
    def rejected(self) -> bool:
        """Rejected (a trigger or a withdrawal) since its last withdrawal: not sent again."""
        return self.rejected_at > self.withdrawn_at


def _read_alerts(location: str, cfg: Config) -> list[dict]:
    """The alert rows, oldest ``started_at`` first (then by ``alert_id``)."""
    snap = reader.snapshot(location, cfg.storage)
    if snap is None:
        return []
    table = reader.scan(reader.dataset(snap, cfg.storage), cfg.storage, location)
    if table.num_rows == 0:
        return []
    table = table.sort_by([("started_at", "ascending"), ("alert_id", "ascending")])
    return table.to_pylist()


def _history(location: str, cfg: Config) -> tuple[dict[str, _History], list[dict]]:
    """Per alert: its highest attempt and whether it was delivered or rejected (empty when there is no table);
    and the rows that delivered an alert and say which episode it covered."""
    snap = reader.snapshot(location, cfg.storage)
    if snap is None:
        return {}, []
    rows = reader.scan(reader.dataset(snap, cfg.storage), cfg.storage, location)
    found: dict[str, _History] = {}
    if rows.num_rows == 0:
        return found, []
    delivered = []
    if "dedup_key" in rows.column_names:  # a table whose rows all came before Dec 5 has not the columns
        covered = rows.filter(pc.and_(pc.equal(rows["status"], "delivered"), pc.is_valid(rows["dedup_key"])))
        columns = ["alert_id", "attempt", "dedup_key", *EPISODE, "started_at", "last_seen_at"]
        delivered = covered.select(columns).to_pylist()
    highest = rows.group_by("alert_id").aggregate([("attempt", "max")])
    for alert_id, attempt in zip(highest["alert_id"].to_pylist(), highest["attempt_max"].to_pylist(), strict=True):
        found[alert_id] = _History(attempt=int(attempt or 0))
    for status in ("delivered", "rejected", WITHDRAWN):
        last = rows.filter(pc.equal(rows["status"], status)).group_by("alert_id").aggregate([("attempt", "max")])
        for alert_id, attempt in zip(last["alert_id"].to_pylist(), last["attempt_max"].to_pylist(), strict=True):
            setattr(found[alert_id], f"{status}_at", int(attempt or 0))
    return found, delivered


def _withdrawals(alerts: list[dict], history: dict[str, _History], delivered: list[dict]) -> list[dict]:
    """The alerts to withdraw (see the module's docstring), oldest first: each as its last delivery row said it
    (the dedup_key it was sent with, its episode), with ``withdrawn`` set."""
    current = {a["alert_id"] for a in alerts}
    last_sent: dict[str, dict] = {}
    for row in delivered:  # a continuation is sent with another alert's key: the row says which
        state = history[row["alert_id"]]
        settled = state.delivered and state.rejected_at < state.delivered_at  # a rejected withdrawal is final
        if row["alert_id"] not in current and settled and row["attempt"] == state.delivered_at:
            last_sent[row["alert_id"]] = row
    gone = [row for row in last_sent.values() if _continued(row, alerts) is None]
    return [{**row, "withdrawn": True} for row in sorted(gone, key=lambda r: (r["started_at"], r["alert_id"]))]


def _continued(alert: dict, delivered: list[dict]) -> dict | None:
    """The earliest delivered episode of the alert's camera and rule that overlaps the alert's episode, or None.
    gold's episodes of one camera and rule never overlap: one that does was taken into this alert's episode."""
    overlapping = [
        d
        for d in delivered
        if all(d[k] == alert[k] for k in EPISODE)
        and d["started_at"] <= alert["last_seen_at"]
        and alert["started_at"] <= d["last_seen_at"]
    ]
    return min(overlapping, key=lambda d: (d["started_at"], d["alert_id"]), default=None)


# --------------------------------------------------------------------------------------------------
# bodies


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def iso(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, e.g. ``2026-11-30T22:14:05.120000Z`` (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert_json(alert: dict) -> dict:
    """The alert row as a JSON-ready dict (timestamps ISO 8601 UTC, dates ISO, NaN as null)."""
    return {k: _json_value(v) for k, v in alert.items()}


def summary(alert: dict) -> str:
    """One line for a person: what was seen, where, by which rule."""
    labels = ", ".join(alert.get("labels_matched") or []) or "objects"
    peak = alert.get("peak_score")
    score = f", peak score {peak:.2f}" if isinstance(peak, float) and math.isfinite(peak) else ""
    text = (
        f"{labels} on {alert.get('device_id')} at site {alert.get('site_id')}: rule {alert.get('rule_id')} "
        f"v{alert.get('rule_version')}, {alert.get('frames')} frames{score}"
    )
    return text[:1024]  # PagerDuty's limit


def pagerduty_event(alert: dict, routing_key: str | None) -> dict:
    """A PagerDuty Events v2 ``trigger`` for the alert; ``routing_key`` left out when None."""
    details = alert_json(alert)
    event: dict = {} if routing_key is None else {"routing_key": routing_key}
    event.update(
        {
            "event_action": "trigger",
            "dedup_key": alert["dedup_key"],
            "payload": {
                "summary": summary(alert),
                "source": alert.get("device_id") or "unknown",
                "severity": alert.get("severity"),
                "timestamp": details.get("started_at"),
                "component": alert.get("site_id"),
                "group": alert.get("user_id"),
                "class": f"rule-{alert.get('rule_id')}",
                "custom_details": details,
            },
        }
    )
    return event


def _withdrawal_body(alert: dict, fmt: str, routing_key: str | None) -> bytes:
    """A PagerDuty ``resolve`` of the dedup_key the alert was sent with; format json: the withdrawal as JSON."""
    if fmt == "pagerduty":
        data = {} if routing_key is None else {"routing_key": routing_key}
        data |= {"event_action": "resolve", "dedup_key": alert["dedup_key"]}
    else:
        data = {
            "event": "withdrawn",
            "reason": "the alert is no longer an alert of gold: a late frame changed its episode",
            **alert_json({k: alert[k] for k in ("alert_id", "dedup_key", *EPISODE, "started_at", "last_seen_at")}),
        }
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def _body(alert: dict, fmt: str, routing_key: str | None) -> bytes:
    data = pagerduty_event(alert, routing_key) if fmt == "pagerduty" else alert_json(alert)
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------------------------------
# sending


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as it came (then ``rejected``): following it would turn the POST into a GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


@dataclass(frozen=True)
class _Answer:
    status: str  # delivered | failed | rejected
    http_status: int | None
    error: str | None
    retry_after: float | None = None


def _classify(code: int) -> str:
    if 200 <= code < 300:
        return "delivered"
    if code == 429 or code >= 500:
        return "failed"
    return "rejected"


def _retry_after(value: str | None) -> float | None:
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER) if value else None
    except ValueError:  # an HTTP date: not worth parsing
        return None


def _target(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its credentials, and the Basic ``Authorization`` header they make (urllib refuses both in
    the URL)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, {}
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    netloc = parts.netloc.rpartition("@")[2]
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return urlunsplit(parts._replace(netloc=netloc)), {"Authorization": f"Basic {token}"}


def _post(opener, url: str, body: bytes, idempotency_key: str, timeout: float) -> _Answer:
    """One POST, answered whole within ``timeout`` seconds or failed; never raises for what the network or the
    receiver did. The socket's timeout bounds each read only: a receiver that sends a header line every second
    held a POST for as long as it went on (until Dec 7), so the POST runs in a thread given ``timeout`` in all (a
    daemon: one that never ends is left behind, its socket with it)."""
    answers: list[_Answer] = []
    worker = threading.Thread(
        target=lambda: answers.append(_exchange(opener, url, body, idempotency_key, timeout)), daemon=True
    )
    worker.start()
    worker.join(timeout)
    if not answers:
        return _Answer("failed", None, f"no answer within {timeout:g} s (detections.notify.timeout_seconds)")
    return answers[0]


def _exchange(opener, url: str, body: bytes, idempotency_key: str, timeout: float) -> _Answer:
    """One POST and its answer, however long they take (each read waits ``timeout`` seconds at most)."""
    target, auth = _target(url)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"visionlake/{__version__}",
        "Idempotency-Key": idempotency_key,
        **auth,
    }
    request = urllib.request.Request(target, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
            code = response.status
        status = _classify(code)
        return _Answer(status, code, None if status == "delivered" else f"HTTP {code}")
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read(MAX_ERROR_BODY * 4).decode("utf-8", "replace")
        except Exception:
            text = ""
        text = " ".join(text.split())[:MAX_ERROR_BODY]
        reason = f"HTTP {exc.code} {exc.reason}" + (f": {text}" if text else "")
        if 300 <= exc.code < 400:
            reason += " (redirects are not followed)"
        retry_after = _retry_after(exc.headers.get("Retry-After")) if exc.headers else None
        return _Answer(_classify(exc.code), exc.code, reason, retry_after)
    except TimeoutError:
        return _Answer("failed", None, f"no answer within {timeout:g} s (detections.notify.timeout_seconds)")
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            return _Answer("failed", None, f"no answer within {timeout:g} s (detections.notify.timeout_seconds)")
        return _Answer("failed", None, f"connection failed: {exc.reason}")
    except (OSError, HTTPException) as exc:
        return _Answer("failed", None, f"connection failed: {type(exc).__name__}: {exc}")


@dataclass
class _Sender:
    """Sends alerts to one webhook and commits every attempt to ``alert_deliveries`` right after it."""

    url: str
    deliveries_at: str
    cfg: Config
    secret: str | None  # the routing key, kept out of every recorded error
    result: NotifyResult
    opener: urllib.request.OpenerDirector = field(default_factory=lambda: urllib.request.build_opener(_NoRedirects))

    def deliver(
        self, alert: dict, body: bytes, last: int, idempotency_key: str, done: str = "delivered"
    ) -> AlertOutcome:
        """Send one alert, retrying as ``detections.notify`` says; ``last`` is its highest recorded attempt,
        ``idempotency_key`` the header of every attempt (a trigger's: the alert's own dedup_key), ``done`` the
        status a 2xx is recorded with (``withdrawn`` for a withdrawal)."""
        settings = self.cfg.detections.notify
        attempts: list[int] = []
        for tries in range(1, max(settings.max_attempts, 1) + 1):
            attempt = last + tries
            sent_at = datetime.now(UTC)
            answer = _post(self.opener, self.url, body, idempotency_key, settings.timeout_seconds)
            self.result.sent += 1
            attempts.append(attempt)
            error = None if answer.error is None else scrub(answer.error, self.url, self.secret)
            faults.point("notify:sent")
            status = done if answer.status == "delivered" else answer.status
            _record(self.deliveries_at, alert, attempt, status, answer.http_status, sent_at, error, self.cfg)
            if answer.status != "failed":
                break
            log.info("alert %s attempt %d failed: %s", alert["alert_id"], attempt, error)
            if tries < settings.max_attempts:
                delay = settings.backoff_seconds * 2 ** (tries - 1)
                time.sleep(max(delay, answer.retry_after or 0.0))
        return AlertOutcome(
            alert["alert_id"],
            alert["dedup_key"],
            answer.status,
            tuple(attempts),
            answer.http_status,
            error,
            alert.get("continues_alert_id"),
            done == WITHDRAWN,
        )


def _record(
    location: str,
    alert: dict,
    attempt: int,
    status: str,
    http_status: int | None,
    sent_at: datetime,
    error: str | None,
    cfg: Config,
) -> None:
    """Append one attempt to ``alert_deliveries`` (one commit; a table written before Dec 5 gains the columns of
    what was sent)."""
    row = {
        "alert_id": alert["alert_id"],
        "attempt": attempt,
        "status": status,
        "http_status": http_status,
        "sent_at": sent_at,
        "error": error,
        **{k: alert[k] for k in ("dedup_key", *EPISODE, "started_at", "last_seen_at")},
    }
    table = pa.Table.from_pylist([row], schema=DELIVERIES_SCHEMA)
    append_described(location, table, DELIVERIES_TABLE, cfg.storage, merge_schema=True)


# --------------------------------------------------------------------------------------------------
# secrets


def _is_pagerduty(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == "pagerduty.com" or host.endswith(".pagerduty.com")


def public_url(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: no credentials, path (a Slack-style webhook's path is its secret),
    query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def scrub(text: str, url: str, routing_key: str | None) -> str:
    """``text`` without the routing key, the webhook's secrets (credentials, path, query) or secret variables."""
    parts = urlsplit(url)
    secrets = [url, routing_key, parts.password, parts.username, parts.query, parts.fragment]
    secrets += [unquote(s) for s in (parts.password, parts.username) if s]
    secrets += [value for _, value in parse_qsl(parts.query)]
    secrets += [v.split("Basic ", 1)[1] for v in _target(url)[1].values()]
    if parts.path not in ("", "/"):  # as written, and decoded (a receiver may echo it so: until Dec 7 recorded)
        secrets += [parts.path, unquote(parts.path)]
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return redact(text)
