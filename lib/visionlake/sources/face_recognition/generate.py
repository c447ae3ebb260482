"""Synthetic inputs of the face recognition backend: request logs, LFW evaluation runs and a k6 load test.

No real logs exist, so this module writes what the contract of face-recognition-api.md §2 describes, with the
seed system's numbers (§1), for the face_recognition pipeline to ingest, test and benchmark against. Under one
root, told apart by the first folder (as the pipeline does):

- ``requests/<UTC date>/api-<UTC hour>.jsonl``: ``count`` request-log lines, duplicates included, one file
  per UTC hour of traffic (the file name is the UTC hour; the ``ts`` inside are written in the server's local
  offset, +01:00, except in every 7th file, hour offsets 3, 10, 17, ... from the first, whose ``ts`` end in
  ``Z``). Traffic averages ``RATE_PER_S`` requests per second with a day/night rhythm (local time), so the
  lines span ``count / RATE_PER_S`` seconds from ``start``; ``recognise_user`` ~95 %, ``add_user`` ~5 %.
  Recognise outcomes: match ~86 %, no match ~12 % (HTTP 200, status failure, an enrolment key valid for
  ``KEY_LIFETIME_S``), no face ~1.5 % (400 / 601), a few other 4xx per hour, rare 500/503. About 30 % of the
  keys are used by an ``add_user`` before they expire, ~3 % after (refused, 602), the rest never. Incidents
  (see :func:`incident_windows`): a 20-minute outage of 503s at the middle of the span (spans of 2 h and
  more) and one UTC clock hour of slow vector search (p95 well over 1 s) at a quarter of it (4 h and more).
  ``DUPLICATE_SHARE`` of the lines are a request logged twice: the same text on the next line.
  As careless services do, lines carry the user's name, e-mail and birthdate (``user_info``, on a match and
  on every add_user) and the 512-float face ``embedding`` (on every add_user and ~2 % of the recognise_user
  lines that computed one). Names, e-mails (``example.com/org/net``) and IPs (RFC 5737 TEST-NETs) are
  synthetic but shaped like real ones, so the lake's PII scan can find them if they leak.
- ``evaluations/lfw-frr.jsonl``, ``lfw-far.jsonl`` and ``lfw-frr-lowlight.jsonl``: one line per probe. The
  FRR and FAR runs reproduce the seed's LFW benchmark exactly at threshold 1.1 (108 of 1,680 genuine probes
  not matched; 149 of 3,557 impostor probes matched), no failure to acquire; distances are drawn from two
  overlapping normal laws (genuine ~0.78, impostor ~1.42) so a threshold sweep gives a DET-like curve. The
  low-light run has 200 genuine probes, 6 without a face (distance null) and 22 not matched.
- ``loadtests/k6-<YYYYMMDD>-staged.json``: ``k6 run --out json`` of a staged test (one ``default``
  scenario): 4, 8 then 12 VUs for ``load_test_seconds`` each, every VU posting recognise_user and sleeping
  1 s. Metric declarations precede each metric's first point; points of every built-in HTTP and iteration
  metric, ``checks``, and ``vus``/``vus_max`` once a second. Durations grow with the VUs (p95 ~0.8 s at 4,
  ~2 s at 12); ~1.5 % of requests fail, so ``p(95)<3000`` and ``rate<0.05`` pass.

Output is determined by ``count``, ``seed``, ``start`` and ``load_test_seconds``; each input draws from its
own ``numpy`` generator, so the evaluation runs and the load test do not depend on ``count``.

Speed: the per-line randomness is drawn with numpy, one UTC hour at a time; numbers become text through
lookup tables, timestamps through ``numpy.datetime_as_string``, and each line is one ``str.format`` of a
template made per outcome (the outcome fixes status, message, the stages present and the nested objects).
Embeddings, faces and user records come from pools serialised once (``EMBEDDING_POOL`` embeddings).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from itertools import pairwise
from pathlib import Path
from statistics import NormalDist

import numpy as np

from visionlake.sources.face_recognition.schema import EVALUATIONS, LOADTESTS, REQUESTS, STAGES

LOCAL_TZ = timezone(timedelta(hours=1))  # the API server's zone (CET, no DST change in November)
DEFAULT_START = datetime(2026, 11, 2, tzinfo=UTC)
SECOND_US = 1_000_000
HOUR_US = 3_600 * SECOND_US
LOCAL_OFFSET_US = HOUR_US

# ---- traffic -----------------------------------------------------------------------------------------------

RATE_PER_S = 5.0  # mean requests per second over the span
P_ADD_USER = 0.05
DUPLICATE_SHARE = 0.001  # lines logged twice: count // 1000 of them
UTC_FILE_EVERY, UTC_FILE_AT = 7, 3  # hour files whose offset from the first is 3 mod 7 write ts in UTC ("Z")
# Relative traffic per local hour (centre of the hour; linear in between): quiet nights, busy office hours.
HOURLY = (
    0.22, 0.15, 0.12, 0.11, 0.13, 0.22, 0.45, 0.85, 1.30, 1.50, 1.45, 1.40,
    1.45, 1.50, 1.45, 1.40, 1.40, 1.45, 1.35, 1.10, 0.85, 0.62, 0.45, 0.30,
)  # fmt: skip

# Incidents, placed relative to the span (see incident_windows).
OUTAGE_MINUTES = 20
OUTAGE_AT = 0.5  # share of the span at which the outage starts (down to the minute)
OUTAGE_MIN_SPAN_S = 2 * 3_600
P_OUTAGE_503 = 0.97  # requests answered 503 during the outage
SLOW_AT = 0.25  # share of the span whose UTC clock hour is the slow hour
SLOW_MIN_SPAN_S = 4 * 3_600

# Enrolment: keys (vectors_cache entries) live KEY_LIFETIME_S; an add_user uses one with these shares.
KEY_LIFETIME_S = 600
P_KEY_BEFORE, P_KEY_AFTER = 0.70, 0.08  # add_user lines that use a key before / after it expired (else no key)
KEY_DELAY_BEFORE_S = (20.0, 585.0)  # after the no-match answer
KEY_DELAY_AFTER_S = (630.0, 7_200.0)
ENROLLED_USERS = 10_000  # users in the database at the start (u-000001 .. u-010000)
THRESHOLD = 1.1  # FaceNet euclidean distance threshold, as in the seed's benchmark
P_EMBEDDING_RECOGNISE = 0.02  # recognise_user lines (that computed one) logging the embedding
EMBEDDING_POOL = 64
EMBEDDING_DIM = 512
CLIENTS = 3_000


@dataclass(frozen=True)
class Outcome:
    """What one kind of answer looks like in the log (a line's template is made from it)."""

    endpoint: str
    http_status: int
    status: str
    message: str
    error_code: int | None
    stages: tuple[str, ...]  # the stages that ran, in STAGES order
    face: str = ""  # "": null | "detected" | "missed"
    match: bool = False
    enrollment: str = ""  # "": null | "issued" (no match) | "used" (add_user with a key) | "refused"


ALL_STAGES = STAGES
DETECT, EMBED, SEARCH, DB, QUEUE = STAGES
NO_FACE, EXISTS = "Face not detected in the image", "User already exists with this email"
DOWN = "Service unavailable: vector database unreachable"
OUTCOMES = (
    Outcome("recognise_user", 200, "success", "Match found", None, ALL_STAGES, "detected", match=True),
    Outcome("recognise_user", 200, "failure", "no_match", None, ALL_STAGES, "detected", enrollment="issued"),
    Outcome("recognise_user", 400, "error", NO_FACE, 601, (DETECT, QUEUE), "missed"),
    Outcome("recognise_user", 400, "error", "Invalid image file", 600, (QUEUE,)),
    Outcome("recognise_user", 413, "error", "Request entity too large", None, (QUEUE,)),  # from the proxy
    Outcome("recognise_user", 422, "error", "Field required: image", None, (QUEUE,)),  # from the framework
    Outcome("recognise_user", 500, "error", "Internal server error", 500, (DETECT, QUEUE), "detected"),
    Outcome("recognise_user", 503, "error", DOWN, 503, (DETECT, EMBED, QUEUE), "detected"),  # search failed
    Outcome("add_user", 200, "success", "User added successfully", None, ALL_STAGES, "detected"),
    Outcome("add_user", 200, "success", "User added successfully", None, (DB, QUEUE), enrollment="used"),
    Outcome("add_user", 400, "error", "Enrollment key expired", 602, (DB, QUEUE), enrollment="refused"),
    Outcome("add_user", 404, "error", EXISTS, 404, (DB, QUEUE)),  # the seed's 404 for a duplicate e-mail
    Outcome("add_user", 404, "error", EXISTS, 404, (DB, QUEUE), enrollment="refused"),
    Outcome("add_user", 409, "error", "Face already registered", 409, (DETECT, EMBED, SEARCH, QUEUE), "detected"),
    Outcome("add_user", 400, "error", NO_FACE, 601, (DETECT, QUEUE), "missed"),
    Outcome("add_user", 422, "error", "Field required: birthdate", None, (QUEUE,)),
    Outcome("add_user", 503, "error", DOWN, 503, (DETECT, EMBED, QUEUE), "detected"),
    Outcome("add_user", 503, "error", DOWN, 503, (QUEUE,), enrollment="refused"),
)
(
    R_MATCH, R_NO_MATCH, R_NO_FACE, R_BAD_IMAGE, R_TOO_LARGE, R_NO_FIELD, R_500, R_503,
    A_OK, A_OK_KEY, A_EXPIRED, A_EMAIL, A_EMAIL_KEY, A_DUP_FACE, A_NO_FACE, A_NO_FIELD, A_503, A_503_KEY,
) = range(len(OUTCOMES))  # fmt: skip
ADD_CODES = tuple(range(A_OK, len(OUTCOMES)))
# recognise_user outcomes outside the outage (the rest: match)
RECOGNISE_MIX = (
    (R_NO_FACE, 0.015), (R_BAD_IMAGE, 0.0001), (R_TOO_LARGE, 0.0001), (R_NO_FIELD, 0.00008),
    (R_500, 0.0003), (R_503, 0.0001), (R_NO_MATCH, 0.12),
)  # fmt: skip
KEYED_MIX = ((A_EMAIL_KEY, 0.03),)  # add_user with a valid key (the rest: A_OK_KEY)
UNKEYED_MIX = ((A_NO_FACE, 0.02), (A_DUP_FACE, 0.03), (A_EMAIL, 0.03), (A_NO_FIELD, 0.003))  # (rest: A_OK)

# Stage times, lognormal (median ms, sigma); the slow hour replaces search and queue.
STAGE_LAW = {DETECT: (42.0, 0.25), EMBED: (35.0, 0.2), SEARCH: (11.0, 0.45), DB: (4.5, 0.5), QUEUE: (2.5, 0.6)}
SLOW_LAW = {SEARCH: (620.0, 0.55), QUEUE: (120.0, 0.9)}
OVERHEAD_LAW = (18.0, 0.4)  # upload, decoding, serialisation: latency_ms = stages that ran + overhead
P_QUEUE_TAIL, QUEUE_TAIL_MS = 0.02, (10.0, 80.0)
MAX_TENTHS = 300_000  # times are written in tenths of a millisecond, up to 30 s

# ---- evaluation runs ---------------------------------------------------------------------------------------

MODEL = "facenet-vggface2"
FRR_GALLERY, FRR_PROBES, FRR_REJECTED = 5_650, 1_680, 108
FAR_GALLERY, FAR_PROBES, FAR_ACCEPTED = 2_796, 3_557, 149
LOWLIGHT_PROBES, LOWLIGHT_FTA, LOWLIGHT_REJECTED = 200, 6, 22
LFW_IDENTITIES = 5_749
GENUINE = NormalDist(0.78, 0.2107)  # P(d > 1.1) ~ 6.4 %
IMPOSTOR = NormalDist(1.42, 0.185)  # P(d <= 1.1) ~ 4.2 %
LOWLIGHT = NormalDist(0.90, 0.22)
DISTANCE_RANGE = (0.05, 1.95)

# ---- load test ---------------------------------------------------------------------------------------------

K6_VUS = (4, 8, 12)
K6_URL = "http://api:8000/api/v1/recognise_user"
K6_START_LOCAL_HOUR = 10  # the test starts at 10:00 local time on start's local date
K6_WAIT_MEDIAN_MS = 450.0  # server time at 4 VUs; grows as (vus / 4) ** 0.85
K6_WAIT_SIGMA = 0.35
K6_P_FAIL = {"503": 0.01, "500": 0.005}
K6_METRICS = {  # name: (type, contains, thresholds)
    "vus": ("gauge", "default", []),
    "vus_max": ("gauge", "default", []),
    "http_reqs": ("counter", "default", []),
    "http_req_duration": ("trend", "time", ["p(95)<3000"]),
    "http_req_blocked": ("trend", "time", []),
    "http_req_connecting": ("trend", "time", []),
    "http_req_tls_handshaking": ("trend", "time", []),
    "http_req_sending": ("trend", "time", []),
    "http_req_waiting": ("trend", "time", []),
    "http_req_receiving": ("trend", "time", []),
    "http_req_failed": ("rate", "default", ["rate<0.05"]),
    "checks": ("rate", "default", []),
    "data_sent": ("counter", "data", []),
    "data_received": ("counter", "data", []),
    "iteration_duration": ("trend", "time", []),
    "iterations": ("counter", "default", []),
}

# ---- identities (synthetic) --------------------------------------------------------------------------------

# fmt: off
FIRST_NAMES = (
    "Amelia", "Tomasz", "Ingrid", "Kwame", "Yuki", "Mateo", "Priya", "Lars", "Chiara", "Oluwaseun", "Henrik",
    "Leila", "Dmitri", "Sofia", "Arjun", "Mei", "Lucas", "Aisha", "Jonas", "Camille", "Rafael", "Hana", "Emil",
    "Zainab", "Pavel", "Noor", "Felix", "Valentina", "Kenji", "Freya", "Tariq", "Elena", "Bruno", "Ayumi",
    "Marek", "Lucia", "Samuel", "Ines", "Viktor", "Nadia", "Hugo", "Amara", "Stefan", "Yara", "Oskar", "Maya",
    "Andres", "Keiko", "Milan", "Rosa", "Anders", "Fatima", "Diego", "Lena", "Malik", "Clara", "Jakub", "Sana",
    "Nikolai", "Eva", "Ravi", "Greta", "Thiago", "Aylin", "Patrick", "Mira", "Kofi", "Julia", "Ivan", "Selin",
    "Martin", "Adaeze", "Paolo", "Linnea", "Omar", "Daniela", "Sven", "Hyejin", "Gabriel", "Teresa", "Ali",
    "Johanna", "Marco", "Esra", "Daniel", "Ana", "Tobias", "Chloe", "Femi", "Irene", "Lukas", "Rania",
    "Antoine", "Beatriz", "Wei", "Olga", "Nils", "Imani", "Carlos", "Astrid",
)
LAST_NAMES = (
    "Okafor", "Lindqvist", "Moreau", "Tanaka", "Kowalski", "Ferreira", "Nakamura", "Haddad", "Berg", "Rossi",
    "Mensah", "Novak", "Castillo", "Ivanova", "Schneider", "Patel", "Dubois", "Yilmaz", "Andersen", "Silva",
    "Kim", "Horvat", "Adeyemi", "Fischer", "Romano", "Petrov", "Larsen", "Costa", "Watanabe", "Mueller",
    "Nguyen", "Jansen", "Alvarez", "Eriksson", "Popescu", "Osei", "Bianchi", "Sato", "Keller", "Mazur",
    "Fontaine", "Gomez", "Dimitrov", "Hansen", "Ward", "Shapiro", "Lopez", "Becker", "Nair", "Wojcik",
    "Marchetti", "Ito", "Svensson", "Oyelaran", "Vargas", "Kaplan", "Lambert", "Richter", "Chowdhury", "Moreno",
    "Takahashi", "Brennan", "Kovac", "Ramos", "Lindberg", "Abiodun", "Conti", "Weber", "Suzuki", "Pereira",
    "Ahmed", "Nilsson", "Sokolov", "Herrera", "Koch", "Greco", "Boateng", "Walsh", "Morales", "Hoffmann",
    "Rahman", "Vidal", "Jovanovic", "Hayes", "Kuznetsov", "Mendes", "Park", "Engstrom", "Bakker", "Ortiz",
    "Kaya", "Duarte", "Lehmann", "Mwangi", "Fabbri", "Yamamoto", "Holm", "Santos", "Quinn", "Aziz",
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
TEST_NETS = ("192.0.2", "198.51.100", "203.0.113")  # RFC 5737 documentation ranges
DEVICES = (
    "Android 14; Pixel 8", "Android 13; SM-A546B", "Android 14; SM-S918B", "Android 12; Redmi Note 11",
    "iOS 17.5; iPhone15,2", "iOS 16.7; iPhone13,2", "iOS 17.4; iPhone14,5",
)
APP_VERSIONS = (("2.4.1", 0.55), ("2.4.0", 0.25), ("2.3.7", 0.12), ("2.5.0-beta.2", 0.08))
KIOSK_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
# fmt: on


def _mix(ratio: int, n: int) -> int:
    """A deterministic scramble of ``n`` (Knuth's multiplicative hash) used to pick a person's attributes."""
    return (n * ratio) % 4_294_967_291


def person(n: int) -> tuple[str, str, str]:
    """Name, e-mail and birthdate of synthetic person ``n`` (user u-<n> once enrolled); e-mails are unique."""
    a = _mix(2_654_435_761, n)
    first, last = FIRST_NAMES[a % len(FIRST_NAMES)], LAST_NAMES[(a // 101) % len(LAST_NAMES)]
    email = f"{first}.{last}{n}@{EMAIL_DOMAINS[n % len(EMAIL_DOMAINS)]}".lower()
    birthdate = datetime(1950, 1, 1) + timedelta(days=_mix(40_503, n) % 20_089)  # 1950 .. 2004
    return f"{first} {last}", email, f"{birthdate:%Y-%m-%d}"


def user_id(n: int) -> str:
    return f"u-{n:06d}"


def _user_info(n: int, with_id: bool = True) -> str:
    name, email, birthdate = person(n)
    uid = f'"{user_id(n)}"' if with_id else "null"
    return f'"user_info":{{"id":{uid},"name":"{name}","email":"{email}","birthdate":"{birthdate}"}}'


@cache
def _tenths() -> tuple[str, ...]:
    """Text of k / 10 for k in 0 .. MAX_TENTHS, as Python's json writes a float (``12.0``, ``0.3``)."""
    return tuple(repr(k / 10) for k in range(MAX_TENTHS + 1))


@cache
def _ten_thousandths() -> tuple[str, ...]:
    """Text of k / 10,000 for k in 0 .. 20,000 (distances, confidences): ``0.7345``, ``1.1``."""
    return tuple(repr(round(k / 10_000, 4)) for k in range(20_001))


# ---- public API --------------------------------------------------------------------------------------------


def generate(
    out: Path,
    count: int,
    seed: int = 42,
    start: datetime = DEFAULT_START,
    load_test_seconds: int = 300,
) -> dict[str, int]:
    """Write the three inputs under ``out`` (``requests/``, ``evaluations/``, ``loadtests/``).

    Args:
        out: the input root (created if missing).
        count: request-log lines to write, duplicated lines included (``count // 1000`` of them).
        seed: the same arguments give byte-identical files.
        start: first instant of the request traffic; naive values are taken as UTC.
        load_test_seconds: length of each of the three k6 stages.

    Returns:
        ``request_lines``, ``evaluation_lines``, ``k6_lines``, ``files`` (written) and ``bytes`` (their total).

    Raises:
        ValueError: if ``count`` is negative or ``load_test_seconds`` below 1.
    """
    if count < 0 or load_test_seconds < 1:
        raise ValueError("count must be >= 0 and load_test_seconds >= 1")
    start = _utc(start)
    out = Path(out)
    request_files = write_requests(out / REQUESTS, count, seed, start)
    evaluation_files = write_evaluations(out / EVALUATIONS, seed, start)
    k6_file = write_load_test(out / LOADTESTS, seed, start, load_test_seconds)
    files = [*request_files, *evaluation_files, k6_file]
    return {
        "request_lines": count,
        "evaluation_lines": FRR_PROBES + FAR_PROBES + LOWLIGHT_PROBES,
        "k6_lines": _line_count(k6_file),
        "files": len(files),
        "bytes": sum(f.stat().st_size for f in files),
    }


def write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    """Write ``rows`` as JSON Lines (compact, raw UTF-8, one object per line) and return how many.

    For hand-sized inputs in tests; parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row, separators=(",", ":"), ensure_ascii=False) for row in rows]
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return len(lines)


def incident_windows(count: int, start: datetime = DEFAULT_START) -> dict[str, tuple[datetime, datetime] | None]:
    """The UTC windows of the outage and of the slow hour in a run of ``count`` lines (None: too short a run).

    outage: ``OUTAGE_MINUTES`` from the middle of the span, down to the minute (spans of 2 h and more);
    slow_hour: the UTC clock hour holding the first quarter point of the span (spans of 4 h and more).
    """
    start = _utc(start)
    span = timedelta(seconds=count / RATE_PER_S)
    outage = slow = None
    if span.total_seconds() >= OUTAGE_MIN_SPAN_S:
        begin = (start + span * OUTAGE_AT).replace(second=0, microsecond=0)
        outage = (begin, begin + timedelta(minutes=OUTAGE_MINUTES))
    if span.total_seconds() >= SLOW_MIN_SPAN_S:
        begin = (start + span * SLOW_AT).replace(minute=0, second=0, microsecond=0)
        slow = (begin, begin + timedelta(hours=1))
    return {"outage": outage, "slow_hour": slow}


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _line_count(path: Path) -> int:
    with path.open("rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def _epoch_us(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


# ---- request logs: the plan (what happens, for the whole span) ---------------------------------------------


@dataclass
class _Plan:
    """Every unique request of the run, in time order (index = request number)."""

    t_us: np.ndarray  # epoch microseconds, sorted
    code: np.ndarray  # index into OUTCOMES
    uid: np.ndarray  # matched user, new user (add_user success) or clashing user (email exists); 0: none
    key_of: np.ndarray  # request whose enrolment key the line carries (itself for a no-match); -1: none
    client: np.ndarray  # index into the client pool
    duplicated: np.ndarray  # logged twice
    outage: tuple[int, int] | None  # epoch microseconds
    slow: tuple[int, int] | None


def _arrival_times(rng: np.random.Generator, n: int, start_us: int, span_s: float) -> np.ndarray:
    """``n`` sorted epoch-microsecond times over ``span_s`` seconds, denser in the local day (HOURLY)."""
    edges = np.append(np.arange(0.0, span_s, 60.0), span_s)
    middles = start_us / SECOND_US + (edges[:-1] + edges[1:]) / 2
    local_hour = ((middles + LOCAL_OFFSET_US / SECOND_US) % 86_400) / 3_600
    centres = np.arange(-0.5, 25.0)  # -0.5, 0.5, ..., 24.5: periodic interpolation
    levels = np.array((HOURLY[-1], *HOURLY, HOURLY[0]))
    weights = np.interp(local_hour, centres, levels) * np.diff(edges)
    cumulative = np.concatenate(([0.0], np.cumsum(weights)))
    u = np.sort(rng.random(n)) * cumulative[-1]
    offsets = np.interp(u, cumulative, edges)
    return start_us + np.minimum(np.floor(offsets * SECOND_US).astype(np.int64), int(span_s * SECOND_US) - 1)


def _draw(rng: np.random.Generator, n: int, mix: tuple[tuple[int, float], ...], rest: int) -> np.ndarray:
    """``n`` codes drawn with the shares of ``mix``; the remaining share goes to ``rest``."""
    codes = np.array([c for c, _ in mix] + [rest], dtype=np.int8)
    cum = np.cumsum([p for _, p in mix])
    return codes[np.searchsorted(cum, rng.random(n), side="right")]


def _window_us(window: tuple[datetime, datetime] | None) -> tuple[int, int] | None:
    return None if window is None else (_epoch_us(window[0]), _epoch_us(window[1]))


def _plan(count: int, seed: int, start: datetime) -> tuple[_Plan, np.random.Generator]:
    rng = np.random.default_rng([seed, 1])
    n_dup = int(count * DUPLICATE_SHARE)
    n = count - n_dup
    span_s = count / RATE_PER_S
    t_us = _arrival_times(rng, n, _epoch_us(start), span_s)
    windows = incident_windows(count, start)
    outage, slow = _window_us(windows["outage"]), _window_us(windows["slow_hour"])

    is_add = rng.random(n) < P_ADD_USER
    code = _draw(rng, n, RECOGNISE_MIX, R_MATCH)
    in_outage = np.zeros(n, dtype=bool)
    if outage is not None:
        in_outage = (t_us >= outage[0]) & (t_us < outage[1]) & (rng.random(n) < P_OUTAGE_503)
    code[in_outage & ~is_add] = R_503
    code[is_add] = -1
    client = np.minimum((rng.random(n) ** 2 * CLIENTS).astype(np.int32), CLIENTS - 1)  # a few busy clients

    key_of = np.full(n, -1, dtype=np.int64)
    no_match = np.flatnonzero(code == R_NO_MATCH)
    add = np.flatnonzero(is_add)
    _pair_keys(rng, t_us, add, no_match, key_of)
    keyed = key_of[add] >= 0
    expired = keyed & (t_us[add] - t_us[np.maximum(key_of[add], 0)] >= KEY_LIFETIME_S * SECOND_US)
    add_code = np.where(keyed, _draw(rng, len(add), KEYED_MIX, A_OK_KEY), _draw(rng, len(add), UNKEYED_MIX, A_OK))
    add_code[expired] = A_EXPIRED
    down = in_outage[add]
    add_code[down] = np.where(keyed[down], A_503_KEY, A_503)
    code[add] = add_code
    client[add[keyed]] = client[key_of[add[keyed]]]  # the user enrols from the phone that got the key

    uid = _user_ids(rng, code)
    duplicated = np.zeros(n, dtype=bool)
    duplicated[rng.choice(n, size=n_dup, replace=False)] = True
    plan = _Plan(t_us, code, uid, key_of, client, duplicated, outage, slow)
    return plan, rng


def _pair_keys(
    rng: np.random.Generator, t_us: np.ndarray, add: np.ndarray, no_match: np.ndarray, key_of: np.ndarray
) -> None:
    """Give add_user requests the key of an earlier no-match answer (each key used at most once).

    An add_user uses a key before it expires (P_KEY_BEFORE), after (P_KEY_AFTER) or none; it takes the latest
    unused key issued at least a drawn delay before it (none found, or a "before" key too old: no key).
    """
    key_of[no_match] = no_match
    kind = rng.random(len(add))
    delay_s = np.where(
        kind < P_KEY_BEFORE, rng.uniform(*KEY_DELAY_BEFORE_S, len(add)), rng.uniform(*KEY_DELAY_AFTER_S, len(add))
    )
    wanted = kind < P_KEY_BEFORE + P_KEY_AFTER
    issued = t_us[no_match]
    positions = np.searchsorted(issued, t_us[add] - (delay_s * SECOND_US).astype(np.int64), side="right") - 1
    used = np.zeros(len(no_match), dtype=bool)
    lifetime = KEY_LIFETIME_S * SECOND_US
    for j, pos, before in zip(
        np.flatnonzero(wanted).tolist(),
        positions[wanted].tolist(),
        (kind[wanted] < P_KEY_BEFORE).tolist(),
        strict=True,
    ):
        while pos >= 0 and used[pos]:
            pos -= 1
        if pos < 0 or (before and t_us[add[j]] - issued[pos] >= lifetime):
            continue
        used[pos] = True
        key_of[add[j]] = no_match[pos]


def _user_ids(rng: np.random.Generator, code: np.ndarray) -> np.ndarray:
    """Matched users (popularity skewed to early users), new users in order, and users an e-mail clashes with."""
    added = (code == A_OK) | (code == A_OK_KEY)
    users = ENROLLED_USERS + np.cumsum(added)  # users enrolled once the request is done
    before = users - added
    uid = np.zeros(len(code), dtype=np.int64)
    uid[added] = users[added]
    known = (code == R_MATCH) | (code == A_EMAIL) | (code == A_EMAIL_KEY)
    uid[known] = 1 + (before[known] * rng.random(int(known.sum())) ** 1.5).astype(np.int64)
    return uid


# ---- request logs: the text ------------------------------------------------------------------------------


def _template(o: Outcome, suffix: str) -> str:
    """The line of outcome ``o`` for ``str.format``; ``suffix`` ends the timestamps (``+01:00`` or ``Z``).

    Fields: 0 ts, 1 request_id, 2 latency, 3-7 stages (STAGES order), 8 face, 9 user id, 10 distance, 11 key,
    12 key expiry, 13 client, 14 tail (user_info and embedding, each with its leading comma, or empty).
    """
    error_code = "null" if o.error_code is None else str(o.error_code)
    head = (
        (
            f'"endpoint":"{o.endpoint}","http_status":{o.http_status},"status":"{o.status}",'
            f'"message":{json.dumps(o.message)},"error_code":{error_code}'
        )
        .replace("{", "{{")
        .replace("}", "}}")
    )
    stages = ",".join(f'"{name}":{{{3 + k}}}' for k, name in enumerate(STAGES) if name in o.stages)
    face = "{8}" if o.face else "null"
    match = f'{{{{"user_id":"{{9}}","distance":{{10}},"threshold":{THRESHOLD}}}}}' if o.match else "null"
    enrollment = {
        "": "null",
        "issued": f'{{{{"req_id":"{{11}}","expires_at":"{{12}}{suffix}"}}}}',
        "used": '{{"req_id":"{11}","user_id":"{9}"}}',
        "refused": '{{"req_id":"{11}"}}',
    }[o.enrollment]
    return (
        f'{{{{"ts":"{{0}}{suffix}","request_id":"{{1}}",{head},"latency_ms":{{2}},"stages":{{{{{stages}}}}},'
        f'"face":{face},"match":{match},"enrollment":{enrollment},"client":{{13}}{{14}}}}}}'
    )


class _Pools:
    """Text serialised once per run: clients, faces, embeddings and user records."""

    def __init__(self, rng: np.random.Generator, max_uid: int) -> None:
        self.clients = self._clients(rng)
        self.faces = self._faces(rng, detected=True, n=4096)
        self.missed = self._faces(rng, detected=False, n=256)
        self.face_texts = self.faces + self.missed
        self.embeddings = self._embeddings(rng)
        self.user_ids = ["", *(user_id(n) for n in range(1, max_uid + 1))]
        self.user_infos = ["", *("," + _user_info(n) for n in range(1, max_uid + 1))]

    @staticmethod
    def _clients(rng: np.random.Generator) -> list[str]:
        versions = [v for v, _ in APP_VERSIONS]
        cum = np.cumsum([p for _, p in APP_VERSIONS])
        out = []
        for k in range(CLIENTS):
            ip = f"{TEST_NETS[int(rng.integers(3))]}.{int(rng.integers(1, 255))}"
            version = versions[min(int(np.searchsorted(cum, rng.random(), side="right")), len(versions) - 1)]
            if k % 25 == 0:  # a kiosk at an entrance, running the web app
                agent = KIOSK_AGENT
            else:
                device = DEVICES[int(rng.integers(len(DEVICES)))]
                agent = f"FaceID/{version} ({device})"
            out.append(json.dumps({"ip": ip, "user_agent": agent, "app_version": version}, separators=(",", ":")))
        return out

    @staticmethod
    def _faces(rng: np.random.Generator, detected: bool, n: int) -> list[str]:
        out = []
        for _ in range(n):
            if detected:
                confidence = min(round(1 - 10 ** rng.uniform(-4.3, -1.3), 4), 0.9999)
                w = int(rng.integers(140, 320))
                h = int(w * rng.uniform(1.15, 1.35))
                box = f"[{int(rng.integers(0, 720 - w))},{int(rng.integers(0, 1280 - h))},{w},{h}]"
                out.append(f'{{"detected":true,"confidence":{confidence!r},"box":{box}}}')
            else:
                confidence = round(rng.uniform(0.05, 0.85), 4)
                out.append(f'{{"detected":false,"confidence":{confidence!r},"box":null}}')
        return out

    @staticmethod
    def _embeddings(rng: np.random.Generator) -> list[str]:
        out = []
        for _ in range(EMBEDDING_POOL):
            v = rng.normal(size=EMBEDDING_DIM)
            v = (v / np.linalg.norm(v)).astype(np.float32)  # FaceNet vectors are L2-normalised
            text = ",".join(np.format_float_positional(x, unique=True, trim="-") for x in v)
            out.append(f',"embedding":[{text}]')
        return out


def _lognormal(rng: np.random.Generator, law: tuple[float, float], n: int) -> np.ndarray:
    median, sigma = law
    return rng.lognormal(np.log(median), sigma, n)


def _stage_tenths(rng: np.random.Generator, plan: _Plan, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Stage times (n x 5, tenths of ms, 0 where the stage did not run) and latency of requests a..b."""
    n = b - a
    t = plan.t_us[a:b]
    slow = np.zeros(n, dtype=bool) if plan.slow is None else (t >= plan.slow[0]) & (t < plan.slow[1])
    times = np.empty((n, len(STAGES)))
    for k, name in enumerate(STAGES):
        times[:, k] = _lognormal(rng, STAGE_LAW[name], n)
        if name in SLOW_LAW and slow.any():
            times[slow, k] = _lognormal(rng, SLOW_LAW[name], int(slow.sum()))
    queue = STAGES.index(QUEUE)
    tail = rng.random(n) < P_QUEUE_TAIL
    times[tail, queue] += rng.uniform(*QUEUE_TAIL_MS, int(tail.sum()))
    ran = _STAGE_MASK[plan.code[a:b]]
    tenths = np.minimum(np.rint(times * 10).astype(np.int64), MAX_TENTHS // 6) * ran
    overhead = np.rint(_lognormal(rng, OVERHEAD_LAW, n) * 10).astype(np.int64)
    return tenths, np.minimum(tenths.sum(axis=1) + overhead, MAX_TENTHS)


_STAGE_MASK = np.array([[name in o.stages for name in STAGES] for o in OUTCOMES], dtype=np.int64)
_FACE_KIND = np.array([{"": 0, "detected": 1, "missed": 2}[o.face] for o in OUTCOMES])
_HAS_EMBEDDING = np.array([EMBED in o.stages and o.endpoint == "recognise_user" for o in OUTCOMES])
_REFUSED_ADD = tuple(c for c in ADD_CODES if c not in (A_OK, A_OK_KEY))
_KEY_MULT, _KEY_MASK = 0x5DEECE66D, (1 << 40) - 1  # odd multiplier: a bijection of 40-bit numbers
FRESH_PERSON = 900_000  # refused add_user n of the run: the details of synthetic person FRESH_PERSON + n


def _submitted(code: int, clashing: int, fresh: int) -> str:
    """user_info of a refused add_user: the details sent (an existing user's on an e-mail clash), no id."""
    if code == A_NO_FIELD:
        name, email, _ = person(fresh)
        return f',"user_info":{{"id":null,"name":"{name}","email":"{email}","birthdate":null}}'
    return "," + _user_info(clashing or fresh, with_id=False)


def _uuid4(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random UUID4 strings, built as one ASCII matrix."""
    nibbles = rng.integers(0, 16, size=(n, 32), dtype=np.uint8)
    nibbles[:, 12] = 4
    nibbles[:, 16] = 8 + (nibbles[:, 16] & 3)
    hex_digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for lo, hi, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        text[:, at : at + hi - lo] = hex_digits[:, lo:hi]
    return text.view("S36").ravel().astype(str).tolist()


def _iso(t_us: np.ndarray, utc: bool) -> list[str]:
    """``YYYY-MM-DDTHH:MM:SS.ffffff`` of epoch microseconds, in UTC or the server's local time (no suffix)."""
    shifted = t_us if utc else t_us + LOCAL_OFFSET_US
    return np.datetime_as_string(shifted.astype("datetime64[us]"), unit="us").tolist()


def _keys(requests: np.ndarray, salt: int) -> list[str]:
    """Enrolment keys (``req-`` + 10 hex digits) of the given request numbers; distinct numbers, distinct keys."""
    scrambled = (requests.astype(np.uint64) * np.uint64(_KEY_MULT) + np.uint64(salt)) & np.uint64(_KEY_MASK)
    return [f"req-{k:010x}" for k in scrambled.tolist()]


def _hour_lines(
    plan: _Plan, a: int, b: int, utc: bool, rng: np.random.Generator, pools: _Pools, templates: list[str], salt: int
) -> list[str]:
    """The log lines of requests a..b (one UTC hour), duplicates included."""
    n = b - a
    code = plan.code[a:b]
    codes = code.tolist()
    tenths = _tenths()
    fine = _ten_thousandths()
    stages, latency = _stage_tenths(rng, plan, a, b)
    stage_text = [list(map(tenths.__getitem__, stages[:, k].tolist())) for k in range(len(STAGES))]

    n_faces = len(pools.faces)
    missed = _FACE_KIND[code] == 2
    face_pick = np.where(missed, n_faces + rng.integers(len(pools.missed), size=n), rng.integers(n_faces, size=n))
    face_text = list(map(pools.face_texts.__getitem__, face_pick.tolist()))
    uid = plan.uid[a:b]
    shown_uid = np.where((code == A_EMAIL) | (code == A_EMAIL_KEY), 0, uid).tolist()
    uid_text = list(map(pools.user_ids.__getitem__, shown_uid))
    distance = np.clip(np.rint(rng.normal(0.74, 0.14, n) * 10_000), 1_500, THRESHOLD * 10_000).astype(np.int64)
    distance_text = list(map(fine.__getitem__, distance.tolist()))

    key_text = [""] * n
    expiry_text = [""] * n
    key_of = plan.key_of[a:b]
    with_key = np.flatnonzero(key_of >= 0)
    for j, key in zip(with_key.tolist(), _keys(key_of[with_key], salt), strict=True):
        key_text[j] = key
    issued = np.flatnonzero(code == R_NO_MATCH)
    expiry = _iso(plan.t_us[a:b][issued] + KEY_LIFETIME_S * SECOND_US, utc)
    for j, text in zip(issued.tolist(), expiry, strict=True):
        expiry_text[j] = text

    tail = list(map(pools.user_infos.__getitem__, shown_uid))
    for j in np.flatnonzero(np.isin(code, _REFUSED_ADD)).tolist():
        tail[j] = _submitted(codes[j], int(uid[j]), FRESH_PERSON + a + j)
    shown = np.isin(code, ADD_CODES) | (_HAS_EMBEDDING[code] & (rng.random(n) < P_EMBEDDING_RECOGNISE))
    which = rng.integers(EMBEDDING_POOL, size=n)
    for j in np.flatnonzero(shown).tolist():
        tail[j] += pools.embeddings[which[j]]

    lines = [
        templates[c].format(ts, rid, lat, s0, s1, s2, s3, s4, face, u, d, key, exp, cl, tl)
        for c, ts, rid, lat, s0, s1, s2, s3, s4, face, u, d, key, exp, cl, tl in zip(
            codes,
            _iso(plan.t_us[a:b], utc),
            _uuid4(rng, n),
            map(tenths.__getitem__, latency.tolist()),
            *stage_text,
            face_text,
            uid_text,
            distance_text,
            key_text,
            expiry_text,
            map(pools.clients.__getitem__, plan.client[a:b].tolist()),
            tail,
            strict=True,
        )
    ]
    for j in np.flatnonzero(plan.duplicated[a:b])[::-1].tolist():
        lines.insert(j + 1, lines[j])
    return lines


def write_requests(root: Path, count: int, seed: int = 42, start: datetime = DEFAULT_START) -> list[Path]:
    """Write ``count`` request-log lines under ``root`` (``<UTC date>/api-<UTC hour>.jsonl``); return the files."""
    start = _utc(start)
    if count == 0:
        return []
    plan, rng = _plan(count, seed, start)
    pools = _Pools(rng, int(plan.uid.max()))
    templates = {utc: [_template(o, "Z" if utc else "+01:00") for o in OUTCOMES] for utc in (False, True)}
    salt = int(rng.integers(1 << 40))
    hours = plan.t_us // HOUR_US
    bounds = [0, *(np.flatnonzero(np.diff(hours)) + 1).tolist(), len(hours)]
    first_hour = _epoch_us(start) // HOUR_US
    files = []
    for a, b in pairwise(bounds):
        hour = int(hours[a])
        utc = (hour - first_hour) % UTC_FILE_EVERY == UTC_FILE_AT
        lines = _hour_lines(plan, a, b, utc, rng, pools, templates[utc], salt)
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=hour)
        path = root / f"{when:%Y-%m-%d}" / f"api-{when:%H}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines))
            f.write("\n")
        files.append(path)
    return files


# ---- evaluation runs -------------------------------------------------------------------------------------


def _lfw_names(rng: np.random.Generator) -> list[str]:
    """LFW_IDENTITIES distinct synthetic identities written the LFW way (``First_Last``), in random order."""
    combos = rng.permutation(len(FIRST_NAMES) * len(LAST_NAMES))[:LFW_IDENTITIES].tolist()
    return [f"{FIRST_NAMES[c % len(FIRST_NAMES)]}_{LAST_NAMES[c // len(FIRST_NAMES)]}" for c in combos]


def _truncated(rng: np.random.Generator, law: NormalDist, n: int, lo: float, hi: float) -> list[float]:
    """``n`` draws of ``law`` restricted to [lo, hi], rounded to 4 decimals (inverse-CDF sampling)."""
    a, b = law.cdf(lo), law.cdf(hi)
    return [round(law.inv_cdf(a + (b - a) * u), 4) for u in rng.uniform(0.0005, 0.9995, n).tolist()]


def _distances(rng: np.random.Generator, law: NormalDist, n: int, above: int) -> list[float]:
    """``n`` distances of which exactly ``above`` are > THRESHOLD, in random order."""
    low, high = DISTANCE_RANGE
    over = [max(d, THRESHOLD + 0.0001) for d in _truncated(rng, law, above, THRESHOLD, high)]
    values = np.array(_truncated(rng, law, n - above, low, THRESHOLD) + over)
    return values[rng.permutation(n)].tolist()


def _evaluation_rows(seed: int, start: datetime) -> dict[str, list[dict]]:
    rng = np.random.default_rng([seed, 2])
    names = _lfw_names(rng)
    frr_identities = sorted(rng.choice(FRR_GALLERY, size=FRR_PROBES, replace=False).tolist())
    gallery_far, probe_far = names[:FAR_GALLERY], names[FAR_GALLERY:]
    far_probes = [(name, 1) for name in probe_far]
    extra = rng.choice(len(probe_far), size=FAR_PROBES - len(probe_far), replace=False).tolist()
    far_probes += [(probe_far[k], 2) for k in extra]
    far_probes.sort()

    runs: dict[str, list[dict]] = {}
    begin = start + timedelta(hours=2)
    genuine = _distances(rng, GENUINE, FRR_PROBES, FRR_REJECTED)
    probes = [(f"lfw/{names[k]}_0002.jpg", names[k], d, names[k]) for k, d in zip(frr_identities, genuine, strict=True)]
    runs["lfw-frr"] = _run_rows(rng, "frr", "FRR", FRR_GALLERY, True, probes, begin)

    impostor = _distances(rng, IMPOSTOR, FAR_PROBES, FAR_PROBES - FAR_ACCEPTED)
    nearest = rng.integers(len(gallery_far), size=FAR_PROBES).tolist()
    probes = [
        (f"lfw/{name}_{k:04d}.jpg", name, d, gallery_far[g])
        for (name, k), d, g in zip(far_probes, impostor, nearest, strict=True)
    ]
    runs["lfw-far"] = _run_rows(rng, "far", "FAR", FAR_GALLERY, False, probes, begin + timedelta(minutes=10))

    chosen = sorted(rng.choice(frr_identities, size=LOWLIGHT_PROBES, replace=False).tolist())
    dark = _distances(rng, LOWLIGHT, LOWLIGHT_PROBES - LOWLIGHT_FTA, LOWLIGHT_REJECTED)
    missing = set(rng.choice(LOWLIGHT_PROBES, size=LOWLIGHT_FTA, replace=False).tolist())
    distances = iter(dark)
    probes = [
        (f"lfw-lowlight/{names[k]}_0002.jpg", names[k], None if i in missing else next(distances), names[k])
        for i, k in enumerate(chosen)
    ]
    runs["lfw-frr-lowlight"] = _run_rows(
        rng, "frr-lowlight", "FRR", FRR_GALLERY, True, probes, begin + timedelta(hours=1)
    )
    return runs


def _run_rows(
    rng: np.random.Generator,
    name: str,
    protocol: str,
    gallery: int,
    in_gallery: bool,
    probes: list[tuple[str, str, float | None, str]],
    begin: datetime,
) -> list[dict]:
    """One row per probe ``(probe_id, identity, distance or None, nearest identity)``, in probe_id order (as
    LFW lists its files), ~0.1 s apart."""
    run_id = f"lfw-{name}-{begin:%Y%m%dT%H%M%SZ}"
    steps = np.cumsum(rng.uniform(0.06, 0.16, len(probes))).tolist()
    rows = []
    for (probe_id, identity, distance, nearest), step in zip(sorted(probes), steps, strict=True):
        matched = distance is not None and distance <= THRESHOLD
        rows.append(
            {
                "run_id": run_id,
                "protocol": protocol,
                "model": MODEL,
                "threshold": THRESHOLD,
                "gallery_size": gallery,
                "probe_id": probe_id,
                "probe_identity": identity,
                "in_gallery": in_gallery,
                "predicted_identity": nearest if matched else None,
                "distance": distance,
                "ts": (begin + timedelta(seconds=round(step, 6))).isoformat(),
            }
        )
    return rows


def write_evaluations(root: Path, seed: int = 42, start: datetime = DEFAULT_START) -> list[Path]:
    """Write the FRR, FAR and low-light FRR runs as ``<run>.jsonl`` under ``root``; return the files.

    Lines are written as a Python evaluation script would (``json.dumps`` defaults: ``", "`` and ``": "``).
    """
    root.mkdir(parents=True, exist_ok=True)
    files = []
    for run, rows in _evaluation_rows(seed, _utc(start)).items():
        path = root / f"{run}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        files.append(path)
    return files


# ---- k6 load test ----------------------------------------------------------------------------------------


def _go_float(x: float) -> str:
    """A float as Go's ``strconv.AppendFloat(x, 'g', -1, 64)`` writes it (k6's JSON output): shortest digits,
    no ``.0`` on whole numbers, exponent form below 1e-4 and from 1e6 up (``1.234567e+06``)."""
    if x == 0:
        return "0"
    if 1e-4 <= abs(x) < 1e6:
        return str(int(x)) if x == int(x) else repr(x)
    return np.format_float_scientific(x, unique=True, trim="-", exp_digits=2)


class _K6Clock:
    """RFC 3339 times with nanoseconds, trailing zeros cut, as Go's ``time.MarshalJSON`` writes them."""

    def __init__(self, begin: datetime) -> None:
        self._begin = begin
        self._seconds: dict[int, str] = {}

    def text(self, t_ns: int) -> str:
        s, ns = divmod(t_ns, 1_000_000_000)
        base = self._seconds.get(s)
        if base is None:
            base = self._seconds[s] = f"{self._begin + timedelta(seconds=s):%Y-%m-%dT%H:%M:%S}"
        fraction = f".{ns:09d}".rstrip("0") if ns else ""
        return f"{base}{fraction}+01:00"


def _k6_tags(status: str) -> str:
    tags = {
        "expected_response": "true" if status == "200" else "false",
        "group": "",
        "method": "POST",
        "name": K6_URL,
        "proto": "HTTP/1.1",
        "scenario": "default",
        "status": status,
        "url": K6_URL,
    }
    if status != "200":
        tags["error_code"] = str(1000 + int(status))  # k6: 1000 + the HTTP status for 4xx and 5xx
    return json.dumps(dict(sorted(tags.items())), separators=(",", ":"))


def _k6_events(seed: int, begin: datetime, seconds: int) -> list[tuple[int, int, str, float, str]]:
    """(time ns from the test start, order, metric, value, tags JSON) of every sample of the test."""
    rng = np.random.default_rng([seed, 3])
    stage_ns = seconds * 1_000_000_000
    end_ns = len(K6_VUS) * stage_ns
    iteration_tags = '{"group":"","scenario":"default"}'
    check_tags = '{"check":"status is 200","group":"","scenario":"default"}'
    tags = {status: _k6_tags(status) for status in ("200", "500", "503")}
    events: list[tuple[int, int, str, float, str]] = []
    order = 0

    def emit(t: int, metric: str, value: float, tag_text: str) -> None:
        nonlocal order
        events.append((t, order, metric, value, tag_text))
        order += 1

    for k in range(len(K6_VUS) * seconds):
        t = k * 1_000_000_000 + int(rng.integers(200_000, 900_000))
        emit(t, "vus", K6_VUS[k // seconds], "{}")
        emit(t, "vus_max", K6_VUS[-1], "{}")
    first_vu = [0, *K6_VUS[:-1]]
    for stage, (lo, hi) in enumerate(zip(first_vu, K6_VUS, strict=True)):
        for _vu in range(lo, hi):
            t = stage * stage_ns + int(rng.integers(1_000_000, 20_000_000))
            first = True
            while t < end_ns:
                vus = K6_VUS[min(t // stage_ns, len(K6_VUS) - 1)]
                blocked = rng.uniform(1.2, 3.5) if first else rng.uniform(0.002, 0.012)
                connecting = rng.uniform(0.3, 0.9) if first else 0.0
                sent = int(rng.integers(62_000, 140_000))
                sending = sent / rng.uniform(80_000, 160_000)  # bytes per ms on the LAN
                u = rng.random()
                status = "503" if u < K6_P_FAIL["503"] else "500" if u < sum(K6_P_FAIL.values()) else "200"
                if status == "503":
                    waiting = rng.uniform(8.0, 60.0)
                else:
                    median = K6_WAIT_MEDIAN_MS * (vus / K6_VUS[0]) ** 0.85
                    waiting = rng.lognormal(np.log(median), K6_WAIT_SIGMA)
                receiving = rng.uniform(0.03, 0.3)
                duration = sending + waiting + receiving
                done = t + int((blocked + connecting + duration) * 1e6)
                tag_text = tags[status]
                for metric, value in (
                    ("http_reqs", 1.0),
                    ("http_req_duration", duration),
                    ("http_req_blocked", blocked),
                    ("http_req_connecting", connecting),
                    ("http_req_tls_handshaking", 0.0),
                    ("http_req_sending", sending),
                    ("http_req_waiting", waiting),
                    ("http_req_receiving", receiving),
                    ("http_req_failed", 0.0 if status == "200" else 1.0),
                ):
                    emit(done, metric, round(value, 6), tag_text)
                ok = 1.0 if status == "200" else 0.0
                emit(done + int(rng.integers(20_000, 90_000)), "checks", ok, check_tags)
                finish = done + 1_000_000_000 + int(rng.integers(100_000, 900_000))  # sleep(1)
                received = int(rng.integers(310, 460)) if status == "200" else int(rng.integers(180, 240))
                for metric, value in (
                    ("data_sent", float(sent + int(rng.integers(180, 260)))),
                    ("data_received", float(received)),
                    ("iteration_duration", round((finish - t) / 1e6, 6)),
                    ("iterations", 1.0),
                ):
                    emit(finish, metric, value, iteration_tags)
                t = finish + int(rng.integers(5_000, 60_000))
                first = False
    events.sort()
    return events


def _k6_lines(seed: int, start: datetime, seconds: int) -> tuple[str, list[str]]:
    """The file name and the lines of the k6 JSON output."""
    local = start.astimezone(LOCAL_TZ)
    begin = local.replace(hour=K6_START_LOCAL_HOUR, minute=0, second=0, microsecond=0).replace(tzinfo=None)
    clock = _K6Clock(begin)
    declared: set[str] = set()
    lines = []
    for t, _, metric, value, tag_text in _k6_events(seed, begin, seconds):
        if metric not in declared:
            declared.add(metric)
            kind, contains, thresholds = K6_METRICS[metric]
            lines.append(
                f'{{"type":"Metric","data":{{"name":"{metric}","type":"{kind}","contains":"{contains}",'
                f'"thresholds":{json.dumps(thresholds)},"submetrics":null}},"metric":"{metric}"}}'
            )
        lines.append(
            f'{{"type":"Point","data":{{"time":"{clock.text(t)}","value":{_go_float(value)},"tags":{tag_text}}},'
            f'"metric":"{metric}"}}'
        )
    return f"k6-{begin:%Y%m%d}-staged.json", lines


def write_load_test(root: Path, seed: int = 42, start: datetime = DEFAULT_START, seconds: int = 300) -> Path:
    """Write the k6 output of the staged test (``seconds`` per stage) under ``root``; return the file."""
    name, lines = _k6_lines(seed, _utc(start), seconds)
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path
