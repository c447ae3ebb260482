"""What the report shows, computed from rows of the lake's tables: pure functions over lists of dicts (one dict
per row, as ``pyarrow.Table.to_pylist()`` gives them), each returning what its chart draws and the one-line
reading printed under it. No IO here: :mod:`visionlake.report.load` queries the lake.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

Row = Mapping[str, object]

OTHER = "other"  # microservice_latency_daily: time no service reported (network, gateway, the API itself)
ACCEPTED_CODE = 1400  # "antispoofing OK", the only summary code with summary_status ok (face-validation-api.md)
# Image quality classes of the near image, best first (gold's order); anything else follows, then unknown.
QUALITY_ORDER = ("8K", "4K", "ULTRAHD", "FULLHD", "HD", "XGA", "SD", "QVGA", "LOWERSCALES")
UNKNOWN_QUALITY = "unknown"


@dataclass(frozen=True)
class SeedDurations:
    """Recognition durations measured in the seed project's stored results."""

    results: int
    with_plate: int
    p50_ms: float
    p95_ms: float
    p95_with_plate_ms: float
    source: str


# The 239 ultimateALPR results of Iaddiop/ultimateALPR_data_extraction, folder sample/ at commit e4d8c29 (the
# project's seed; shared/data/ultimatealpr-seed-samples): durations 25-1,328 ms; p50 and p95 interpolated as
# gold's duration_ms_p95 is, over all 239 and over the 62 with a plate (reference/ultimatealpr-json.md).
SEED_DURATIONS = SeedDurations(
    results=239,
    with_plate=62,
    p50_ms=42.0,
    p95_ms=86.1,
    p95_with_plate_ms=103.95,
    source="Iaddiop/ultimateALPR_data_extraction sample/ @e4d8c29",
)


def client_label(row: Row) -> str:
    """A client's display name: gold's ``client_name`` when the table has it, else ``client-`` and the first 8
    characters of the ``convenio`` pseudonym (as gold itself names unnamed clients), never the 64-character hash."""
    name = row.get("client_name")
    if name:
        return str(name)
    convenio = row.get("convenio")
    return f"client-{str(convenio)[:8]}" if convenio else "unknown client"


