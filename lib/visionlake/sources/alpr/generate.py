"""Synthetic Doubango ultimateALPR result files, shaped like the seed data set and the real SDK output.

Every shape documented in ``shared/reference/ultimatealpr-json.md`` is produced with roughly realistic
shares: frames without a ``plates`` key, sequential (``duration``) and parallel (``latency`` / the SDK's
``lantency`` typo, ``job_idx``) results, the seed's extra ``timestamp`` field, Python (``", "``) and
compact SDK serialisation, masked and non-Latin plate texts, short ``confidences``, boxes past the image
edges, car-only elements, optional classifiers with top-5 softmax arrays, ``year`` as string, interval
or int, and ``country`` entries with ``state`` or ``other``.

The module is pure: :func:`iter_results` only yields :class:`GeneratedFile` values (path, bytes, mtime);
writing them to a folder or an object store is someone else's job. Output is fully determined by ``seed``
(and ``count``, ``cameras``, ``days``, ``start``).

Speed (250k files in a few seconds): bodies are written directly as JSON text, byte for byte what
``json.dumps(doc, sort_keys=True, separators=..., ensure_ascii=...)`` gives (the tests check this), and the
top-5 classifier arrays, the costliest part, come from per-run pools: the first ``POOL_SIZE`` arrays of each
kind (color, makeModelYear, bodyStyle, country) are fresh, later ones reuse them at random. Plate texts,
confidences, boxes and car confidences are always fresh.
"""

from __future__ import annotations

import json
import random
from bisect import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring, encode_basestring_ascii

DEFAULT_START = datetime(2022, 5, 2, tzinfo=UTC)
IMAGE_WIDTH = 1920
IMAGE_HEIGHT = 1080
POOL_SIZE = 4096  # distinct classifier arrays of each kind per run before they are reused

# Top-level shape shares (per file).
P_NO_PLATES = 0.20
P_PARALLEL = 0.10
P_LANTENCY = 0.20  # share of parallel files that use the SDK's misspelt key
P_JOB_IDX = 0.50  # share of parallel files that carry job_idx
P_TIMESTAMP = 0.70
P_TIMESTAMP_OFFSET = 0.05  # share of timestamps written with an explicit UTC offset
P_PYTHON_SEPARATORS = 0.60
P_ENSURE_ASCII = 0.50
P_ENGINE_RESTART = 1 / 500  # frame_id goes back to 0 (engine re-initialised)
# Elements per frame that has plates: 1..4 -> mean 1.33, i.e. ~1.06 over all frames.
ELEMENT_COUNT_CUM_WEIGHTS = (0.76, 0.93, 0.98, 1.0)

# Per-element shares.
P_CAR_ONLY = 0.04
P_CAR = 0.90
P_CLASSIFIER = 0.85  # each of color / makeModelYear / bodyStyle
P_COUNTRY = 0.85
P_MASKED = 0.05
P_SHORT_CONFIDENCES = 0.03
P_BOX_OUTSIDE = 0.02
P_KOREAN = 0.03
P_CHINESE = 0.02
P_RUS_OTHER = 0.02
# Year type of one makeModelYear array: "0-9" placeholder, int, or string year.
YEAR_KIND_CUM_WEIGHTS = (0.60, 0.90, 1.0)

LATIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ALNUM = LATIN + DIGITS
# Latin plate text length 1..8, mostly 6-7 characters.
TEXT_LENGTH_CUM_WEIGHTS = (1, 3, 6, 10, 18, 48, 88, 100)
HANGUL = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주하허호배"
CHINESE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

