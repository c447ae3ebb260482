"""Synthetic MongoDB exports of the liveness (face validation) API collection.

Documents copy the structure, key order and value styles of the real document in the seed data
(``shared/data/face-validation-seed/raw_document_redacted.json``), and their shares follow the reference
(``shared/reference/face-validation-api.md``): 6 clients, processes of 1 to 6 attempts (~3.3 on average),
the summary codes of the staging table, the serial short-circuit (the failing service is present with its
code and every later service is absent), per-service times around the reference means, image sizes.

Text is written the way ``mongoexport`` (relaxed Extended JSON, Go driver) writes it: compact, keys in
document order, raw UTF-8, doubles in Go's shortest ``'G'`` form (``4.6E-07``, and ``ts`` as
``1.7363922365424857E+09``: Go switches to exponent form from 1e6 up), ints as ints, and ``{"$date": ...}``
in UTC with at most 3 fraction digits, trailing zeros dropped (``...:36.54Z``).

Process model (per process, i.e. per ``procesoConvenioGuid``): the client's flow needs ``R`` successful
validations (R = 1..4, mean ~2.3) and allows at most ``MAX_ATTEMPTS`` calls; calls go on until ``R`` oks are
collected or the allowance is used up (a struggling user may also give up after an error). With R = 1 this
is "stop at the first ok"; R > 1 is what the reference's numbers require: 66.5% of all calls are ok while
91% of processes end ok with ~3.3 calls each, i.e. ~2.2 ok calls per process. Most processes are "good"
(30% error per call); a client-dependent share is "bad" (85% error per call, persistent causes such as
blur or geometry), which sets the per-client final acceptance.

Size: with landmarks a document is ~70 KB of compact text, as the seed document is once compacted (its file
is 182 KB because it is pretty-printed); without them, ~6 KB.

Speed: the landmark lists (478 ``[x, y, z]`` per face, the bulk of a document) come from a per-run pool of
``POOL_SIZE`` faces, each serialised once with its bounding boxes; everything else is fresh per document and
written directly as text.
"""

from __future__ import annotations

import base64
import os
import random
from array import array
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from itertools import accumulate
from json.encoder import encode_basestring  # JSON string literal with raw UTF-8, like the Go driver
from math import cos, log, pi, sin, sqrt

LOCAL_TZ = timezone(timedelta(hours=-5))  # America/Bogota, no DST
DEFAULT_START = datetime(2025, 1, 8, 22, 0, tzinfo=LOCAL_TZ)
POOL_SIZE = 256  # distinct faces (landmarks + boxes) per run
MAX_ATTEMPTS = 6
LANDMARKS = 478

# ---- shares ---------------------------------------------------------------------------------------------

P_DATE_OBJECT = 0.05  # documents whose date is a BSON date ({"$date": ...}) instead of an ISO string
P_FAR_SIZE_DIFFERS = 0.02  # calls whose far image has another size than the near one
P_DUPLICATE_DATE = 0.0065  # multi-call processes with two calls at the very same date (~1 in 200 processes)
P_REUSE_USER = 0.12  # a process by an end user already seen for the client
P_TOPIQ_FAILED = 0.003  # topiq returns -1
P_EXTRA_OVERHEAD = 0.03  # calls with a slow upload / DB insert

# Required successful validations per process (1..4) and the per-call error rates (see the docstring).
REQUIRED_OK_CUM = (0.20, 0.50, 0.90, 1.0)
ERROR_RATE_GOOD = 0.30
ERROR_RATE_BAD = 0.85
P_GIVE_UP = 0.20  # a "bad" process ends after an error with this probability
P_SAME_CAUSE = 0.6  # a "bad" process's errors repeat its cause with this probability


@dataclass(frozen=True)
class Client:
    convenio: str  # GUID, spelt as the client sends it
    share: float  # of processes
    bad_share: float  # processes that mostly fail (sets the final acceptance)
    sdk_share: float  # processes from the native SDK (empty browser fields)


# Reference acceptance table (last attempt): client_1..6 = 2574 (94.3% ok), 807 (84.1%), 1 (0%),
# 50 (80.0%), 23 (60.9%), 972 (89.2%) processes. bad_share is calibrated on the process model.
CLIENTS = (
    Client("5E2A7C1B-9D34-4F6A-8B21-C7D90E3A4F15", 0.580, 0.025, 0.10),
    Client("a3f19c72-4b8e-4d05-9e6a-1f2b7c8d9e04", 0.180, 0.150, 0.00),
    Client("0c6e2d9a-73b1-4a8f-b5d2-e91f04a7c362", 0.005, 1.000, 0.00),  # tiny; never accepted
    Client("B71D4E09-2C6A-4F3B-A8E5-5D0C9F1A2B67", 0.011, 0.200, 0.00),
    Client("e4b8a1d7-6f20-4c93-8d1e-3a5b7c9f0e28", 0.005, 0.450, 0.00),
    Client("7d2c9e41-a05f-4b6d-9c38-f1e2d3b4a596", 0.219, 0.090, 0.50),
)
CLIENT_CUM = tuple(accumulate(c.share for c in CLIENTS))
QA_CLIENT, P_QA_DOCUMENT = 1, 0.25  # client_2 validates a test document number over and over

# summary code -> desc (reference §3)
DESCS = {
    "1400": "antispoofing OK",
    "0102": "face not found",
    "0103": "multiple faces",
    "0202": "hand",
    "0203": "hat",
    "0204": "face mask",
    "0205": "sunglasses",
    "0302": "blur/haze",
    "0303": "bad color",
    "0304": "bad lights",
    "0305": "bad exposure",
    "0306": "image not sharp",
    "0406": "non-frontal",
    "1402": "spoof image",
    "3002": "geometry fail",
}
# Error calls in staging (14,654 calls, dashboard counts) and the final errors of the no-retries table.
ERROR_COUNTS_ALL = {"0302": 2378, "1402": 845, "0406": 683, "3002": 542, "0202": 217, "0304": 72, "0203": 59,
                    "0205": 59, "0102": 27, "0306": 12, "0204": 9, "0103": 7, "0303": 2, "0305": 1}  # fmt: skip
ERROR_COUNTS_FINAL = {"0302": 188, "3002": 127, "0406": 46, "1402": 12, "0202": 11, "0304": 5, "0205": 5,
                      "0102": 2, "0203": 2, "0306": 2, "0204": 1}  # fmt: skip