def percent(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "n/a"


def _num(value: object) -> float:
    return float(value) if value is not None else 0.0


def _int(value: object) -> int:
    return int(value) if value is not None else 0


# ------------------------------------------------------------------------------------------------------------
# face_validation


@dataclass(frozen=True)
class ServiceLatency:
    service: str
    calls: int
    mean_ms: float  # over every call where it ran, in the whole period
    p95_ms: float  # the daily p95s, averaged with the days' calls as weights
    share: float  # of all the period's API time
    bottleneck_days: int


@dataclass(frozen=True)
class LatencySummary:
    services: list[ServiceLatency]  # largest share of time first; ``other`` among them
    bottleneck: str | None
    days: int
    reading: str


def latency_summary(rows: Iterable[Row]) -> LatencySummary | None:
    """Per service over the whole period, from ``microservice_latency_daily``; the bottleneck is the service
    ranked first on most days (``other`` is never one: it has no rank), ties going to the larger share of time."""
    rows = [r for r in rows if r.get("service") is not None]
    if not rows:
        return None
    calls: dict[str, int] = defaultdict(int)
    total_ms: dict[str, float] = defaultdict(float)
    p95_weighted: dict[str, float] = defaultdict(float)
    by_day: dict[object, list[Row]] = defaultdict(list)
    for r in rows:
        service, n = str(r["service"]), _int(r.get("calls"))
        calls[service] += n
        total_ms[service] += _num(r.get("mean_ms")) * n
        p95_weighted[service] += _num(r.get("p95_ms")) * n
        by_day[r.get("local_date")].append(r)
    firsts: dict[str, int] = defaultdict(int)
    for day_rows in by_day.values():
        ranked = [r for r in day_rows if r["service"] != OTHER]
        if ranked:
            first = min(ranked, key=_rank_key)
            firsts[str(first["service"])] += 1
    everything = sum(total_ms.values())
    services = sorted(
        (
            ServiceLatency(
                service=s,
                calls=calls[s],
                mean_ms=total_ms[s] / calls[s] if calls[s] else 0.0,
                p95_ms=p95_weighted[s] / calls[s] if calls[s] else 0.0,
                share=total_ms[s] / everything if everything else 0.0,
                bottleneck_days=firsts[s],
            )
            for s in calls
        ),
        key=lambda s: (-s.share, s.service),
    )
    candidates = [s for s in services if s.bottleneck_days]
    bottleneck = max(candidates, key=lambda s: (s.bottleneck_days, s.share)) if candidates else None
    days = len(by_day)
    if bottleneck is None:
        reading = f"No service reported any time on the {days} days."
    else:
        reading = (
            f"{bottleneck.service} is the bottleneck on {bottleneck.bottleneck_days} of {days} days: "
            f"{bottleneck.share:.0%} of all API time, mean {bottleneck.mean_ms:,.0f} ms, "
            f"p95 {bottleneck.p95_ms:,.0f} ms"
        )
        other = next((s for s in services if s.service == OTHER), None)
        reading += f"; time no service reported (other) is {other.share:.0%}." if other else "."
    return LatencySummary(
        services=services, bottleneck=bottleneck.service if bottleneck else None, days=days, reading=reading
    )


def _rank_key(row: Row) -> tuple:
    rank = row.get("rank")
    return (rank is None, rank if rank is not None else 0, -_num(row.get("share_of_total_time")), row["service"])


@dataclass
class ClientAcceptance:
    name: str
    processes: int = 0
    accepted: int = 0
    first_accepted: int = 0
    attempts: int = 0
    daily: list[tuple[date, float, float, int]] = field(default_factory=list)  # date, final, first, processes

    @property
    def rate(self) -> float:
        return self.accepted / self.processes if self.processes else 0.0

    @property
    def first_rate(self) -> float:
        return self.first_accepted / self.processes if self.processes else 0.0

    @property
    def attempts_per_process(self) -> float:
        return self.attempts / self.processes if self.processes else 0.0


@dataclass(frozen=True)
class Acceptance:
    clients: list[ClientAcceptance]  # by name
    reading: str
    attempts_reading: str


def client_acceptance(rows: Iterable[Row]) -> Acceptance | None:
    """Per client (display name) from ``client_acceptance_daily``: processes, accepted at the end and at the
    first attempt (``first_attempt_acceptance_rate`` x processes), attempts, and the daily rates."""
    clients: dict[str, ClientAcceptance] = {}
    for r in rows:
        name = client_label(r)
        c = clients.setdefault(name, ClientAcceptance(name))
        processes = _int(r.get("processes"))
        first = round(_num(r.get("first_attempt_acceptance_rate")) * processes)
        c.processes += processes
        c.accepted += _int(r.get("accepted"))
        c.first_accepted += first
        c.attempts += _int(r.get("attempts"))
        if r.get("local_date") is not None and processes:
            c.daily.append((r["local_date"], _int(r.get("accepted")) / processes, first / processes, processes))
    if not clients:
        return None
    ordered = sorted(clients.values(), key=lambda c: c.name)
    for c in ordered:
        c.daily.sort()
    processes = sum(c.processes for c in ordered)
    accepted = sum(c.accepted for c in ordered)
    first = sum(c.first_accepted for c in ordered)
    attempts = sum(c.attempts for c in ordered)
    reading = (
        f"{percent(accepted, processes)} of {processes:,} processes were accepted in the end, "
        f"{percent(first, processes)} at the first attempt"
    )
    attempts_reading = f"A process took {attempts / processes if processes else 0:.1f} attempts on average"
    if len(ordered) > 1:
        low = min(ordered, key=lambda c: (c.rate, c.name))
        reading += f"; lowest final acceptance: {low.name} ({low.rate:.0%} of {low.processes:,})"
        most = max(ordered, key=lambda c: (c.attempts_per_process, c.name))
        fewest = min(ordered, key=lambda c: (c.attempts_per_process, c.name))
        attempts_reading += (
            f"; most: {most.name} ({most.attempts_per_process:.1f}), fewest: {fewest.name} "
            f"({fewest.attempts_per_process:.1f})"
        )
    return Acceptance(clients=ordered, reading=reading + ".", attempts_reading=attempts_reading + ".")


@dataclass(frozen=True)
class RejectionOutcome:
    code: int | None
    desc: str
    accepted_next: int  # the next attempt was accepted
    rejected_again: int  # the next attempt was rejected too
    abandoned: int  # no next attempt: the process ended on this rejection

    @property
    def total(self) -> int:
        return self.accepted_next + self.rejected_again + self.abandoned

    @property
    def label(self) -> str:
        return f"{self.desc} ({self.code})" if self.code is not None else self.desc


@dataclass(frozen=True)
class Rejections:
    outcomes: list[RejectionOutcome]  # commonest rejection first
    reading: str


def rejection_outcomes(rows: Iterable[Row], accepted_code: int = ACCEPTED_CODE) -> Rejections | None:
    """What followed each rejection, from ``retry_transitions`` (from -> to; to null: the process ended)."""
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    descs: dict[tuple, str] = {}
    for r in rows:
        code = r.get("from_summary_code")
        if code == accepted_code:
            continue
        key = (code,)
        descs.setdefault(key, str(r.get("from_summary_desc") or "unknown"))
        to, n = r.get("to_summary_code"), _int(r.get("transitions"))
        slot = 2 if to is None else 0 if to == accepted_code else 1
        counts[key][slot] += n
    outcomes = [RejectionOutcome(k[0], descs[k], *v) for k, v in counts.items() if sum(v)]
    if not outcomes:
        return None
    outcomes.sort(key=lambda o: (-o.total, o.code if o.code is not None else -1))
    top = outcomes[0]
    reading = (
        f"{top.label} is the commonest rejection ({top.total:,}): the next attempt was accepted after "
        f"{percent(top.accepted_next, top.total)} of them and the user gave up after "
        f"{percent(top.abandoned, top.total)}"
    )
    quitter = max(outcomes, key=lambda o: (o.abandoned, o.abandoned / o.total, -(o.code or 0)))
    if quitter.abandoned and quitter is not top:
        reading += f"; most abandoned processes end on {quitter.label} ({quitter.abandoned:,} of {quitter.total:,})"
    return Rejections(outcomes=outcomes, reading=reading + ".")


@dataclass(frozen=True)
class CodesByQuality:
    qualities: list[str]  # best first
    codes: list[tuple[str, dict[str, int]]]  # (label, calls per quality), most calls first
    reading: str


def codes_by_quality(rows: Iterable[Row], accepted_code: int = ACCEPTED_CODE) -> CodesByQuality | None:
    """Calls per response code and near-image quality, from ``response_codes``; the reading compares the share
    of accepted calls across qualities."""
    calls: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        quality = str(r.get("image_quality_near_img") or UNKNOWN_QUALITY)
        calls[(r.get("summary_code"), str(r.get("summary_desc") or "unknown"))][quality] += _int(r.get("calls"))
    if not calls:
        return None
    present = {q for per in calls.values() for q, n in per.items() if n}
    qualities = sorted(present, key=_quality_key)
    codes = sorted(calls.items(), key=lambda kv: (-sum(kv[1].values()), kv[0][0] if kv[0][0] is not None else -1))
    labelled = [(f"{desc} ({code})" if code is not None else desc, dict(per)) for (code, desc), per in codes]
    per_quality = {q: sum(per.get(q, 0) for per in calls.values()) for q in qualities}
    accepted = {q: sum(per.get(q, 0) for (code, _), per in calls.items() if code == accepted_code) for q in qualities}
    rates = {q: accepted[q] / per_quality[q] for q in qualities if per_quality[q]}
    known = {q: rate for q, rate in rates.items() if q != UNKNOWN_QUALITY} or rates
    if len(known) == 1:
        ((q, rate),) = known.items()
        subject = "No near image has a known size" if q == UNKNOWN_QUALITY else f"Every near image of known size is {q}"
        reading = f"{subject}; {rate:.0%} of its {per_quality[q]:,} calls were accepted."
    else:
        best = max(known, key=lambda q: (known[q], -_quality_key(q)[0]))
        worst = min(known, key=lambda q: (known[q], _quality_key(q)[0]))
        reading = (
            f"{best} near images are accepted most often ({known[best]:.0%} of {per_quality[best]:,} calls), "
            f"{worst} least ({known[worst]:.0%} of {per_quality[worst]:,})."
        )
    return CodesByQuality(qualities=qualities, codes=labelled, reading=reading)


def _quality_key(quality: str) -> tuple[int, str]:
    if quality == UNKNOWN_QUALITY:
        return (len(QUALITY_ORDER) + 1, quality)
    return (QUALITY_ORDER.index(quality) if quality in QUALITY_ORDER else len(QUALITY_ORDER), quality)


# ------------------------------------------------------------------------------------------------------------
# alpr


@dataclass(frozen=True)
class CameraTraffic:
    cameras: list[str]
    series: dict[str, list[tuple[date, int, int]]]  # camera -> (date, frames, plates), by date
    reading: str


def camera_traffic(rows: Iterable[Row]) -> CameraTraffic | None:
    """Frames and plates per camera per day, from ``daily_camera_stats``."""
    series: dict[str, list[tuple[date, int, int]]] = defaultdict(list)
    frames = plates = with_plates = 0
    days = set()
    for r in rows:
        camera = str(r.get("camera_id") or "unknown")
        f, p = _int(r.get("frames")), _int(r.get("plates"))
        series[camera].append((r.get("event_date"), f, p))
        frames, plates, with_plates = frames + f, plates + p, with_plates + _int(r.get("frames_with_plates"))
        days.add(r.get("event_date"))
    if not series:
        return None
    for points in series.values():
        points.sort(key=lambda p: (p[0] is None, p[0]))
    cameras = sorted(series)
    busiest = max(cameras, key=lambda c: (sum(p[1] for p in series[c]), c))
    reading = (
        f"{frames:,} frames and {plates:,} plates from {len(cameras)} camera{'s' if len(cameras) != 1 else ''} over "
        f"{len(days)} day{'s' if len(days) != 1 else ''}; {percent(with_plates, frames)} of frames show a plate"
    )
    if len(cameras) > 1:
        reading += (
            f"; busiest: {busiest} ({sum(p[1] for p in series[busiest]):,} frames, "
            f"{sum(p[2] for p in series[busiest]):,} plates)"
        )
    return CameraTraffic(cameras=cameras, series=dict(series), reading=reading + ".")


@dataclass(frozen=True)
class DurationP95:
    series: dict[str, list[tuple[date, float]]]  # camera -> (date, p95 ms)
    seed: SeedDurations
    reading: str


def duration_p95(rows: Iterable[Row], seed: SeedDurations = SEED_DURATIONS) -> DurationP95 | None:
    """Recognition duration p95 per camera per day against the seed's; camera-days without a duration
    (parallel mode sends none) are left out."""
    series: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for r in rows:
        if r.get("duration_ms_p95") is not None:
            series[str(r.get("camera_id") or "unknown")].append((r.get("event_date"), float(r["duration_ms_p95"])))
    if not series:
        return None
    for points in series.values():
        points.sort(key=lambda p: (p[0] is None, p[0]))
    points = [(camera, d, v) for camera, values in series.items() for d, v in values]
    above = sum(1 for _, _, v in points if v > seed.p95_ms)
    camera, day, highest = max(points, key=lambda p: (p[2], p[0]))
    reading = (
        f"Recognition p95 is above the seed's {seed.p95_ms:.0f} ms on {above} of {len(points)} camera-days "
        f"(highest {highest:,.0f} ms: {camera}, {_day(day)}). Seed: {seed.results} results of {seed.source}, "
        f"p95 {seed.p95_ms:.0f} ms, {seed.p95_with_plate_ms:.0f} ms for the {seed.with_plate} with a plate."
    )
    return DurationP95(series=dict(series), seed=seed, reading=reading)


@dataclass(frozen=True)
class OcrDistribution:
    bins: list[tuple[float, int]]  # (lower edge, plates), every bin from 0 to 100 in order
    width: float
    threshold: float
    reading: str


def ocr_distribution(
    counts: Mapping[float, int],
    plates: int,
    below: int,
    median_confidence: float | None,
    threshold: float,
    width: float = 5.0,
) -> OcrDistribution | None:
    """The OCR confidence histogram (``counts``: lower bin edge -> plates, as the loader's SQL bins them) with
    the low-confidence threshold; ``below`` plates read under it."""
    if not plates:
        return None
    edges = [i * width for i in range(round(100 / width))]
    bins = [(edge, int(counts.get(edge, 0))) for edge in edges]
    reading = (
        f"{percent(below, plates)} of {plates:,} plates ({below:,}) read below the low-confidence threshold of "
        f"{threshold:g} (alpr.low_confidence_threshold)"
    )
    if median_confidence is not None:
        reading += f"; median OCR confidence {median_confidence:.0f}"
    return OcrDistribution(bins=bins, width=width, threshold=threshold, reading=reading + ".")


@dataclass(frozen=True)
class DailyCost:
    days: list[tuple[date, int, float, float]]  # date, frames, recognition seconds, estimated cost
    reading: str


def daily_cost(rows: Iterable[Row]) -> DailyCost | None:
    """Estimated recognition cost per day, from ``daily_processing`` (the price per hour is read back from it)."""
    days = sorted(
        (
            (
                r.get("event_date"),
                _int(r.get("frames")),
                _num(r.get("recognition_seconds")),
                _num(r.get("estimated_cost")),
            )
            for r in rows
        ),
        key=lambda d: (d[0] is None, d[0]),
    )
    if not days:
        return None
    seconds = sum(d[2] for d in days)
    cost = sum(d[3] for d in days)
    top = max(days, key=lambda d: (d[3], d[0]))
    reading = f"Estimated recognition cost {money(cost)} over {len(days)} day{'s' if len(days) != 1 else ''}"
    if seconds:
        reading += f" ({seconds:,.0f} s of recognition at {money(cost / seconds * 3600)} per hour)"
    reading += f"; highest on {_day(top[0])}: {money(top[3])} for {top[1]:,} frames."
    return DailyCost(days=days, reading=reading)


def money(value: float) -> str:
    """2 decimals from 1 up, else 2 significant digits (a day of a few frames costs fractions of a cent)."""
    if value == 0:
        return "0"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.2g}"


