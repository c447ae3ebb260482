"""What the report shows, computed from rows of the lake's tables: pure functions over lists of dicts (one dict
per row, as ``pyarrow.Table.to_pylist()`` gives them), each returning what its chart draws and the one-line
reading printed under it. No IO here: :mod:`visionlake.report.load` queries the lake.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

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