# Share of error calls that come from "bad" processes under the model (measured); "bad" processes draw
# their errors from the final mix, "good" ones from the rest, so that all calls follow ERROR_COUNTS_ALL.
BAD_ERROR_SHARE = 0.21


def _mix() -> tuple[tuple[str, ...], tuple[float, ...], tuple[str, ...], tuple[float, ...]]:
    total_all, total_final = sum(ERROR_COUNTS_ALL.values()), sum(ERROR_COUNTS_FINAL.values())
    good = {}
    for code, n in ERROR_COUNTS_ALL.items():
        rest = n / total_all - BAD_ERROR_SHARE * ERROR_COUNTS_FINAL.get(code, 0) / total_final
        good[code] = max(rest, 0.0) / (1 - BAD_ERROR_SHARE)
    bad_codes = tuple(ERROR_COUNTS_FINAL)
    return (
        tuple(good),
        tuple(accumulate(good.values())),
        bad_codes,
        tuple(accumulate(ERROR_COUNTS_FINAL[c] / total_final for c in bad_codes)),
    )


GOOD_CODES, GOOD_CUM, BAD_CODES, BAD_CUM = _mix()

# ---- serial pipeline --------------------------------------------------------------------------------------

# Stages in call order. ICAO has no entry of its own (its failure is summary 0406). The reference's
# non-null counts (IQA near absent on exactly accessory + face + 0406 failures) suggest the real API runs
# ICAO right after face detection; the brief places it after the far IQA. Flip to move it.
ICAO_BEFORE_IQA = True
ACC_NEAR, ACC_FAR, FACE_NEAR, FACE_FAR, IQA_NEAR, IQA_FAR, ICAO, GEOMETRY, AS_NEAR, AS_FAR = range(10)
if ICAO_BEFORE_IQA:
    STAGE_ORDER = (ACC_NEAR, ACC_FAR, FACE_NEAR, FACE_FAR, ICAO, IQA_NEAR, IQA_FAR, GEOMETRY, AS_NEAR, AS_FAR)
else:
    STAGE_ORDER = (ACC_NEAR, ACC_FAR, FACE_NEAR, FACE_FAR, IQA_NEAR, IQA_FAR, ICAO, GEOMETRY, AS_NEAR, AS_FAR)
RANK = {stage: i for i, stage in enumerate(STAGE_ORDER)}
ALL_PASS = len(STAGE_ORDER)  # rank of "no stage failed"
# Share of failures on the near image, by code prefix: accessory (far absent on 141 of 344), quality
# (1,678 of 2,465 IQA failures on near), antispoofing (792 of 845 on near).
NEAR_FAILURE_SHARE = {"01": 0.5, "02": 0.41, "03": 0.68, "14": 0.937}


def failing_stage(code: str, near: bool = True) -> int:
    """Stage that answers ``code`` (``near`` picks the image for per-image stages); ALL_PASS for 1400."""
    prefix = code[:2]
    if code == "1400":
        return ALL_PASS
    if prefix == "02":
        return ACC_NEAR if near else ACC_FAR
    if prefix == "01":
        return FACE_NEAR if near else FACE_FAR
    if prefix == "03":
        return IQA_NEAR if near else IQA_FAR
    if prefix == "04":
        return ICAO
    if prefix == "30":
        return GEOMETRY
    if prefix == "14":
        return AS_NEAR if near else AS_FAR
    raise ValueError(f"unknown summary code {code!r}")


# ---- services ---------------------------------------------------------------------------------------------

# Mean ms per image of (time_ms, queue_time_ms): about half of the reference's per-transaction means
# (accessory 72, face 99, liqe 182, topiq 386, classic 247 with no queue, as35 137, crops 135, full 127,
# clip 35; geometry 9 is once per transaction).
SERVICE_TIMES = {
    "accessory_detector": (15, 22),
    "face_detector": (28, 22),
    "liqe": (79, 13),
    "topiq": (173, 21),
    "classic_metrics": (126, 0),
    "as_35_selfies": (47, 24),
    "ibeta2_crops": (42, 28),
    "ibeta2_full": (40, 26),
    "ibeta2_clip": (8, 10),
    "geometry_check": (7, 3),
}
OVERHEAD_MEAN, OVERHEAD_SD, OVERHEAD_MIN = 310.0, 165.0, -300.0  # total minus the services' times
# plus, on P_EXTRA_OVERHEAD of the calls, a slow upload or DB insert: lognormal, median 600 ms, capped
ACCESSORY_KEYS = {"0202": "hand", "0203": "hat", "0204": "mask", "0205": "sunglasses"}
AS_MODELS = (  # (key, msg, REAL threshold, share of SPOOFING verdicts on a spoofed image)
    ("as_35_selfies", "as 3.5 selfies OK", 0.2, 0.35),
    ("ibeta2_crops", "ibeta2 crops OK", 0.85, 0.8),
    ("ibeta2_full", "ibeta2 full OK", 0.85, 0.8),
    ("ibeta2_clip", "ibeta2 clip OK", 0.85, 0.6),
)
IQA_CONFIG = (
    '{"liqe_thr":1.3,"topiq_thr":0.41,"sharpness_thr":0.87,"brightness_range":[0.17,0.87],'
    '"colofulness_range":[6.6,100],"contrast_range":[12,94],"blur_score_thr":0.61,"svd_score_thr":0.81}'
)
AS_CONFIG = (
    '{"ibeta2_full_thr":0.85,"ibeta2_crops_thr":0.85,"ibeta2_clip_thr":0.85,"as_3.5_selfies_thr":0.2,'
    '"as_heuristics_thr":0.82}'
)
GEOMETRY_CONFIG = '{"image_difference_threshold":0.05,"handcrafted_threshold":0.13,"neural_threshold":0.26}'
FACE_CONFIG = '{"exp_factor_w":0.9,"exp_factor_h":0.9}'

# raw_img_size [width, height] of the near image (per device) and their shares.
IMAGE_SIZES = ((590, 896), (736, 648), (576, 1280), (1080, 1920), (720, 1280), (1440, 1920), (1920, 1080),
               (1024, 768))  # fmt: skip
IMAGE_SIZE_CUM = tuple(accumulate((0.70, 0.10, 0.05, 0.05, 0.04, 0.02, 0.02, 0.02)))
FILE_EXTS, FILE_EXT_CUM = (".jpg", ".jpeg", ".png"), (0.85, 0.95, 1.0)

# ---- calendar ----------------------------------------------------------------------------------------------