# fmt: off
COLORS = (
    "black", "blue", "brown", "gold", "gray", "green", "orange",
    "purple", "red", "silver", "tan", "white", "yellow",
)
BODY_STYLES = (
    "bus", "campervan", "convertible", "coupe", "hatchback", "heavytruck",
    "motorcycle", "mpv", "pickup", "sedan", "suv", "van",
)
# (make, model, klass) as seen in the seed samples, ordered by klass so neighbours share a make.
MAKE_MODELS = (
    ("acura", "cdx", 0), ("acura", "rl", 10), ("acura", "tl", 15), ("acura", "tsx", 17),
    ("audi", "100", 67), ("audi", "a4", 73), ("audi", "a5", 74), ("audi", "a6", 75), ("audi", "a8", 77),
    ("audi", "rs4", 97), ("audi", "rs6", 99), ("audi", "s4", 107), ("audi", "s5", 108), ("audi", "tt", 117),
    ("bentley", "arnage", 152), ("bentley", "azure", 153), ("bentley", "continental flying spur", 157),
    ("bentley", "flying spur", 161), ("bentley", "mulsanne", 162),
    ("bmw", "1series", 166), ("bmw", "2series", 167), ("bmw", "3series", 168), ("bmw", "5series", 170),
    ("bmw", "7series", 172), ("bmw", "m2", 184), ("bmw", "m3", 185), ("bmw", "m5", 187), ("bmw", "x3", 193),
    ("bmw", "x5", 195), ("cadillac", "ats", 245), ("cadillac", "cts", 255), ("cadillac", "sts", 266),
    ("chevrolet", "c10", 299), ("chevrolet", "silverado", 367), ("chevrolet", "tahoe", 377),
    ("chrysler", "town&country", 415), ("chrysler", "voyager", 418), ("dodge", "caravan", 510),
    ("dodge", "ram", 537), ("ferrari", "360", 558), ("ferrari", "458", 560), ("ford", "focus", 682),
    ("ford", "mondeo", 698), ("ford", "mustang", 699), ("ford", "taurus", 714),
    ("honda", "accord", 794), ("honda", "city", 800), ("honda", "civic", 801), ("honda", "odyssey", 832),
    ("hyundai", "elantra", 865), ("hyundai", "tiburon", 906), ("kia", "sportage", 1065),
    ("lamborghini", "aventador", 1082), ("lamborghini", "gallardo", 1088),
    ("mercedes benz", "c", 1262), ("mercedes benz", "cls", 1270), ("mercedes benz", "e", 1271),
    ("mercedes benz", "s", 1293), ("nissan", "altima", 1410), ("nissan", "leaf", 1431),
    ("nissan", "note", 1437), ("nissan", "tiida", 1468), ("nissan", "x trail", 1473),
    ("opel", "astra", 1485), ("porsche", "cayenne", 1614), ("renault", "clio", 1625),
    ("renault", "zoe", 1664), ("subaru", "impreza", 1781), ("toyota", "camry", 1856),
    ("toyota", "corolla", 1860), ("toyota", "hilux", 1885), ("toyota", "rav4", 1901),
    ("volkswagen", "beetle", 1952), ("volkswagen", "golf", 1974), ("volkswagen", "jetta", 1976),
    ("volkswagen", "polo", 1988), ("volvo", "s40", 2041), ("volvo", "v60", 2049), ("volvo", "xc90", 2056),
)
# LPCI classes (code, name, klass, state); USA, CAN and ARE classes are per state, as in the seed.
COUNTRIES = (
    ("ALB", "Albania", 0, None), ("ARE", "United Arab Emirates", 2, "Abu Dhabi"),
    ("ARE", "United Arab Emirates", 4, "Dubai"), ("ARE", "United Arab Emirates", 7, "Sharjah"),
    ("AUS", "Australia", 10, None), ("AUT", "Austria", 11, None), ("BEL", "Belgium", 13, None),
    ("BRA", "Brazil", 17, None), ("CAN", "Canada", 18, "Alberta"), ("CAN", "Canada", 19, "British Columbia"),
    ("CAN", "Canada", 24, "Ontario"), ("CAN", "Canada", 26, "Quebec"), ("CHE", "Switzerland", 28, None),
    ("CHN", "China", 29, None), ("CZE", "Czechia", 31, None), ("DEU", "Germany", 32, None),
    ("ESP", "Spain", 34, None), ("FRA", "France", 37, None),
    ("GBR", "United Kingdom of Great Britain and Northern Ireland", 38, None),
    ("GRC", "Greece", 40, None), ("HRV", "Croatia", 41, None), ("IND", "India", 43, None),
    ("ITA", "Italy", 47, None), ("KOR", "Republic of Korea", 50, None), ("NLD", "Netherlands", 60, None),
    ("NOR", "Norway", 61, None), ("POL", "Poland", 63, None), ("ROU", "Romania", 65, None),
    ("RUS", "Russian Federation", 66, None), ("SWE", "Sweden", 70, None), ("TUR", "Turkey", 73, None),
    ("TWN", "Taiwan", 74, None), ("UKR", "Ukraine", 75, None),
    ("USA", "United States of America", 80, "California"), ("USA", "United States of America", 84, "Florida"),
    ("USA", "United States of America", 88, "Illinois"), ("USA", "United States of America", 97, "Michigan"),
    ("USA", "United States of America", 107, "New York"), ("USA", "United States of America", 118, "Texas"),
    ("USA", "United States of America", 122, "Washington"),
)
# fmt: on
RUS_OTHER = "Private vehicle"


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    """One generated result file.

    Attributes:
        relative_path: ``<camera_id>/<YYYY-MM-DD>/<frame_id>_<MM.DD.YYYY.HH.MM.SS.ffffff>.json``.
        body: the JSON document, UTF-8 encoded.
        mtime: modification time to give the file, epoch seconds (capture time plus a small delay).
    """

    relative_path: str
    body: bytes
    mtime: float