# ------------------------------------------------------------------------------------------------------------
# detections

SEVERITY_ORDER = ("critical", "error", "warning", "info")  # most urgent first; anything else follows


def _severity_key(severity: str) -> tuple[int, str]:
    return (SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER), severity)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class AlertsBySeverity:
    days: list[date]  # every site-local day with an alert or a matching frame, in order
    severities: list[str]  # most urgent first
    counts: dict[str, list[int]]  # severity -> alerts per day (as ``days``)
    alerts: int
    episodes: int  # per day, from the daily threat report: an episode crossing midnight counts on both days
    reading: str


def alerts_by_severity(alert_rows: Iterable[Row], report_rows: Iterable[Row] = ()) -> AlertsBySeverity | None:
    """Alerts per site-local day and severity (``alert_rows``: local_date, severity, alerts, as the loader
    aggregates ``alerts``), with the episodes of the daily threat report (``report_rows``: local_date, severity,
    episodes); None when there is no alert."""
    per: dict[tuple, int] = defaultdict(int)
    for r in alert_rows:
        per[(r.get("local_date"), str(r.get("severity") or "unknown"))] += _int(r.get("alerts"))
    alerts = sum(per.values())
    if not alerts:
        return None
    report_rows = list(report_rows)
    episodes = sum(_int(r.get("episodes")) for r in report_rows)
    days = sorted({d for d, _ in per} | {r.get("local_date") for r in report_rows}, key=lambda d: (d is None, d))
    days = [d for d in days if d is not None] or days
    severities = sorted({s for (_, s), n in per.items() if n}, key=_severity_key)
    counts = {s: [per.get((d, s), 0) for d in days] for s in severities}
    by_severity = ", ".join(f"{sum(counts[s]):,} {s}" for s in severities)
    per_day = [(sum(counts[s][i] for s in severities), d) for i, d in enumerate(days)]
    most, busiest = max(per_day, key=lambda x: (x[0], x[1] is not None, x[1]))
    reading = f"{plural(alerts, 'alert')} ({by_severity})"
    if episodes:
        reading += f" from {plural(episodes, 'threat episode')} (counted per day)"
    reading += f" over {plural(len(days), 'site-local day')}"
    if len(days) > 1:
        reading += f"; most on {_day(busiest)} ({most:,})"
    return AlertsBySeverity(
        days=days, severities=severities, counts=counts, alerts=alerts, episodes=episodes, reading=reading + "."
    )


@dataclass(frozen=True)
class UserThreats:
    user_id: str
    frames: int
    alerts: int
    alert_frames: int

    @property
    def threat_share(self) -> float:
        return self.alert_frames / self.frames if self.frames else 0.0


@dataclass(frozen=True)
class ThreatsByUser:
    users: list[UserThreats]  # the ``top`` users with an alert, most alerts first
    total_users: int
    users_alerted: int
    alerts: int
    reading: str