# Calls per local hour of day (reference no-retries table), weekday factors Monday..Sunday.
HOUR_WEIGHTS = (16, 15, 12, 11, 3, 2, 5, 33, 199, 278, 419, 399, 335, 261, 406, 385, 504, 309, 275, 171, 75,
                177, 103, 34)  # fmt: skip
WEEKDAY_WEIGHTS = (0.75, 0.9, 1.0, 1.05, 1.15, 0.95, 0.55)
PEAK_DAY_AT, PEAK_FACTOR = 0.74, 3.5  # the 25th of January in the reference: ~3x a normal day
API_DEPLOY_AFTER = timedelta(days=3, hours=12)  # 02bc5e7 before, fae781b after
GATEWAYS = {  # api_hash -> (api_gateway_id, ObjectId process part)
    "02bc5e7": (("4c1f8e2a9b3d", "8f3a21c9d4"), ("a97d03e5c218", "1b6e94f2a7")),
    "fae781b": (("e2b7d940f6a1", "53c8e1a07b"), ("0f6a2c8d3e57", "c42f9b6d18"), ("7b31e9a4c0d2", "e07d35a9f2")),
}
STORAGE_ACCOUNT = "stverifaceprod"

# ---- end users -------------------------------------------------------------------------------------------

# (City, Subdivision, PostalCode, latitude, longitude, weight)
CITIES = (
    ("Bogotá", "Bogota D.C.", "110111", 4.7110, -74.0721, 34),
    ("Medellín", "Antioquia", "050001", 6.2442, -75.5812, 12),
    ("Cali", "Valle del Cauca", "760001", 3.4516, -76.5320, 10),
    ("Barranquilla", "Atlántico", "080001", 10.9685, -74.7813, 6),
    ("Cartagena", "Bolívar", "130001", 10.3910, -75.4794, 4),
    ("Bucaramanga", "Santander", "680001", 7.1193, -73.1227, 4),
    ("Cúcuta", "Norte de Santander", "540001", 7.8939, -72.5078, 3),
    ("Pereira", "Risaralda", "660001", 4.8133, -75.6961, 3),
    ("Ibagué", "Tolima", "730001", 4.4389, -75.2322, 3),
    ("Santa Marta", "Magdalena", "470001", 11.2408, -74.1990, 2),
    ("Villavicencio", "Meta", "500001", 4.1420, -73.6266, 2),
    ("Manizales", "Caldas", "170001", 5.0703, -75.5138, 2),
    ("Pasto", "Nariño", "520001", 1.2136, -77.2811, 2),
    ("Neiva", "Huila", "410001", 2.9273, -75.2819, 2),
    ("Montería", "Córdoba", "230001", 8.7479, -75.8814, 2),
)
CITY_CUM = tuple(accumulate(c[5] for c in CITIES))
# Colombian ISP blocks (first two octets, third octet range).
IP_BLOCKS = (("181.49", 0, 255), ("181.50", 0, 255), ("181.52", 0, 255), ("181.55", 0, 255), ("181.57", 0, 255),
             ("181.58", 0, 255), ("181.62", 0, 255), ("186.28", 0, 255), ("186.29", 0, 255), ("186.80", 0, 255),
             ("186.84", 0, 255), ("190.24", 0, 255), ("190.25", 0, 255), ("190.26", 0, 255), ("190.85", 0, 255),
             ("191.95", 0, 255), ("191.106", 0, 255), ("191.110", 0, 255), ("179.1", 0, 255), ("179.19", 0, 255),
             ("152.200", 0, 255), ("152.203", 0, 255), ("201.244", 0, 255))  # fmt: skip
# (Device, Android version or iOS version, screen "W : H", camera "W : H")
DEVICES = (
    ("Samsung SM-A145M", "13", "360 : 800", "720 : 1280"),
    ("Samsung SM-A055M", "14", "360 : 800", "720 : 1280"),
    ("Samsung SM-A256E", "14", "384 : 832", "1080 : 1920"),
    ("Samsung SM-S918B", "14", "384 : 832", "1080 : 1920"),
    ("Xiaomi 23117RA68G", "14", "393 : 873", "720 : 1280"),
    ("Xiaomi Redmi Note 12", "13", "393 : 873", "1080 : 1920"),
    ("Motorola moto g32", "13", "412 : 915", "720 : 1280"),
    ("Motorola moto e22", "12", "360 : 780", "720 : 1280"),
    ("TECNO KI5k", "12", "360 : 804", "720 : 1280"),
    ("Infinix X6525", "13", "360 : 804", "720 : 1280"),
    ("Apple iPhone", "17_6", "390 : 844", "720 : 1280"),
    ("Apple iPhone", "18_1", "393 : 852", "1080 : 1920"),
    ("Huawei MAR-LX3A", "10", "360 : 780", "720 : 1280"),
)
CHROME_VERSIONS = ("131.0.6778.200", "131.0.6778.135", "132.0.6834.79", "130.0.6723.107")
SAMSUNG_VERSIONS = ("27.0", "26.0")
LANGUAGES, LANGUAGE_CUM = ("es-CO", "es-419", "es-ES", "es", "en-US"), (0.62, 0.82, 0.9, 0.96, 1.0)


def _pick(rng: random.Random, cum: tuple[float, ...]) -> int:
    """Index drawn with the given cumulative weights."""
    return bisect(cum, rng.random() * cum[-1])


def _num(x: float) -> str:
    """A double as the Go driver writes it: shortest digits, 'E' exponent below 1e-4 and from 1e6 up."""
    s = repr(x)
    if "e" in s:
        return s.replace("e", "E")
    if abs(x) >= 1e6:  # Python keeps plain notation up to 1e16, Go switches at exponent 6
        sign = "-" if s[0] == "-" else ""
        whole, _, frac = s.lstrip("-").partition(".")
        digits = (whole + frac).rstrip("0")
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}E+{len(whole) - 1:02d}"
    return s


def _f32(*values: float) -> list[float]:
    """Values rounded to float32, as the models' outputs are."""
    return array("f", values).tolist()


def _nums(values: list[float]) -> str:
    return "[" + ",".join(map(_num, values)) + "]"


# ---- faces ---------------------------------------------------------------------------------------------------