def iter_results(
    count: int,
    seed: int = 0,
    cameras: int = 8,
    days: int = 3,
    start: datetime | None = None,
) -> Iterator[GeneratedFile]:
    """Yield ``count`` synthetic ultimateALPR result files in capture-time order.

    Cameras get the files in turn; capture times are uniform over ``days`` days from ``start``. Each
    camera has its own ``frame_id`` counter that starts at 0 and now and then restarts at 0.

    Args:
        count: number of files to yield.
        seed: seed of the private ``random.Random``; the same arguments give the same files.
        cameras: number of cameras, named ``cam-01`` .. ``cam-NN``.
        days: length of the capture window in days.
        start: start of the capture window; naive values are taken as UTC. Defaults to 2022-05-02 UTC.

    Yields:
        One :class:`GeneratedFile` per capture; relative paths are unique.

    Raises:
        ValueError: if ``count`` is negative or ``cameras`` or ``days`` is below 1.
    """
    if count < 0 or cameras < 1 or days < 1:
        raise ValueError("count must be >= 0, cameras and days >= 1")
    start = DEFAULT_START if start is None else start
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    start_epoch = start.timestamp()
    naive_start = start.replace(tzinfo=None)
    width = max(2, len(str(cameras)))
    camera_ids = [f"cam-{i:0{width}d}" for i in range(1, cameras + 1)]
    rng = random.Random(seed)
    writer = _Writer(rng)

    span_us = days * 86_400_000_000
    # Capture offsets in microseconds, with the camera index packed in (sorting ints is fast).
    captures = sorted(int(rng.random() * span_us) * cameras + i % cameras for i in range(count))
    last_us = [-1] * cameras
    next_frame = [0] * cameras
    for packed in captures:
        offset_us, cam = divmod(packed, cameras)
        # Guard: strictly increasing microsecond times per camera make every path unique.
        offset_us = max(offset_us, last_us[cam] + 1)
        last_us[cam] = offset_us
        frame_id = next_frame[cam]
        if frame_id and rng.random() < P_ENGINE_RESTART:
            frame_id = 0  # engine re-initialised
        next_frame[cam] = frame_id + 1

        iso = (naive_start + timedelta(microseconds=offset_us)).isoformat(timespec="microseconds")
        yyyy, mm, dd, time_ = iso[0:4], iso[5:7], iso[8:10], iso[11:26]
        name = f"{frame_id}_{mm}.{dd}.{yyyy}.{time_.replace(':', '.')}.json"
        yield GeneratedFile(
            relative_path=f"{camera_ids[cam]}/{iso[:10]}/{name}",
            body=writer.body(frame_id, iso),
            mtime=start_epoch + offset_us / 1e6 + rng.uniform(0.05, 2.0),
        )


def _pick(rng: random.Random, cum_weights: tuple[float, ...]) -> int:
    """Index drawn with the given cumulative weights (a fast ``rng.choices(range(n), cum_weights=...)``)."""
    return bisect(cum_weights, rng.random() * cum_weights[-1])


def _dec(value: float, scale: float = 1e5) -> float:
    """Cut ``value`` to a few decimals (cheaper than ``round``), so it prints short like the SDK's floats."""
    return int(value * scale) / scale