def threats_by_user(rows: Iterable[Row], top: int = 15) -> ThreatsByUser | None:
    """Alerts per user (the seed's bar plot of threats per user), from ``threats_by_user``: the ``top`` users
    with most alerts; None when no user has an alert."""
    users = [
        UserThreats(str(r.get("user_id")), _int(r.get("frames")), _int(r.get("alerts")), _int(r.get("alert_frames")))
        for r in rows
    ]
    alerted = sorted((u for u in users if u.alerts), key=lambda u: (-u.alerts, -u.alert_frames, u.user_id))
    if not alerted:
        return None
    alerts = sum(u.alerts for u in alerted)
    first = alerted[0]
    reading = (
        f"{len(alerted):,} of {plural(len(users), 'user')} had an alert ({plural(alerts, 'alert')} in all); "
        f"most: {first.user_id} with {first.alerts:,} ({percent(first.alerts, alerts)} of all alerts), "
        f"{first.threat_share:.0%} of its {first.frames:,} frames in alerted episodes"
    )
    if len(alerted) > top:
        reading += f"; the {top} users with most alerts are shown"
    return ThreatsByUser(
        users=alerted[:top], total_users=len(users), users_alerted=len(alerted), alerts=alerts, reading=reading + "."
    )


SUPPRESSION_ORDER = ("invalid_image", "area_too_small", "outside_schedule", "below_score", "cooldown")


@dataclass(frozen=True)
class SuppressedMatches:
    reasons: list[tuple[str, int, dict[int | None, int]]]  # (reason, matches, matches per rule), most first
    rules: list[int | None]  # rules with a suppressed match, by id
    rule_names: dict[int, str]
    matches: int
    reading: str

    def rule_label(self, rule: int | None) -> str:
        return rule_label(rule, self.rule_names)


def rule_label(rule: int | None, names: Mapping[int, str]) -> str:
    """``rule 200: Person at night`` (the name from silver ``rules``), or ``rule 200`` when it is unknown."""
    if rule is None:
        return "unknown rule"
    name = names.get(rule)
    return f"rule {rule}: {name}" if name else f"rule {rule}"