def _face_template() -> list[tuple[float, float, float]]:
    """478 points of a face mesh in a unit frame: 468 on an ellipsoid cap (Vogel spiral), 10 iris points."""
    rng = random.Random(478)  # fixed: the same template in every run
    points = []
    golden = pi * (3 - sqrt(5))
    for i in range(468):
        r = sqrt((i + 0.5) / 468)
        a = i * golden
        x, y = r * cos(a), 1.2 * r * sin(a)
        z = -0.18 * sqrt(max(0.0, 1 - r * r)) + 0.05 * r * r
        points.append((x + rng.gauss(0, 0.01), y + rng.gauss(0, 0.01), z + rng.gauss(0, 0.005)))
    for cx in (-0.36, 0.36):  # iris centre and 4 points around it
        cy = -0.22
        points.append((cx, cy, -0.1))
        for dx, dy in ((0.05, 0), (0, -0.05), (-0.05, 0), (0, 0.05)):
            points.append((cx + dx, cy + dy, -0.1))
    return points


@dataclass(frozen=True, slots=True)
class _Face:
    landmarks: str  # JSON object text {"0":[x,y,z],...}; "" when landmarks are off
    bbox_raw: str  # [x, y, w, h] of the face, float32
    bbox: str  # the expanded box the detector crops (exp_factor 0.9), clipped to the image
    center: tuple[float, float, float, float]  # cx, cy, w, h of the face


def _make_face(rng: random.Random, template: list, near: bool, landmarks: bool) -> _Face:
    w = rng.uniform(0.42, 0.68) if near else rng.uniform(0.28, 0.5)
    h = w * rng.uniform(0.72, 0.82)
    cx, cy = rng.uniform(0.44, 0.58), rng.uniform(0.47, 0.6)
    yaw, roll = rng.gauss(0, 0.12), rng.gauss(0, 0.05)
    cr, sr, cy_, sy_ = cos(roll), sin(roll), cos(yaw), sin(yaw)
    coords = []
    for x, y, z in template:
        x2 = x * cy_ + z * sy_
        z2 = -x * sy_ + z * cy_
        px, py = x2 * cr - y * sr, x2 * sr + y * cr
        coords.append(cx + px * w / 2 + (rng.random() - 0.5) * 0.007)  # uniform jitter: cheaper than gauss
        coords.append(cy + py * h / 2.4 + (rng.random() - 0.5) * 0.007)
        coords.append(z2 * w + (rng.random() - 0.5) * 0.01)
    coords = _f32(*coords)
    xs, ys = coords[0::3], coords[1::3]
    x0, y0 = min(xs) - 0.01, min(ys) - 0.02
    bw, bh = max(xs) - x0 + 0.01, max(ys) - y0 + 0.01
    raw = _f32(x0, y0, bw, bh)
    x0, y0, bw, bh = raw
    # the detector's crop: 0.9 of the width on the sides, more room above the face than below; clipped
    # values are the API's int literals 0 and 1, as in the seed document ([0, 0, 1, 0.934...])
    box = [max(0, x0 - 0.45 * bw), max(0, y0 - 0.675 * bh), min(1, 1.9 * bw), min(1, 1.9 * bh)]
    text = ""
    if landmarks:
        parts = [f'"{i}":[{_num(coords[3 * i])},{_num(coords[3 * i + 1])},{_num(coords[3 * i + 2])}]'
                 for i in range(LANDMARKS)]  # fmt: skip
        text = "{" + ",".join(parts) + "}"
    return _Face(text, _nums(raw), _nums(box), (x0 + bw / 2, y0 + bh / 2, bw, bh))


@lru_cache(maxsize=4)
def _face_pool(seed: int, landmarks: bool) -> tuple[tuple[_Face, ...], tuple[_Face, ...]]:
    """Near and far faces of a run, from their own random stream (the landmarks flag changes nothing else)."""
    rng = random.Random(seed * 7919 + 1)
    template = _face_template()
    half = POOL_SIZE // 2
    near = tuple(_make_face(rng, template, True, landmarks) for _ in range(half))
    return near, tuple(_make_face(rng, template, False, landmarks) for _ in range(POOL_SIZE - half))


# ---- plan: processes and their calls -------------------------------------------------------------------------


@dataclass(slots=True)
class _User:
    documento: str
    client: int
    sdk: bool
    device: tuple[str, str, str, str]
    browser: tuple[str, str]  # Navegador, VersionNavegador
    language: str
    city: int  # index in CITIES, -1 when unknown
    lat: str
    lon: str
    ip: str
    size: tuple[int, int]
    file_ext: str


@dataclass(slots=True)
class _Process:
    guid: str
    user: _User
    user_name: str
    ip: str
    codes: list[str] = field(default_factory=list)
    near: list[bool] = field(default_factory=list)  # per call: does the failure hit the near image


@dataclass(frozen=True, slots=True)
class _Call:
    at_us: int  # epoch microseconds of `date`
    process: int
    attempt: int