class _ArrayPool:
    """Serialised top-5 arrays of one kind: fresh until ``POOL_SIZE`` exist, then reused at random."""

    def __init__(self, make: Callable[[], list[dict]], rng: random.Random) -> None:
        self._make = make
        self._rng = rng
        self._fragments: dict[bool, list[str]] = {True: [], False: []}  # by "Python separators"

    def draw(self, python: bool) -> str:
        """Return one array as JSON text, with ``", "`` separators if ``python`` else compact."""
        n = len(self._fragments[python])
        if n >= POOL_SIZE:
            return self._fragments[python][int(self._rng.random() * n)]
        array = self._make()
        for style, fragments in self._fragments.items():
            separators = (", ", ": ") if style else (",", ":")
            fragments.append(json.dumps(array, sort_keys=True, separators=separators))
        return self._fragments[python][n]


class _Writer:
    """Writes the JSON bodies of one run, drawing everything from one ``random.Random``.

    The methods return JSON text in the current file's style (``sep``/``kv`` separators and
    ``ensure_ascii``), with keys in sorted order as ``json.dumps(sort_keys=True)`` writes them.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.python = True
        self.sep, self.kv = ", ", ": "
        self.string: Callable[[str], str] = encode_basestring_ascii  # JSON string literal, quotes included
        self.pools = {
            "color": _ArrayPool(lambda: self._named_top5(COLORS), rng),
            "bodyStyle": _ArrayPool(lambda: self._named_top5(BODY_STYLES), rng),
            "makeModelYear": _ArrayPool(self._make_model_year, rng),
            "country": _ArrayPool(self._countries, rng),
        }

    def body(self, frame_id: int, iso_time: str) -> bytes:
        """One frame: duration or latency/lantency (+job_idx), frame_id, optional plates and timestamp."""
        rng = self.rng
        self.python = rng.random() < P_PYTHON_SEPARATORS  # like the seed; else compact like the SDK
        self.sep, self.kv = (", ", ": ") if self.python else (",", ":")
        ascii_only = rng.random() < P_ENSURE_ASCII
        self.string = encode_basestring_ascii if ascii_only else encode_basestring
        kv = self.kv

        elements = []
        if rng.random() >= P_NO_PLATES:  # the SDK omits the key rather than writing "plates": []
            n = 1 + _pick(rng, ELEMENT_COUNT_CUM_WEIGHTS)
            elements = [self._element() for _ in range(n)]
        fields = []  # in sorted key order
        if rng.random() < P_PARALLEL:
            fields.append(f'"frame_id"{kv}{frame_id}')
            if rng.random() < P_JOB_IDX:
                fields.append(f'"job_idx"{kv}{rng.randrange(4)}')
            key = "lantency" if rng.random() < P_LANTENCY else "latency"
            fields.append(f'"{key}"{kv}{int(rng.random() < 0.3)}')
        else:
            fields.append(f'"duration"{kv}{self._duration(frame_id, len(elements))}')
            fields.append(f'"frame_id"{kv}{frame_id}')
        if elements:
            fields.append(f'"plates"{kv}[{self.sep.join(elements)}]')
        if rng.random() < P_TIMESTAMP:
            offset = rng.choice(("+00:00", "Z")) if rng.random() < P_TIMESTAMP_OFFSET else ""
            fields.append(f'"timestamp"{kv}"{iso_time}{offset}"')
        return ("{" + self.sep.join(fields) + "}").encode("utf-8")

    def _duration(self, frame_id: int, elements: int) -> int:
        """Processing time in ms: ~33 with no plate, ~77 with one, slow warm-up on the first frames."""
        rng = self.rng
        if frame_id == 0:
            return rng.randint(450, 680)
        if frame_id == 1 and rng.random() < 0.5:
            return rng.randint(150, 450)
        if not elements:
            return max(25, round(rng.lognormvariate(3.5, 0.12)))  # e^3.5 ~ 33
        ms = rng.lognormvariate(4.34, 0.1) + 15 * (elements - 1)  # e^4.34 ~ 77
        if rng.random() < 0.01:
            ms += rng.uniform(100, 1250)
        return max(60, round(ms))

    def _element(self) -> str:
        """One element of ``plates``: a plate (optional car and country) or a car-only detection."""
        rng, kv = self.rng, self.kv
        if rng.random() < P_CAR_ONLY:
            x0 = rng.uniform(0, IMAGE_WIDTH - 300)
            y0 = rng.uniform(0, IMAGE_HEIGHT - 250)
            x1 = min(IMAGE_WIDTH, x0 + rng.uniform(150, 900))
            box = (x0, y0, x1, min(IMAGE_HEIGHT, y0 + rng.uniform(120, 600)))
            return f'{{"car"{kv}{self._car(box)}}}'
        text = self._plate_text()
        plate_box = self._plate_box()
        fields = []
        if rng.random() < P_CAR:
            fields.append(f'"car"{kv}{self._car(self._car_box(plate_box))}')
        fields.append(f'"confidences"{kv}{self._confidences(len(text))}')
        if rng.random() < P_COUNTRY:
            fields.append(f'"country"{kv}{self.pools["country"].draw(self.python)}')
        fields.append(f'"text"{kv}{self.string(text)}')
        fields.append(f'"warpedBox"{kv}{self._box(plate_box)}')
        return "{" + self.sep.join(fields) + "}"

    def _plate_text(self) -> str:
        """Latin, Korean or Chinese plate text; trial builds mask the last character with ``*``."""
        rng = self.rng
        r = rng.random()
        if r < P_KOREAN:  # e.g. 12가3456
            text = "".join(rng.choices(DIGITS, k=rng.choice((2, 3)))) + rng.choice(HANGUL)
            text += "".join(rng.choices(DIGITS, k=4))
        elif r < P_KOREAN + P_CHINESE:  # e.g. 京A12345
            text = rng.choice(CHINESE_PROVINCES) + rng.choice(LATIN) + "".join(rng.choices(ALNUM, k=5))
        else:
            text = "".join(rng.choices(ALNUM, k=1 + _pick(rng, TEXT_LENGTH_CUM_WEIGHTS)))
        if rng.random() < P_MASKED:
            text = text[:-1] + "*"
        return text

    def _confidences(self, length: int) -> str:
        """``[ocr, detection, per-char...]``, ocr = min of the per-char scores; sometimes only 2 values."""
        rng = self.rng
        detection = rng.uniform(99.0, 99.999989) if rng.random() < 0.7 else rng.uniform(37.0, 99.0)
        base = rng.uniform(38.0, 91.99)  # per-char scores within +-8 of it: 30 .. 99.99
        if rng.random() < P_SHORT_CONFIDENCES:  # no OCR result (#240)
            values = [_dec(base), _dec(detection)]
        else:
            low, random_ = base - 8.0, rng.random  # inlined _dec: this is the hottest loop
            chars = [int((low + 16.0 * random_()) * 1e5) / 1e5 for _ in range(length)]
            values = [min(chars), _dec(detection), *chars]
        return "[" + self.sep.join(map(repr, values)) + "]"

    def _plate_box(self) -> tuple[float, float, float, float]:
        """Plate rectangle (xmin, ymin, xmax, ymax); a few cross the image edges (SDK bug #243)."""
        rng = self.rng
        w = rng.uniform(40, 260)
        h = w * rng.uniform(0.2, 0.5)
        x0 = rng.uniform(0, IMAGE_WIDTH - w)
        y0 = rng.uniform(0, IMAGE_HEIGHT - h)
        if rng.random() < P_BOX_OUTSIDE:
            side = rng.randrange(4)
            if side == 0:
                x0 = -rng.uniform(1, w / 2)
            elif side == 1:
                x0 = IMAGE_WIDTH - w + rng.uniform(1, w)
            elif side == 2:
                y0 = -rng.uniform(1, h / 2)
            else:
                y0 = IMAGE_HEIGHT - h + rng.uniform(1, 180)
        return (x0, y0, x0 + w, y0 + h)

    def _car_box(self, plate: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """Car rectangle around the plate, clipped to the image unless the plate already crosses an edge."""
        rng = self.rng
        x0, y0, x1, y1 = plate
        w = x1 - x0
        x0, y0 = x0 - rng.uniform(0.8, 2.5) * w, y0 - rng.uniform(0.6, 2.0) * w
        x1, y1 = x1 + rng.uniform(0.8, 2.5) * w, y1 + rng.uniform(0.05, 0.25) * w
        if plate[0] >= 0 and plate[1] >= 0 and plate[2] <= IMAGE_WIDTH and plate[3] <= IMAGE_HEIGHT:
            x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(IMAGE_WIDTH, x1), min(IMAGE_HEIGHT, y1)
        return (x0, y0, x1, y1)

    def _box(self, box: tuple[float, float, float, float]) -> str:
        """Axis-aligned ``warpedBox``: ``[xmin,ymin, xmax,ymin, xmax,ymax, xmin,ymax]`` (TL, TR, BR, BL)."""
        x0, y0, x1, y1 = [repr(int(v * 1e3) / 1e3) for v in box]
        return "[" + self.sep.join((x0, y0, x1, y0, x1, y1, x0, y1)) + "]"

    def _car(self, box: tuple[float, float, float, float]) -> str:
        """The ``car`` object; each classifier array is optional."""
        rng, kv, python = self.rng, self.kv, self.python
        fields = []
        if rng.random() < P_CLASSIFIER:
            fields.append(f'"bodyStyle"{kv}{self.pools["bodyStyle"].draw(python)}')
        if rng.random() < P_CLASSIFIER:
            fields.append(f'"color"{kv}{self.pools["color"].draw(python)}')
        fields.append(f'"confidence"{kv}{_dec(rng.uniform(89.0, 99.99999))!r}')
        if rng.random() < P_CLASSIFIER:
            fields.append(f'"makeModelYear"{kv}{self.pools["makeModelYear"].draw(python)}')
        fields.append(f'"warpedBox"{kv}{self._box(box)}')
        return "{" + self.sep.join(fields) + "}"

    def _named_top5(self, names: tuple[str, ...]) -> list[dict]:
        """Top-5 ``{confidence, klass, name}`` where klass is the index in the alphabetical name list."""
        klasses = self.rng.sample(range(len(names)), 5)
        return [
            {"confidence": c, "klass": k, "name": names[k]} for c, k in zip(self._softmax_top5(), klasses, strict=True)
        ]

    def _make_model_year(self) -> list[dict]:
        """Top-5 VMMR guesses, mostly of one make; ``year`` is "0-9", an int or a string year."""
        rng = self.rng
        i = rng.randrange(len(MAKE_MODELS))
        neighbours = MAKE_MODELS[max(0, i - 6) : i] + MAKE_MODELS[i + 1 : i + 7]
        picks = [MAKE_MODELS[i], *rng.sample(neighbours, 4)]
        kind = ("interval", "int", "str")[_pick(rng, YEAR_KIND_CUM_WEIGHTS)]
        out = []
        for confidence, (make, model, klass) in zip(self._softmax_top5(), picks, strict=True):
            year: str | int = "0-9" if kind == "interval" else rng.randint(1998, 2022)
            year = str(year) if kind == "str" else year
            out.append({"confidence": confidence, "klass": klass, "make": make, "model": model, "year": year})
        return out

    def _countries(self) -> list[dict]:
        """Top-5 LPCI guesses; per-state classes carry ``state``, a few RUS ones ``other``."""
        rng = self.rng
        out = []
        for confidence, (code, name, klass, state) in zip(self._softmax_top5(), rng.sample(COUNTRIES, 5), strict=True):
            entry: dict = {"code": code, "confidence": confidence, "klass": klass, "name": name}
            if state is not None:
                entry["state"] = state
            elif code == "RUS" and rng.random() < P_RUS_OTHER:
                entry["other"] = RUS_OTHER
            out.append(entry)
        return out

    def _softmax_top5(self) -> list[float]:
        """Five softmax percentages, highest first, adding up to ~100; tiny tails print as 1.07e-08 etc."""
        rng = self.rng
        if rng.random() < 0.5:  # confident: the tail is tiny, often in exponent form
            top = 100.0 - 10 ** rng.uniform(-7, 0)
            rest = 100.0 - top
            tail = [rest * 0.9, rest * 0.09 * rng.random(), rest * 10 ** rng.uniform(-6, -2)]
            tail.append(tail[-1] * 10 ** rng.uniform(-3, -0.1))
        else:
            top = rng.uniform(35.0, 99.0)
            rest = 100.0 - top
            tail = []
            for _ in range(3):
                part = rest * rng.uniform(0.4, 0.9)
                tail.append(part)
                rest -= part
            tail.append(rest * rng.uniform(0.99, 1.0))  # the classes past the top-5 keep almost nothing
        # 7 significant digits, like the SDK's float32 values.
        return [float(f"{v:.7g}") for v in sorted([top, *tail], reverse=True)]