def suppressed_matches(rows: Iterable[Row], rule_names: Mapping[int, str] | None = None) -> SuppressedMatches | None:
    """Matches of a rule that did not alert, by reason and rule (rows: reason, rule_id, matches, as the loader
    aggregates ``suppressed_matches``); None when nothing was suppressed."""
    per: dict[str, dict[int | None, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        rule = r.get("rule_id")
        per[str(r.get("reason") or "unknown")][int(rule) if rule is not None else None] += _int(r.get("matches"))
    reasons = [
        (reason, sum(by_rule.values()), {rule: n for rule, n in by_rule.items() if n})
        for reason, by_rule in per.items()
    ]
    reasons = [r for r in reasons if r[1]]
    if not reasons:
        return None
    order = {reason: i for i, reason in enumerate(SUPPRESSION_ORDER)}
    reasons.sort(key=lambda r: (-r[1], order.get(r[0], len(order)), r[0]))
    rules = sorted({rule for _, _, by_rule in reasons for rule in by_rule}, key=lambda x: (x is None, x or 0))
    matches = sum(r[1] for r in reasons)
    names = dict(rule_names or {})
    reason, n, by_rule = reasons[0]
    rule, from_rule = max(by_rule.items(), key=lambda kv: (kv[1], -(kv[0] or 0)))
    reading = (
        f"{plural(matches, 'matching frame')} did not alert; the commonest reason: {reason} "
        f"({n:,}, {percent(n, matches)})"
    )
    if len(by_rule) > 1:
        reading += f", {from_rule:,} of them from {rule_label(rule, names)}"
    else:
        reading += f", all from {rule_label(rule, names)}"
    return SuppressedMatches(reasons=reasons, rules=rules, rule_names=names, matches=matches, reading=reading + ".")


@dataclass(frozen=True)
class CameraHealth:
    user_id: str
    device_id: str
    site_id: str | None
    days: int
    frames: int
    invalid_frames: int
    longest_silence_minutes: float | None
    silent: bool
    mostly_invalid: bool
    days_flagged: int
    reasons: dict[str, int]  # invalid frames by validation reason, most first

    @property
    def camera(self) -> str:
        return f"{self.user_id} / {self.device_id}"

    @property
    def invalid_share(self) -> float:
        return self.invalid_frames / self.frames if self.frames else 0.0

    @property
    def needs_attention(self) -> bool:
        return self.days_flagged > 0


@dataclass(frozen=True)
class DeviceHealth:
    cameras: list[CameraHealth]  # every camera, by user and device
    flagged: list[CameraHealth]  # needed attention on some day: mostly invalid (by share), then longest silence
    frames: int
    invalid_frames: int
    silence_alert_minutes: float | None
    invalid_alert_share: float | None
    reading: str


def device_health(
    rows: Iterable[Row],
    reasons: Iterable[Row] = (),
    silence_alert_minutes: float | None = None,
    invalid_alert_share: float | None = None,
) -> DeviceHealth | None:
    """Each camera over the period (rows: one per user_id and device_id, as the loader aggregates
    ``device_health``: days, frames, invalid_frames, longest_silence_minutes, silent, mostly_invalid,
    days_flagged), with its invalid frames by reason (``reasons``: user_id, device_id, reason, frames)."""
    by_camera: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for r in reasons:
        key = (str(r.get("user_id")), str(r.get("device_id")))
        by_camera[key][str(r.get("reason"))] = by_camera[key].get(str(r.get("reason")), 0) + _int(r.get("frames"))
    cameras = []
    for r in rows:
        key = (str(r.get("user_id")), str(r.get("device_id")))
        silence = r.get("longest_silence_minutes")
        cameras.append(
            CameraHealth(
                user_id=key[0],
                device_id=key[1],
                site_id=str(r["site_id"]) if r.get("site_id") is not None else None,
                days=_int(r.get("days")),
                frames=_int(r.get("frames")),
                invalid_frames=_int(r.get("invalid_frames")),
                longest_silence_minutes=float(silence) if silence is not None else None,
                silent=bool(r.get("silent")),
                mostly_invalid=bool(r.get("mostly_invalid")),
                days_flagged=_int(r.get("days_flagged")),
                reasons=dict(sorted(by_camera.get(key, {}).items(), key=lambda kv: (-kv[1], kv[0]))),
            )
        )
    if not cameras:
        return None
    cameras.sort(key=lambda c: (c.user_id, c.device_id))
    flagged = sorted(
        (c for c in cameras if c.needs_attention),
        key=lambda c: (
            not c.mostly_invalid,
            -c.invalid_share if c.mostly_invalid else 0.0,
            -(c.longest_silence_minutes or 0.0),
            c.camera,
        ),
    )
    frames = sum(c.frames for c in cameras)
    invalid = sum(c.invalid_frames for c in cameras)
    reading = (
        f"{plural(frames, 'frame')} from {plural(len(cameras), 'camera')}, {invalid:,} of them invalid images "
        f"({percent(invalid, frames)}); "
    )
    if flagged:
        silent = sum(1 for c in flagged if c.silent)
        mostly = sum(1 for c in flagged if c.mostly_invalid)
        reading += f"{len(flagged):,} camera{'s' if len(flagged) != 1 else ''} needed attention ({silent:,} silent"
        reading += f" for over {silence_alert_minutes:g} minutes" if silence_alert_minutes is not None else ""
        reading += f", {mostly:,} with mostly invalid images)"
        quietest = max(
            (c for c in cameras if c.longest_silence_minutes is not None),
            key=lambda c: (c.longest_silence_minutes, c.camera),
            default=None,
        )
        if quietest is not None:
            reading += f"; longest silence: {quietest.camera} ({quietest.longest_silence_minutes:,.0f} minutes)"
    else:
        reading += "no camera needed attention"
    return DeviceHealth(
        cameras=cameras,
        flagged=flagged,
        frames=frames,
        invalid_frames=invalid,
        silence_alert_minutes=silence_alert_minutes,
        invalid_alert_share=invalid_alert_share,
        reading=reading + ".",
    )


# ------------------------------------------------------------------------------------------------------------
# face_recognition

ENDPOINT_ORDER = ("recognise_user", "add_user")  # the API's endpoints, the busier first; anything else follows
SLI_ORDER = ("availability", "latency")
BURN_SEVERITY_ORDER = ("page", "ticket")
FUNNEL_OUTCOMES = ("enrolled", "failed", "expired", "never_used")  # what became of an enrolment key
PROTOCOL_ORDER = ("FRR", "FAR")
DET_FMR = 0.01  # the DET reading gives the FNMR at this false match rate (FNMR at a fixed FMR, NIST FRTE style)


def _endpoint_key(endpoint: str) -> tuple[int, str]:
    return _order_key(endpoint, ENDPOINT_ORDER)


def _order_key(value: str, order: tuple[str, ...]) -> tuple[int, str]:
    return (order.index(value) if value in order else len(order), value)


def _utc(value: object) -> object:
    """A timestamp as an aware UTC datetime (a naive one is taken as UTC); any other value unchanged."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _minute(value: object) -> str:
    """``2026-11-02 05:35`` (UTC) for a timestamp."""
    value = _utc(value)
    return f"{value:%Y-%m-%d %H:%M}" if isinstance(value, datetime) else str(value)


def _opt(value: object) -> float | None:
    return float(value) if value is not None else None


def rate(value: float | None, digits: int = 1) -> str:
    """A share as a percentage (``6.4%``), ``n/a`` for None."""
    return "n/a" if value is None else f"{value:,.{digits}%}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(frozen=True)
class EndpointSlo:
    endpoint: str
    day: date
    requests: int
    availability: float | None  # not a 5xx
    under_target: float | None  # at most the latency target
    availability_budget_left: float | None  # of the window's error budget; negative once overspent
    latency_budget_left: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    client_4xx: int
    server_5xx: int
    peak_rps: int | None


@dataclass(frozen=True)
class SloStatus:
    endpoints: list[EndpointSlo]  # each endpoint's latest day, recognise_user first
    day: date  # the latest day of all
    requests: int  # on each endpoint's latest day
    budgets: list[tuple[str, str, float]]  # (endpoint, sli, budget left), lowest first
    overspent: int
    availability_slo: float | None
    latency_slo: float | None
    latency_target_ms: float | None
    window_days: int | None
    reading: str


def slo_status(
    rows: Iterable[Row],
    availability_slo: float | None = None,
    latency_slo: float | None = None,
    latency_target_ms: float | None = None,
    window_days: int | None = None,
) -> SloStatus | None:
    """Each endpoint's SLIs and error budget left on its latest day of ``slo_daily`` (rows of other days are
    ignored); the objectives, the latency target and the window come from the configuration (None: unknown)."""
    latest: dict[str, Row] = {}
    for r in rows:
        endpoint, day = str(r.get("endpoint") or "unknown"), r.get("event_date")
        if day is not None and (endpoint not in latest or day > latest[endpoint]["event_date"]):
            latest[endpoint] = r
    if not latest:
        return None
    endpoints = [
        EndpointSlo(
            endpoint=endpoint,
            day=r["event_date"],
            requests=_int(r.get("requests")),
            availability=_opt(r.get("availability")),
            under_target=_opt(r.get("share_under_target")),
            availability_budget_left=_opt(r.get("availability_budget_remaining")),
            latency_budget_left=_opt(r.get("latency_budget_remaining")),
            p50_ms=_opt(r.get("latency_p50_ms")),
            p95_ms=_opt(r.get("latency_p95_ms")),
            p99_ms=_opt(r.get("latency_p99_ms")),
            client_4xx=_int(r.get("client_4xx")),
            server_5xx=_int(r.get("server_5xx")),
            peak_rps=r.get("peak_rps"),
        )
        for endpoint, r in sorted(latest.items(), key=lambda kv: _endpoint_key(kv[0]))
    ]
    budgets = sorted(
        (
            (e.endpoint, sli, left)
            for e in endpoints
            for sli, left in (("availability", e.availability_budget_left), ("latency", e.latency_budget_left))
            if left is not None
        ),
        key=lambda b: (b[2], _endpoint_key(b[0]), b[1]),
    )
    overspent = sum(1 for b in budgets if b[2] < 0)
    window = f"the {window_days}-day window" if window_days else "the SLO window"
    if not budgets:
        reading = "no error budget recorded"
    elif overspent:
        endpoint, sli, left = budgets[0]
        reading = (
            f"{overspent} of {len(budgets)} error budgets overspent over {window} "
            f"(the most: {endpoint} {sli}, {left:,.0%} left)"
        )
    else:
        endpoint, sli, left = budgets[0]
        reading = f"no error budget overspent over {window} (the lowest left: {endpoint} {sli}, {left:,.0%})"
    return SloStatus(
        endpoints=endpoints,
        day=max(e.day for e in endpoints),
        requests=sum(e.requests for e in endpoints),
        budgets=budgets,
        overspent=overspent,
        availability_slo=availability_slo,
        latency_slo=latency_slo,
        latency_target_ms=latency_target_ms,
        window_days=window_days,
        reading=reading,
    )


@dataclass(frozen=True)
class HourlyLatency:
    endpoints: list[str]  # recognise_user first
    series: dict[str, list[tuple[datetime, float | None, float | None, float | None]]]  # hour, p50, p95, p99
    target_ms: float | None
    reading: str


def hourly_latency(rows: Iterable[Row], target_ms: float | None = None) -> HourlyLatency | None:
    """Latency p50, p95 and p99 per endpoint and UTC hour, from ``slo_hourly``, against the latency target."""
    series: dict[str, list[tuple]] = defaultdict(list)
    for r in rows:
        if r.get("hour") is None:
            continue
        series[str(r.get("endpoint") or "unknown")].append(
            (
                _utc(r["hour"]),
                _opt(r.get("latency_p50_ms")),
                _opt(r.get("latency_p95_ms")),
                _opt(r.get("latency_p99_ms")),
            )
        )
    if not series:
        return None
    for points in series.values():
        points.sort(key=lambda p: p[0])
    endpoints = sorted(series, key=_endpoint_key)
    hours = [(e, p) for e in endpoints for p in series[e] if p[2] is not None]
    if not hours:
        reading = "No latency recorded."
    elif target_ms is not None:
        over = [(e, p) for e, p in hours if p[2] > target_ms]
        if over:
            endpoint, worst = max(over, key=lambda x: (x[1][2], x[1][0]))
            reading = (
                f"p95 above the {target_ms:,.0f} ms target in {len(over):,} of {plural(len(hours), 'endpoint-hour')}; "
                f"the worst: {endpoint} at {_minute(worst[0])} UTC (p95 {worst[2]:,.0f} ms"
                + (f", p99 {worst[3]:,.0f} ms)." if worst[3] is not None else ").")
            )
        else:
            endpoint, top = max(hours, key=lambda x: (x[1][3] or x[1][2], x[1][0]))
            reading = (
                f"p95 at or under the {target_ms:,.0f} ms target in all {plural(len(hours), 'endpoint-hour')}; "
                f"the highest p99: {endpoint} at {_minute(top[0])} UTC ({(top[3] or top[2]):,.0f} ms)."
            )
    else:
        endpoint, top = max(hours, key=lambda x: (x[1][2], x[1][0]))
        reading = f"The highest p95: {endpoint} at {_minute(top[0])} UTC ({top[2]:,.0f} ms)."
    return HourlyLatency(endpoints=endpoints, series=dict(series), target_ms=target_ms, reading=reading)


@dataclass(frozen=True)
class BurnAlert:
    endpoint: str
    sli: str
    rule: str  # <long>/<short>, e.g. 1h/5m
    severity: str
    factor: float
    fired_from: datetime  # the first firing evaluation point: the end of its 5-minute bucket
    fired_to: datetime
    evaluations: int
    peak_long_burn_rate: float | None
    budget_share: float | None

    @property
    def lane(self) -> str:
        return f"{self.endpoint} {self.sli} {self.rule}"


@dataclass(frozen=True)
class BurnAlerts:
    alerts: list[BurnAlert]  # by start
    lanes: list[str]  # endpoint, SLI and rule of the alerts, in display order (the fastest rule first)
    severities: dict[str, int]  # alerts per severity, page first
    reading: str


def burn_alerts(rows: Iterable[Row]) -> BurnAlerts | None:
    """The multiwindow, multi-burn-rate alerts that fired, from ``burn_rate_alerts``; None when none did."""
    alerts = [
        BurnAlert(
            endpoint=str(r.get("endpoint") or "unknown"),
            sli=str(r.get("sli") or "unknown"),
            rule=str(r.get("rule") or "unknown"),
            severity=str(r.get("severity") or "unknown"),
            factor=_num(r.get("factor")),
            fired_from=_utc(r["fired_from"]),
            fired_to=_utc(r.get("fired_to") or r["fired_from"]),
            evaluations=_int(r.get("evaluations")),
            peak_long_burn_rate=_opt(r.get("peak_long_burn_rate")),
            budget_share=_opt(r.get("budget_share")),
        )
        for r in rows
        if r.get("fired_from") is not None
    ]
    if not alerts:
        return None
    alerts.sort(key=lambda a: (a.fired_from, _endpoint_key(a.endpoint), a.sli, -a.factor))
    lane_keys = {a.lane: (_endpoint_key(a.endpoint), _order_key(a.sli, SLI_ORDER), -a.factor, a.rule) for a in alerts}
    lanes = sorted(lane_keys, key=lambda lane: lane_keys[lane])
    counts: dict[str, int] = defaultdict(int)
    for a in alerts:
        counts[a.severity] += 1
    severities = {s: counts[s] for s in sorted(counts, key=lambda s: _order_key(s, BURN_SEVERITY_ORDER))}
    top = max(alerts, key=lambda a: (a.peak_long_burn_rate or 0.0, a.factor, -a.fired_from.timestamp()))
    first, last = alerts[0].fired_from, max(a.fired_to for a in alerts)
    if first == last:
        span = f"at {_minute(first)}"
    else:
        span = f"from {_minute(first)} to {_minute(last) if last.date() != first.date() else f'{last:%H:%M}'}"
    reading = (
        f"{plural(len(alerts), 'burn-rate alert')} fired ({', '.join(f'{n:,} {s}' for s, n in severities.items())}) "
        f"{span} UTC; the highest burn: {top.lane} ({top.severity} at {top.factor:g}x)"
    )
    if top.peak_long_burn_rate is not None:
        reading += f", {top.peak_long_burn_rate:,.0f}x the budget rate over {top.rule.split('/')[0]}"
    return BurnAlerts(alerts=alerts, lanes=lanes, severities=severities, reading=reading + ".")


@dataclass(frozen=True)
class FunnelDay:
    day: date
    no_match_answers: int
    keys_issued: int
    outcomes: dict[str, int]  # FUNNEL_OUTCOMES -> keys issued that day
    unknown_keys: int
    conversion: float | None  # enrolled / no-match answers
    median_seconds_to_enrol: float | None


@dataclass(frozen=True)
class EnrollmentFunnel:
    days: list[FunnelDay]  # in order
    no_match_answers: int
    keys_issued: int
    outcomes: dict[str, int]
    unknown_keys: int
    reading: str

    @property
    def conversion(self) -> float | None:
        return self.outcomes["enrolled"] / self.no_match_answers if self.no_match_answers else None


def enrollment_funnel(rows: Iterable[Row]) -> EnrollmentFunnel | None:
    """What became of the enrolment keys the no-match answers issued, per day, from ``enrollment_funnel``;
    None when no key was issued or used."""
    days = sorted(
        (
            FunnelDay(
                day=r["event_date"],
                no_match_answers=_int(r.get("no_match_answers")),
                keys_issued=_int(r.get("keys_issued")),
                outcomes={o: _int(r.get(o)) for o in FUNNEL_OUTCOMES},
                unknown_keys=_int(r.get("unknown_keys")),
                conversion=_opt(r.get("conversion_rate")),
                median_seconds_to_enrol=_opt(r.get("median_seconds_to_enrol")),
            )
            for r in rows
            if r.get("event_date") is not None
        ),
        key=lambda d: d.day,
    )
    answers = sum(d.no_match_answers for d in days)
    keys = sum(d.keys_issued for d in days)
    unknown = sum(d.unknown_keys for d in days)
    if not (answers or keys or unknown):
        return None
    outcomes = {o: sum(d.outcomes[o] for d in days) for o in FUNNEL_OUTCOMES}
    reading = (
        f"{plural(answers, 'no-match answer')} issued {plural(keys, 'enrolment key')} over {plural(len(days), 'day')}: "
        f"{outcomes['enrolled']:,} enrolled ({percent(outcomes['enrolled'], answers)} of the answers), "
        f"{outcomes['expired']:,} expired, {outcomes['failed']:,} failed, {outcomes['never_used']:,} never used"
    )
    medians = [d.median_seconds_to_enrol for d in days if d.median_seconds_to_enrol is not None]
    if len(medians) == 1:
        reading += f"; median time to enrol {medians[0]:,.0f} s"
    elif medians:
        reading += f"; daily median time to enrol {min(medians):,.0f}-{max(medians):,.0f} s"
    converted = [d for d in days if d.conversion is not None]
    if len(converted) > 1:
        low = min(converted, key=lambda d: (d.conversion, d.day))
        reading += f"; lowest conversion on {_day(low.day)} ({low.conversion:.0%})"
    if unknown:
        reading += f"; {plural(unknown, 'key')} used that no answer in the data issued"
    return EnrollmentFunnel(
        days=days,
        no_match_answers=answers,
        keys_issued=keys,
        outcomes=outcomes,
        unknown_keys=unknown,
        reading=reading + ".",
    )


@dataclass(frozen=True)
class Rate:
    value: float | None
    low: float | None
    high: float | None  # the 95 % Wilson interval (rule of three with no error)
    errors: int
    trials: int


@dataclass(frozen=True)
class RunAccuracy:
    run_id: str
    protocol: str
    model: str
    gallery_size: int | None
    threshold: float | None
    probes: int
    fta: Rate
    frr: Rate | None  # None without a genuine probe
    far: Rate | None  # None without an impostor probe


def accuracy_runs(rows: Iterable[Row]) -> list[RunAccuracy]:
    """The accuracy of each evaluation run at its recorded threshold, from ``evaluation_rates``: FTA, FRR and
    FAR with their errors, trials and 95 % intervals; by model, FRR runs first, then run id."""

    def _rate(r: Row, name: str, errors: str, trials: str) -> Rate | None:
        if not _int(r.get(trials)):
            return None
        low, high = _opt(r.get(f"{name}_low")), _opt(r.get(f"{name}_high"))
        return Rate(_opt(r.get(name)), low, high, _int(r.get(errors)), _int(r.get(trials)))

    runs = [
        RunAccuracy(
            run_id=str(r.get("run_id")),
            protocol=str(r.get("protocol") or "unknown"),
            model=str(r.get("model") or "unknown"),
            gallery_size=r.get("gallery_size"),
            threshold=_opt(r.get("threshold")),
            probes=_int(r.get("probes")),
            fta=_rate(r, "fta", "fta_count", "probes") or Rate(None, None, None, 0, 0),
            frr=_rate(r, "frr", "frr_errors", "genuine_probes"),
            far=_rate(r, "far", "far_errors", "impostor_probes"),
        )
        for r in rows
    ]
    return sorted(runs, key=lambda a: (a.model, _order_key(a.protocol, PROTOCOL_ORDER), a.run_id, a.threshold or 0.0))


@dataclass(frozen=True)
class DetCurve:
    run_id: str  # the run of the genuine probes (FNMR)
    impostor_runs: list[str]  # the runs of the impostor probes (FMR): the run itself, or its model's impostor runs
    model: str
    points: list[tuple[float, float, float]]  # (threshold, FMR, FNMR), by threshold
    run_threshold: float | None  # where the run recorded its decisions
    at_run: tuple[float, float, float] | None  # the point at run_threshold
    at_target: tuple[float, float, float] | None  # the lowest FNMR with FMR at most the target FMR


@dataclass(frozen=True)
class DetCurves:
    curves: list[DetCurve]
    target_fmr: float
    reading: str


def det_curves(rows: Iterable[Row], target_fmr: float = DET_FMR) -> DetCurves | None:
    """DET curves (FNMR against FMR over the threshold grid) from ``threshold_sweep``, one per run with genuine
    probes. A run without impostor probes (the seed's protocols: FRR and FAR are separate runs) takes its FMR from
    the impostor runs of the same model, their counts pooled per threshold; None when no curve can be drawn."""
    runs: dict[str, dict] = {}
    for r in rows:
        threshold = r.get("threshold")
        if threshold is None:
            continue
        run = runs.setdefault(str(r.get("run_id")), {"model": str(r.get("model") or "unknown"), "at": {}, "own": None})
        run["at"][float(threshold)] = (
            _int(r.get("acquired_genuine_probes")),
            _int(r.get("false_non_matches")),
            _int(r.get("acquired_impostor_probes")),
            _int(r.get("false_matches")),
        )
        if r.get("is_run_threshold"):
            run["own"] = float(threshold)
    impostors: dict[str, list[str]] = defaultdict(list)
    for run_id, run in sorted(runs.items()):
        if any(c[2] for c in run["at"].values()):
            impostors[run["model"]].append(run_id)
    curves = []
    for run_id, run in sorted(runs.items(), key=lambda kv: (kv[1]["model"], kv[0])):
        if not any(c[0] for c in run["at"].values()):
            continue
        sources = [run_id] if run_id in impostors[run["model"]] else impostors[run["model"]]
        points = []
        for t, (genuine, non_matches, _, _) in sorted(run["at"].items()):
            counts = [runs[s]["at"].get(t) for s in sources]
            trials = sum(c[2] for c in counts if c)
            if genuine and trials and all(counts):
                points.append((t, sum(c[3] for c in counts) / trials, non_matches / genuine))
        if not points:
            continue
        at_run = next((p for p in points if p[0] == run["own"]), None)
        within = [p for p in points if p[1] <= target_fmr]
        at_target = min(within, key=lambda p: (p[2], -p[0])) if within else None
        curves.append(DetCurve(run_id, sources, run["model"], points, run["own"], at_run, at_target))
    if not curves:
        return None
    parts = []
    for c in curves:
        part = f"{c.run_id}: "
        if c.at_run is not None:
            part += f"FNMR {rate(c.at_run[2])} at FMR {rate(c.at_run[1])} (its threshold {c.at_run[0]:g}), "
        if c.at_target is not None:
            part += f"{rate(c.at_target[2])} at FMR ≤ {target_fmr:.0%} (threshold {c.at_target[0]:g})"
        else:
            part += f"no threshold of the grid reaches FMR ≤ {target_fmr:.0%}"
        parts.append(part)
    return DetCurves(curves=curves, target_fmr=target_fmr, reading="; ".join(parts) + ".")


@dataclass(frozen=True)
class ThresholdCheck:
    metric: str
    expression: str  # k6 syntax, e.g. p(95)<3000
    observed: float | None
    passed: bool

    @property
    def value(self) -> str:
        """What was observed: ``832 ms`` for a duration, ``1.9%`` for a rate."""
        if self.observed is None:
            return "n/a"
        if self.metric == "http_req_failed":
            return rate(self.observed)
        if self.metric == "http_req_duration":
            return f"{self.observed:,.0f} ms"
        return f"{self.observed:,.0f}"


@dataclass(frozen=True)
class LoadStage:
    stage: int  # 1, 2, ... in time order; 0: the whole run
    vus: int | None
    seconds: float | None
    requests: int
    requests_per_second: float | None
    p95_ms: float | None
    failure_rate: float | None
    thresholds: list[ThresholdCheck]
    passed: bool

    @property
    def label(self) -> str:
        return "whole run" if self.stage == 0 else f"stage {self.stage}"


@dataclass(frozen=True)
class LoadTest:
    test_run_id: str
    started_at: datetime | None
    stages: list[LoadStage]  # the stages in order, then the whole run (stage 0)

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.stages)


@dataclass(frozen=True)
class LoadTests:
    runs: list[LoadTest]  # newest first, the ``limit`` newest
    total_runs: int
    reading: str  # of the newest


def load_tests(rows: Iterable[Row], limit: int = 3) -> LoadTests | None:
    """k6 runs per stage of constant VUs, from ``load_test_summary``, newest first; the reading judges the newest."""
    per_run: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        per_run[str(r.get("test_run_id"))].append(r)
    if not per_run:
        return None
    runs = []
    for run_id, parts in per_run.items():
        stages = [
            LoadStage(
                stage=_int(r.get("stage")),
                vus=r.get("vus"),
                seconds=_opt(r.get("seconds")),
                requests=_int(r.get("requests")),
                requests_per_second=_opt(r.get("requests_per_second")),
                p95_ms=_opt(r.get("p95_ms")),
                failure_rate=_opt(r.get("failure_rate")),
                thresholds=[_threshold(t) for t in r.get("thresholds") or []],
                passed=bool(r.get("passed")),
            )
            for r in parts
        ]
        stages.sort(key=lambda s: (s.stage == 0, s.stage))
        started = [_utc(r["started_at"]) for r in parts if r.get("started_at") is not None]
        runs.append(LoadTest(run_id, min(started) if started else None, stages))
    runs.sort(key=lambda t: (t.started_at is not None, t.started_at, t.test_run_id), reverse=True)
    newest = runs[0]
    steps = [s for s in newest.stages if s.stage]
    vus = [f"{s.vus:,}" for s in steps if s.vus is not None]
    reading = f"{newest.test_run_id}" + (f" ({_and(vus)} VUs)" if vus else "")
    failed = [(s, t) for s in newest.stages for t in s.thresholds if not t.passed]
    if failed:
        reading += " failed " + ", ".join(
            f"{t.expression} at stage {s.stage} ({s.vus:,} VUs: {t.value})"
            if s.stage and s.vus is not None
            else f"{t.expression} {'over the whole run' if s.stage == 0 else f'at stage {s.stage}'} ({t.value})"
            for s, t in failed
        )
    elif any(s.thresholds for s in newest.stages):
        reading += " passed every threshold at every stage and over the whole run"
    else:
        reading += " has no threshold to pass"
    p95 = [s for s in steps if s.p95_ms is not None]
    if p95:
        top = max(p95, key=lambda s: s.p95_ms)
        reading += f"; p95 up to {top.p95_ms:,.0f} ms (stage {top.stage})"
    return LoadTests(runs=runs[:limit], total_runs=len(runs), reading=reading + ".")


def _threshold(t: Mapping[str, object]) -> ThresholdCheck:
    return ThresholdCheck(
        str(t.get("metric")), str(t.get("expression")), _opt(t.get("observed")), bool(t.get("passed"))
    )


# ------------------------------------------------------------------------------------------------------------
# the run history


STAGE_ORDER = ("bronze", "silver", "check", "gold")


@dataclass(frozen=True)
class StageRun:
    stage: str
    status: str
    seconds: float
    files_in: int | None
    rows_in: int | None
    rows_out: int | None  # rows written to tables that are not quarantine (None: the stage writes no table)
    quarantined: int | None


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    source: str
    started_at: datetime | None
    stages: list[StageRun]

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    @property
    def status(self) -> str:
        bad = [s.status for s in self.stages if s.status != "ok"]
        return bad[0] if bad else "ok"


@dataclass(frozen=True)
class RunHistory:
    runs: list[RunSummary]  # newest first
    total_runs: int
    reading: str


def rows_written(rows_out: object) -> int | None:
    """The rows a stage wrote to tables other than quarantine (``rows_out`` is a map table -> rows, which
    arrives as a dict or as a list of (key, value) pairs; None when the stage wrote no table)."""
    if rows_out is None:
        return None
    pairs = rows_out.items() if isinstance(rows_out, Mapping) else rows_out
    return sum(_int(v) for k, v in pairs if not str(k).startswith("quarantine"))


def run_history(rows: Iterable[Row], limit: int = 10) -> RunHistory | None:
    """Runs from ``_runs`` (one row per run and stage), newest first, the ``limit`` newest kept."""
    stages: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in rows:
        stages[(str(r.get("run_id")), str(r.get("source")))].append(r)
    if not stages:
        return None
    runs = []
    for (run_id, source), parts in stages.items():
        parts.sort(key=lambda r: (_stage_key(str(r.get("stage"))), r.get("started_at") is None, r.get("started_at")))
        started = [r["started_at"] for r in parts if r.get("started_at") is not None]
        runs.append(
            RunSummary(
                run_id=run_id,
                source=source,
                started_at=min(started) if started else None,
                stages=[
                    StageRun(
                        stage=str(r.get("stage")),
                        status=str(r.get("status") or "unknown"),
                        seconds=_num(r.get("seconds")),
                        files_in=r.get("files_in"),
                        rows_in=r.get("rows_in"),
                        rows_out=rows_written(r.get("rows_out")),
                        quarantined=r.get("quarantined"),
                    )
                    for r in parts
                ],
            )
        )
    runs.sort(key=lambda r: (r.started_at is not None, r.started_at, r.run_id), reverse=True)
    latest = runs[0]
    sources = sorted({r.source for r in runs})
    quarantined = sum(_int(s.quarantined) for r in runs for s in r.stages)
    reading = f"{len(runs)} run{'s' if len(runs) != 1 else ''} of {', '.join(sources)}"
    dates = [r.started_at for r in runs if r.started_at is not None]
    if dates:
        first, last = min(dates), max(dates)
        same = first.date() == last.date()
        reading += f" on {first:%Y-%m-%d}" if same else f" from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    reading += f"; the latest ({latest.source}) took {latest.seconds:,.0f} s"
    if latest.stages:
        slowest = max(latest.stages, key=lambda s: s.seconds)
        reading += f", {slowest.stage} the longest ({slowest.seconds:,.0f} s)"
    failed = [r for r in runs if r.status != "ok"]
    if failed:
        reading += f"; {len(failed)} did not complete ({', '.join(sorted({r.status for r in failed}))})"
    reading += f"; {quarantined:,} record{'s' if quarantined != 1 else ''} quarantined in all."
    return RunHistory(runs=runs[:limit], total_runs=len(runs), reading=reading)


def _stage_key(stage: str) -> int:
    return STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)


@dataclass(frozen=True)
class Quarantine:
    reasons: list[tuple[str, str, int]]  # (source, reason, records), most first
    reading: str


def quarantine_reasons(rows: Iterable[Row]) -> Quarantine:
    """Quarantined records by source and reason (rows: source, reason, records)."""
    reasons = sorted(
        ((str(r.get("source")), str(r.get("reason") or "unknown"), _int(r.get("records"))) for r in rows),
        key=lambda x: (-x[2], x[0], x[1]),
    )
    reasons = [r for r in reasons if r[2]]
    total = sum(r[2] for r in reasons)
    if not reasons:
        return Quarantine(reasons=[], reading="No record has been quarantined.")
    source, reason, n = reasons[0]
    records = f"{total:,} record{'s' if total != 1 else ''}"
    reading = f"{records} quarantined; the commonest reason: {reason} ({source}, {n:,})."
    return Quarantine(reasons=reasons, reading=reading)


def _day(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