class _Planner:
    """Draws the processes (client, user, outcome of every call) and the call times."""

    def __init__(self, rng: random.Random, start: datetime, days: int) -> None:
        self.rng = rng
        self.start = start
        self.end = start + timedelta(days=days)
        self.users: list[list[_User]] = [[] for _ in CLIENTS]
        self.qa_user: _User | None = None
        self._hour_bins(days)

    def _hour_bins(self, days: int) -> None:
        rng = self.rng
        first = self.start.replace(minute=0, second=0, microsecond=0)
        day0 = first.date()
        peak = int(days * PEAK_DAY_AT)
        n_days = (self.end.date() - day0).days + 1
        day_weights = [WEEKDAY_WEIGHTS[(day0 + timedelta(d)).weekday()] * rng.lognormvariate(0, 0.2)
                       for d in range(n_days)]  # fmt: skip
        if peak < n_days:
            day_weights[peak] *= PEAK_FACTOR
        self.bins, weights = [], []
        t = first
        while t < self.end:
            self.bins.append(t)
            weights.append(day_weights[(t.date() - day0).days] * HOUR_WEIGHTS[t.hour])
            t += timedelta(hours=1)
        self.bin_cum = tuple(accumulate(weights))

    def start_time(self) -> datetime:
        rng = self.rng
        t0 = self.bins[_pick(rng, self.bin_cum)]
        lo, hi = max(t0, self.start), min(t0 + timedelta(hours=1), self.end)
        span = int((hi - lo).total_seconds())
        return lo + timedelta(seconds=rng.randrange(max(span, 1)))

    def new_user(self, client: int) -> _User:
        rng = self.rng
        sdk = rng.random() < CLIENTS[client].sdk_share
        device = DEVICES[rng.randrange(len(DEVICES))]
        if sdk:
            browser = ("megvii", "")
        elif device[0].startswith("Apple"):
            browser = ("Safari", device[1].replace("_", ".").split(".")[0] + ".0")
        elif device[0].startswith("Samsung") and rng.random() < 0.25:
            browser = ("Samsung Internet", rng.choice(SAMSUNG_VERSIONS))
        else:
            browser = ("Chrome", rng.choice(CHROME_VERSIONS))
        city = _pick(rng, CITY_CUM) if rng.random() < 0.85 else -1
        lat = lon = ""
        if not sdk or rng.random() < 0.5:
            base = CITIES[city] if city >= 0 else CITIES[_pick(rng, CITY_CUM)]
            lat = f"{base[3] + rng.gauss(0, 0.04):.7f}"
            lon = f"{base[4] + rng.gauss(0, 0.04):.7f}"
        return _User(
            documento=str(rng.randrange(1_000_000_000, 1_130_000_000)),
            client=client,
            sdk=sdk,
            device=device,
            browser=browser,
            language=LANGUAGES[_pick(rng, LANGUAGE_CUM)],
            city=city,
            lat=lat,
            lon=lon,
            ip=self.ip(),
            size=IMAGE_SIZES[_pick(rng, IMAGE_SIZE_CUM)],
            file_ext=FILE_EXTS[_pick(rng, FILE_EXT_CUM)],
        )

    def ip(self) -> str:
        rng = self.rng
        prefix, lo, hi = IP_BLOCKS[rng.randrange(len(IP_BLOCKS))]
        return f"{prefix}.{rng.randint(lo, hi)}.{rng.randint(1, 254)}"

    def user(self, client: int) -> _User:
        rng = self.rng
        if client == QA_CLIENT and rng.random() < P_QA_DOCUMENT:
            if self.qa_user is None:
                self.qa_user = self.new_user(client)
            return self.qa_user
        known = self.users[client]
        if known and rng.random() < P_REUSE_USER:
            return known[rng.randrange(len(known))]
        user = self.new_user(client)
        known.append(user)
        return user

    def process(self) -> tuple[_Process, list[int]]:
        """One process and the epoch microseconds of its calls."""
        rng = self.rng
        client = _pick(rng, CLIENT_CUM)
        user = self.user(client)
        started = self.start_time().astimezone(LOCAL_TZ)
        guid = f"{user.documento}_{started:%Y-%m-%d_%H:%M:%S}"
        if user is self.qa_user:
            user_name = "veriFace_qa"
        elif user.sdk:
            user_name = "veriFaceSDK"
        else:
            user_name = "veriFace"
        ip = user.ip if rng.random() < 0.4 else self.ip()  # mobile IPs change between sessions
        proc = _Process(guid, user, user_name, ip)

        spec = CLIENTS[client]
        bad = rng.random() < spec.bad_share
        error_rate = 1.0 if spec.bad_share >= 1 else (ERROR_RATE_BAD if bad else ERROR_RATE_GOOD)
        required = 1 + _pick(rng, REQUIRED_OK_CUM)
        cause = BAD_CODES[_pick(rng, BAD_CUM)]
        oks = 0
        while len(proc.codes) < MAX_ATTEMPTS:
            if rng.random() >= error_rate:
                proc.codes.append("1400")
                proc.near.append(True)
                oks += 1
                if oks >= required:
                    break
                continue
            if bad or error_rate >= 1:
                code = cause if rng.random() < P_SAME_CAUSE else BAD_CODES[_pick(rng, BAD_CUM)]
            else:
                code = GOOD_CODES[_pick(rng, GOOD_CUM)]
            share = NEAR_FAILURE_SHARE.get(code[:2], 1.0)
            proc.codes.append(code)
            proc.near.append(rng.random() < share)
            if bad and rng.random() < P_GIVE_UP:
                break

        # call times: a few seconds after the process starts, then retries seconds to minutes apart
        at = int(started.timestamp()) * 1_000_000 + int(rng.lognormvariate(1.0, 0.5) * 1e6)
        times = [at]
        for previous in proc.codes[:-1]:
            if previous == "1400":  # next validation step of the flow
                gap = 8.0 + min(rng.lognormvariate(4.0, 0.8), 900.0)
            else:  # the user retakes the photos
                gap = 5.0 + min(rng.lognormvariate(3.4, 0.8), 900.0)
            at += int(gap * 1e6)
            times.append(at)
        if len(times) > 1 and rng.random() < P_DUPLICATE_DATE:
            j = rng.randrange(1, len(times))
            shift = times[j] - times[j - 1]
            times[j:] = [t - shift for t in times[j:]]
        return proc, times


# ---- documents -------------------------------------------------------------------------------------------------


class _Writer:
    """Serialises one call as mongoexport text."""

    def __init__(self, rng: random.Random, landmarks: bool, seed: int, deploy: datetime) -> None:
        self.rng = rng
        self.deploy = deploy  # api_hash changes here
        self.near_faces, self.far_faces = _face_pool(seed, landmarks)
        self.landmarks = landmarks
        self.counters = {gw: rng.randrange(1 << 24) for gws in GATEWAYS.values() for gw, _ in gws}

    # -- helpers --

    def _ms(self, mean: float, sigma: float = 0.35) -> int:
        if mean <= 0:
            return 0
        return int(self.rng.lognormvariate(_mu(mean, sigma), sigma) + 0.5)

    def _times(self, service: str) -> tuple[int, int]:
        t, q = SERVICE_TIMES[service]
        return self._ms(t, 0.3), self._ms(q, 0.6)

    # -- services --

    def accessory(self, face: _Face, code: str | None) -> tuple[str, int]:
        rng = self.rng
        cx, cy, w, h = face.center
        bbox = _nums(_f32(cx + rng.gauss(0, 0.01), cy + rng.gauss(0, 0.01), w * rng.uniform(1.0, 1.1), h))
        conf = _num(_f32(rng.uniform(0.55, 0.95))[0])
        found = ""
        if code:
            dy = {"0202": 0.35, "0203": -0.45, "0204": 0.25, "0205": -0.1}[code] * h
            box = _nums(_f32(cx + rng.gauss(0, 0.05), cy + dy, w * rng.uniform(0.4, 0.9), h * rng.uniform(0.2, 0.5)))
            found = f',"{ACCESSORY_KEYS[code]}":{{"bbox":{box},"confidence":{_num(_f32(rng.uniform(0.5, 0.99))[0])}}}'
        t, q = self._times("accessory_detector")
        msg, out_code = (DESCS[code], code) if code else ("accesories OK", "0200")  # sic: the API's spelling
        text = (
            f'"accessory_detector":{{"msg":"{msg}","code":"{out_code}","results":{{"predictions":{{'
            f'"accessories":{{"face":{{"bbox":{bbox},"confidence":{conf}}}{found}}},'
            f'"time_ms":{t},"queue_time_ms":{q}}}}}}}'
        )
        return text, t + q

    def face_detector(self, face: _Face, far: bool, code: str | None) -> tuple[str, int]:
        faces = [face]
        if code == "0102":
            faces = []
        elif code == "0103":
            pool = self.far_faces if far else self.near_faces
            faces.append(pool[self.rng.randrange(len(pool))])
        boxes = "[" + ",".join(f.bbox for f in faces) + "]"
        raws = "[" + ",".join(f.bbox_raw for f in faces) + "]"
        marks = ""
        if self.landmarks:
            marks = ',"landmarks":[' + ",".join(f.landmarks for f in faces) + "]"
        t, q = self._times("face_detector")
        msg, out_code = (DESCS[code], code) if code else ("face OK", "0100")
        text = (
            f'"face_detector":{{"msg":"{msg}","code":"{out_code}","results":{{"predictions":{{'
            f'"faces":{{"bboxes":{boxes}{marks},"bboxes_raw":{raws}}},"time_ms":{t},"queue_time_ms":{q}}},'
            f'"config":{FACE_CONFIG}}}}}'
        )
        return text, t + q

    def iqa(self, far: bool, code: str | None) -> tuple[str, int]:
        rng = self.rng
        liqe = 1 + 4 * min(rng.betavariate(1.3, 0.95) if not far else rng.betavariate(1.15, 1.05), 1.0)
        topiq = _clip(rng.gauss(0.55 if far else 0.615, 0.1), 0.25, 0.905)
        sharp = _clip(rng.gauss(0.42 if far else 0.46, 0.165), 0.03, 0.869)
        color = _clip(rng.gauss(39.0 if far else 40.4, 10.5), 6.7, 99.0)
        contrast = _clip(rng.gauss(54.0 if far else 55.0, 8.0), 12.5, 93.5)
        bright = _clip(rng.gauss(0.407, 0.076), 0.175, 0.86)
        blur = _clip(rng.gauss(0.46 if far else 0.452, 0.063), 0.2, 0.609)
        svd = _clip(rng.gauss(0.71 if far else 0.697, 0.055), 0.45, 0.809)
        topiq_failed = rng.random() < P_TOPIQ_FAILED  # topiq answers -1
        if code == "0302":
            if rng.random() < 0.7:
                liqe = 1 + rng.uniform(0.0, 0.29) ** 2 / 0.29
            topiq = _clip(rng.gauss(0.37, 0.13), 0.03, 0.75)
            sharp = _clip(rng.gauss(0.28, 0.17), 0.01, 0.86)
            blur = _clip(rng.gauss(0.57, 0.09), 0.3, 0.82)
            svd = _clip(rng.gauss(0.805, 0.048), 0.6, 0.94)
            if liqe >= 1.3 and (topiq >= 0.41 or topiq_failed) and blur <= 0.61 and svd <= 0.81:
                liqe = 1 + rng.uniform(0.0, 0.29)
        elif code == "0303":
            color = rng.uniform(0.5, 6.5)
        elif code == "0304":
            bright = rng.uniform(0.04, 0.169) if rng.random() < 0.5 else rng.uniform(0.871, 0.97)
        elif code == "0305":
            contrast = rng.uniform(4.0, 11.9) if rng.random() < 0.7 else rng.uniform(94.1, 110.0)
        elif code == "0306":
            sharp = rng.uniform(0.871, 0.95)
        topiq_text = "-1" if topiq_failed else _num(round(topiq, 4))
        lt, lq = self._times("liqe")
        tt, tq = self._times("topiq")
        ct, _ = self._times("classic_metrics")
        heuristics_ms = round(rng.lognormvariate(_mu(0.013, 0.4), 0.4), 4)
        msg, out_code = (DESCS[code], code) if code else ("quality OK", "0300")
        text = (
            f'"liqe":{{"msg":"liqe OK","code":"0300","results":{{"predictions":{{'
            f'"score":{_num(round(liqe, 4))},"time_ms":{lt},"queue_time_ms":{lq}}}}}}},'
            f'"topiq":{{"msg":"topiq OK","code":"0300","results":{{"predictions":{{'
            f'"score":{topiq_text},"time_ms":{tt},"queue_time_ms":{tq}}}}}}},'
            f'"classic_metrics":{{"msg":"classic metrics OK","code":"0300","results":{{"time_ms":{ct},'
            f'"sharpness":{_num(sharp)},"colorfulness":{_num(color)},"contrast":{_num(contrast)},'
            f'"brightness":{_num(bright)},"blur_score":{_num(blur)},"svd_score":{_num(svd)}}}}},'
            f'"iqa_heuristics":{{"msg":"{msg}","code":"{out_code}","results":{{"config":{IQA_CONFIG},'
            f'"time_ms":{_num(heuristics_ms)}}}}}'
        )
        return text, lt + lq + tt + tq + ct

    def antispoofing(self, spoof: bool) -> tuple[str, int]:
        rng = self.rng
        flagged = [spoof and rng.random() < share for *_, share in AS_MODELS]
        if spoof and not any(flagged):
            flagged[1 + rng.randrange(3)] = True
        parts, total = [], 0
        for (key, msg, threshold, _), is_spoof in zip(AS_MODELS, flagged, strict=True):
            if is_spoof:
                high = -0.8 if threshold < 0.5 else -0.3
                prob = 10 ** rng.uniform(-8.0 if key != "ibeta2_clip" else -4.0, high)
            else:
                low, high = {"as_35_selfies": (-7, -3), "ibeta2_clip": (-3.5, -1.3)}.get(key, (-9.0, -4.5))
                prob = 1.0 - 10 ** rng.uniform(low, high)
            t, q = self._times(key)
            total += t + q
            label, code = ("SPOOFING", "1402") if is_spoof else ("REAL", "1400")
            parts.append(
                f'"{key}":{{"msg":"{msg}","code":"{code}","results":{{"predictions":{{"class":"{label}",'
                f'"prob":{_num(prob)},"time_ms":{t},"queue_time_ms":{q}}}}}}}'
            )
        if spoof:
            prob, msg, code = 10 ** rng.uniform(-7.0, -0.5), DESCS["1402"], "1402"
        else:
            prob, msg, code = 0.999839 - 10 ** rng.uniform(-7.5, -5.0), DESCS["1400"], "1400"
        heuristics_ms = round(rng.lognormvariate(_mu(0.15, 0.4), 0.4), 4)
        parts.append(
            f'"as_heuristics":{{"msg":"{msg}","code":"{code}","results":{{"predictions":{{'
            f'"prob":{_num(prob)},"time_ms":{_num(heuristics_ms)}}},"config":{AS_CONFIG}}}}}'
        )
        return ",".join(parts), total

    def geometry(self, fail: bool) -> tuple[str, int]:
        rng = self.rng
        neural, handcrafted, difference = rng.uniform(0.27, 0.98), rng.uniform(0.14, 0.95), "0"
        if rng.random() < 0.1:
            difference = _num(round(rng.uniform(0.0001, 0.049), 4))
        if fail:
            kind = rng.random()
            if kind < 0.7:
                neural = rng.uniform(0.01, 0.259)
            elif kind < 0.9:
                handcrafted = rng.uniform(0.0, 0.129)
            else:
                difference = _num(round(rng.uniform(0.051, 0.4), 4))
        t, q = self._times("geometry_check")
        msg, code = (DESCS["3002"], "3002") if fail else ("geometry check OK", "3000")
        text = (
            f'"geometry_check":{{"msg":"{msg}","code":"{code}","results":{{"predictions":{{'
            f'"neural_score":{_num(round(neural, 4))},"time_ms":{t},"queue_time_ms":{q},'
            f'"image_difference":{difference},"handcrafted_score":{_num(round(handcrafted, 4))}}},'
            f'"config":{GEOMETRY_CONFIG}}}}}'
        )
        return text, t + q

    # -- document --

    def document(self, proc: _Process, attempt: int, at_us: int) -> str:
        rng = self.rng
        user = proc.user
        code = proc.codes[attempt]
        fail_rank = RANK[failing_stage(code, proc.near[attempt])] if code != "1400" else ALL_PASS

        def present(stage: int) -> bool:
            return RANK[stage] <= fail_rank

        def failing(stage: int) -> str | None:
            return code if RANK[stage] == fail_rank else None

        near_size = user.size
        far_size = near_size
        if rng.random() < P_FAR_SIZE_DIFFERS:
            others = [s for s in IMAGE_SIZES if s != near_size]
            far_size = others[rng.randrange(len(others))]
        near_face = self.near_faces[rng.randrange(len(self.near_faces))]
        far_face = self.far_faces[rng.randrange(len(self.far_faces))]

        images, spent = [], 0
        for far, size, face in ((False, near_size, near_face), (True, far_size, far_face)):
            resized = "true" if size[0] * size[1] > 2_100_000 else "false"
            parts = [
                f'"integrity_dims":{{"msg":"integrity and dimensions OK","code":"0000","results":{{'
                f'"file_ext":"{user.file_ext}","raw_img_size":[{size[0]},{size[1]}],"resized":{resized}}}}}'
            ]
            steps = (
                (ACC_FAR if far else ACC_NEAR, lambda s, f=face: self.accessory(f, failing(s))),
                (FACE_FAR if far else FACE_NEAR, lambda s, f=face, x=far: self.face_detector(f, x, failing(s))),
                (IQA_FAR if far else IQA_NEAR, lambda s, x=far: self.iqa(x, failing(s))),
                (AS_FAR if far else AS_NEAR, lambda s: self.antispoofing(failing(s) is not None)),
            )
            for stage, build in steps:
                if not present(stage):
                    break
                text, ms = build(stage)
                parts.append(text)
                spent += ms
            images.append(",".join(parts))
        metadata = f'"near_img":{{{images[0]}}},"far_img":{{{images[1]}}}'
        if present(GEOMETRY):
            text, ms = self.geometry(failing(GEOMETRY) is not None)
            metadata += "," + text
            spent += ms

        overhead = rng.gauss(OVERHEAD_MEAN, OVERHEAD_SD)
        if rng.random() < P_EXTRA_OVERHEAD:
            overhead += min(rng.lognormvariate(6.4, 0.8), 6000.0)
        total = spent + int(max(overhead, OVERHEAD_MIN, 40 - spent))

        # identifiers and times
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=at_us)
        local = when.astimezone(LOCAL_TZ)
        api_hash = "02bc5e7" if local < self.deploy else "fae781b"
        gateways = GATEWAYS[api_hash]
        gateway, oid_middle = gateways[rng.randrange(len(gateways))]
        counter = self.counters[gateway] = (self.counters[gateway] + 1) & 0xFFFFFF
        oid = f"{(at_us // 1000 + total) // 1000:08x}{oid_middle}{counter:06x}"
        ts = _num((at_us - 5 - at_us % 23) / 1e6)  # the API stamps ts a few microseconds before date
        if rng.random() < P_DATE_OBJECT:
            millis = f"{when.microsecond // 1000:03d}".rstrip("0")
            date = f'{{"$date":"{when:%Y-%m-%dT%H:%M:%S}{"." + millis if millis else ""}Z"}}'
        else:
            date = f'"{local.isoformat(timespec="microseconds")}"'
        token = base64.urlsafe_b64encode(rng.getrandbits(56).to_bytes(7, "big")).decode().rstrip("=")
        status = "ok" if code == "1400" else "error"
        month = f"{local:%Y-%m}"
        blob = f'{{"account_name":"{STORAGE_ACCOUNT}","container_name":"{month}","path":"{token}/{token}~'
        return (
            f'{{"_id":{{"$oid":"{oid}"}},"api_hash":"{api_hash}","user_name":{encode_basestring(proc.user_name)},'
            f'"service":"main","api_gateway_id":"{gateway}","file_token":"{token}","with_accessories":true,'
            f'"with_iqa":true,"with_icao":true,"save_azure":true,"save_mongo":true,"ts":{ts},"date":{date},'
            f'"summary":{{"status":"{status}","code":"{code}","desc":"{DESCS[code]}"}},"metadata":{{{metadata}}},'
            f'"user_data":{{"trazabilidad":{self.trazabilidad(proc, user)},'
            f'"procesoConvenioGuid":"{proc.guid}","convenio":"{CLIENTS[user.client].convenio}",'
            f'"documento":"{user.documento}"}},"http_code":200,"total_time_ms":{total},'
            f'"azure_blob":{{"near_img":{blob}near.png"}},"far_img":{blob}far.png"}}}}}}'
        )

    def trazabilidad(self, proc: _Process, user: _User) -> str:
        rng = self.rng
        device, os_version, screen, camera = user.device
        navegador, version = user.browser
        if user.sdk:
            city = subdivision = postal = agent = language = camera_label = camera = ""
            tiempo = 0
        else:
            city, subdivision, postal = CITIES[user.city][:3] if user.city >= 0 else ("", "", "")
            language = user.language
            tiempo = rng.randint(4, 45)
            if device.startswith("Apple"):
                agent = (
                    f"Mozilla/5.0 (iPhone; CPU iPhone OS {os_version} like Mac OS X) AppleWebKit/605.1.15 "
                    f"(KHTML, like Gecko) Version/{version} Mobile/15E148 Safari/604.1"
                )
                camera_label = "Cámara frontal"
            else:
                model = device.split(" ", 1)[1]
                engine = f"Chrome/{version}" if navegador == "Chrome" else f"SamsungBrowser/{version} Chrome/130.0.0.0"
                agent = (
                    f"Mozilla/5.0 (Linux; Android {os_version}; {model}) AppleWebKit/537.36 "
                    f"(KHTML, like Gecko) {engine} Mobile Safari/537.36"
                )
                camera_label = "camera2 1, facing front"
        error = "" if rng.random() > 0.01 else "NotReadableError: Could not start video source"
        fields = (
            ("Resolucion", screen), ("City", city), ("PostalCode", postal), ("ProcessGuid", proc.guid),
            ("VersionNavegador", version), ("Lenguaje", language), ("Subdivision", subdivision),
        )  # fmt: skip
        text = ",".join(f'"{k}":{encode_basestring(v)}' for k, v in fields)
        fields = (
            ("Camara", camera_label), ("Error", error), ("ResolucionCamera", camera), ("Device", device),
            ("Latitud", user.lat), ("Navegador", navegador), ("NumDoc", user.documento), ("UserAgent", agent),
            ("Longitud", user.lon), ("Country", "CO"), ("Ip", proc.ip),
        )  # fmt: skip
        text += f',"Tiempo":{tiempo},' + ",".join(f'"{k}":{encode_basestring(v)}' for k, v in fields)
        return "{" + text + "}"


def _mu(mean: float, sigma: float) -> float:
    """mu of a lognormal with the given mean."""
    return log(mean) - sigma * sigma / 2


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


# ---- public API --------------------------------------------------------------------------------------------------


def _iter(count: int, seed: int, landmarks: bool, start: datetime, days: int) -> Iterator[tuple[str, str]]:
    """(local month ``YYYY-MM``, document text) in date order."""
    if count < 0 or days < 1:
        raise ValueError("count must be >= 0 and days >= 1")
    start = start.replace(tzinfo=LOCAL_TZ) if start.tzinfo is None else start.astimezone(LOCAL_TZ)
    rng = random.Random(seed)
    planner = _Planner(rng, start, days)
    processes: list[_Process] = []
    calls: list[_Call] = []
    while len(calls) < count:
        proc, times = planner.process()
        keep = min(len(times), count - len(calls))
        del proc.codes[keep:], proc.near[keep:]
        calls.extend(_Call(at, len(processes), i) for i, at in enumerate(times[:keep]))
        processes.append(proc)
    calls.sort(key=lambda c: (c.at_us, c.process, c.attempt))

    writer = _Writer(rng, landmarks, seed, start + API_DEPLOY_AFTER)
    for call in calls:
        text = writer.document(processes[call.process], call.attempt, call.at_us)
        local = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=call.at_us)).astimezone(LOCAL_TZ)
        yield f"{local:%Y-%m}", text


def iter_documents(
    count: int, seed: int = 0, landmarks: bool = True, start: datetime = DEFAULT_START, days: int = 23
) -> Iterator[str]:
    """Yields `count` documents, each as one line of relaxed Extended JSON text (no newline), in date order.

    Args:
        count: number of documents (API calls).
        seed: seed of the private ``random.Random``; the same arguments give byte-identical documents.
        landmarks: include the 478-point face landmark lists (~70 KB per document); without them a
            document is a few KB (the ``landmarks`` key is left out, the boxes stay).
        start: start of the window of process starts; naive values are taken as local time (-05:00).
        days: length of the window in days (calls of a process may run a little past its end).

    Raises:
        ValueError: if ``count`` is negative or ``days`` is below 1.
    """
    for _, text in _iter(count, seed, landmarks, start, days):
        yield text


def write_exports(
    out_dir: str,
    count: int,
    seed: int = 0,
    landmarks: bool = True,
    docs_per_file: int = 5000,
    array_every: int = 4,
) -> list[str]:
    """Writes the documents into local files under out_dir and returns their relative paths.

    Files hold ``docs_per_file`` documents (the last one fewer) and are named
    ``exports/<YYYY-MM of their first document>/liveness-<NNNNN>.json``. Every ``array_every``-th file
    (0: none) is written as ``mongoexport --jsonArray`` does without ``--pretty``: ``[``, the documents
    joined by ``,``, then ``]`` and a newline, all on one line; the others are JSON Lines. Files are
    written as the documents are generated (one document in memory at a time).

    Raises:
        ValueError: if ``docs_per_file`` is below 1, ``array_every`` is negative, or as :func:`iter_documents`.
    """
    if docs_per_file < 1 or array_every < 0:
        raise ValueError("docs_per_file must be >= 1 and array_every >= 0")
    paths: list[str] = []
    out = None
    array_form = False
    in_file = 0
    try:
        for month, text in _iter(count, seed, landmarks, DEFAULT_START, 23):
            if out is None:
                number = len(paths) + 1
                relative = f"exports/{month}/liveness-{number:05d}.json"
                os.makedirs(os.path.join(out_dir, "exports", month), exist_ok=True)
                out = open(os.path.join(out_dir, relative), "w", encoding="utf-8", newline="\n")  # noqa: SIM115
                paths.append(relative)
                array_form = array_every > 0 and number % array_every == 0
                in_file = 0
                if array_form:
                    out.write("[")
            if array_form:
                if in_file:
                    out.write(",")
                out.write(text)
            else:
                out.write(text)
                out.write("\n")
            in_file += 1
            if in_file == docs_per_file:
                if array_form:
                    out.write("]\n")
                out.close()
                out = None
        if out is not None:
            if array_form:
                out.write("]\n")
            out.close()
            out = None
    finally:
        if out is not None:
            out.close()
    return paths
