"""Synthetic security-camera frame files: a collector's envelope around an object detector's output.

The world is fixed (the same for every seed): 20 users, 25 sites in 8 time zones, 60 cameras (2 or 3 per
site, numbered ``cam-01`` .. per user, so a device id repeats across users). All cameras of a site share one
detector: shape A (DeepStack / CodeProject.AI style: ``success``, ``inferenceMs``, ``predictions`` with pixel
boxes) or shape B (TensorFlow Object Detection API: ``num_detections`` and padded arrays of COCO ids as
floats, scores and normalised ``[ymin, xmin, ymax, xmax]`` boxes). Contract: security-cam-detections.md.

Frames come in scenes of consecutive frames about a second apart (a person walking by, a dog crossing a
garden in ~15 frames, a person lingering at a door, dog + cat + racoon together at night, a flock, a crowd)
plus regular heartbeat snapshots; scene starts follow the day/night rhythm of the site's local time. Some
driveways hold a parked car all night (one track). Tracking detectors give a ``track_id`` that persists over
the frames of a track.

Every quirk of the contract is produced, most of them by one device each (see ``Device.role``): an untagged
camera (no ``user_id``, sometimes no ``device_id``), a camera without ``site_id``, ``captured_at`` without
offset, a camera clock that drifts minutes away from the file-name time, a covered lens (contrast ~0.01), a
cheap camera sending bmp/gif/thumbnails and sometimes no ``captured_at``, a 4K png camera whose images pass
5 MB, a camera that goes silent for hours; detector-wide: empty ``predictions``, ``success: false``, scores
in percent, 'raccoon' and capitalised labels, boxes past the image edges, ``num_detections`` larger than the
arrays. Invalid images (by conf/base.yaml's validation) are about 3% of the frames.

The module is pure: :func:`iter_frames` only yields :class:`GeneratedFile` values. Output is determined by
``count``, ``seed``, ``start`` and ``days``. Bodies are built as JSON text (``json.dumps`` separators).
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from itertools import accumulate

from visionlake.sources.detections.schema import LABEL_MAP

DEFAULT_START = datetime(2026, 11, 28, tzinfo=UTC)
DEFAULT_DAYS = 3
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

# Frame timing.
HEARTBEAT_SHARE = 0.3  # share of a device's frames that are heartbeat snapshots ...
MIN_HEARTBEAT_MS = 5 * MINUTE_MS  # ... but never more often than this
FRAME_STEP_MS = (700, 1400)  # between consecutive frames of a scene
# Scene starts per local hour (relative): quiet nights, busy mornings and evenings.
HOURLY = (
    0.15, 0.12, 0.1, 0.1, 0.12, 0.2, 0.45, 0.8, 1.2, 1.0, 0.9, 0.9,
    1.0, 1.0, 0.9, 0.9, 1.0, 1.2, 1.3, 1.0, 0.7, 0.45, 0.3, 0.2,
)  # fmt: skip
NIGHT_HOURS = frozenset((*range(0, 6), 21, 22, 23))  # nocturnal scenes
IR_HOURS = frozenset((*range(0, 7), 19, 20, 21, 22, 23))  # infrared image: darker, less contrast

# Per-frame shares.
P_JUNK = 0.12  # one low-score detection (0.05-0.45), often a class visionlake does not know
P_DROPOUT = 0.04  # a tracked object missed in one frame
P_FAILURE = 0.006  # shape A success=false
P_LOW_CONTRAST = 0.002  # rain or a cobweb on the lens at night (any device)
P_CHEAP_BMP, P_CHEAP_GIF, P_CHEAP_THUMB, P_CHEAP_NO_TIME = 0.2, 0.1, 0.15, 0.03
P_UNTAGGED_NO_DEVICE = 0.25
P_HUGE_PNG_FACTOR = (0.35, 0.7)  # png bytes per pixel: 2.9-5.8 MB at 4K, ~28% above 5 MB

# Shape B padding (TF pads classes with label 0 + offset 1, scores and boxes with zeros).
PAD_CLASS = "1.0"
PAD_BOX = "[0.0, 0.0, 0.0, 0.0]"
TRACK_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
PARKED_TRACK_BASE = 1_000_000  # shape B track ids of parked cars: 1,000,000 + n
ERRORS = (
    "Inference timed out",
    "Unable to create neural network model",
    "CUDA error: out of memory",
    "No objects found: image could not be decoded",
)


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    """One generated frame file.

    Attributes:
        relative_path: ``<user_id>-<device_id>/<UTC capture time YYYY-MM-DDTHH-MM-SS.ffffffZ>.json``.
        body: the JSON document, UTF-8 encoded.
        mtime: modification time to give the file, epoch seconds (capture time plus a small delay).
    """

    relative_path: str
    body: bytes
    mtime: float


@dataclass(frozen=True, slots=True)
class Detector:
    """How one detector writes its output."""

    name: str
    version: str
    shape: str  # "A" or "B"
    ms: float  # typical inference time
    tracks: bool = False  # a track id per detection (shape A: Frigate-style text, shape B: integers)
    percent: bool = False  # shape A scores 0-100
    spelling: dict[str, str] = field(default_factory=dict)  # label -> what the detector writes
    pad: int = 100  # shape B: arrays padded to this length
    truncates: bool = False  # shape B: more detections than ``pad`` -> arrays cut, num_detections kept
    clips: bool = True  # boxes clipped to the image
    tail: int = 0  # shape B: up to this many extra detections scoring 0.01-0.2 per frame (a low NMS threshold)


DETECTORS = {
    "A1": Detector("deepstack", "2022.01.1", "A", 95.0),
    "A2": Detector("codeproject-ai-yolov5", "2.6.5", "A", 38.0, spelling={"racoon": "raccoon"}),
    "A3": Detector("frigate-yolonas", "0.14.1", "A", 12.0, tracks=True, clips=False),
    "A4": Detector(
        "aitool-blueiris",
        "2.6.52",
        "A",
        160.0,
        percent=True,
        clips=False,
        spelling={label: label.title() for label in LABEL_MAP.values()} | {"racoon": "Raccoon"},
    ),
    "B1": Detector("ssd_mobilenet_v2_coco", "2.4.1", "B", 45.0),
    "B2": Detector("efficientdet_d0_coco17_tpu", "2.11.0", "B", 28.0, tracks=True, pad=20, clips=False),
    "B3": Detector("ssd_mobilenet_v2_fpnlite_320", "2.13.0", "B", 22.0, pad=10, truncates=True, tail=12),
}


@dataclass(frozen=True, slots=True)
class Device:
    """One camera of the fixed world."""

    user_id: str
    device_id: str
    site_id: str
    utc_offset_min: int  # the site's time zone
    place: str  # door | driveway | garden | backyard | street
    detector: str  # key of DETECTORS
    width: int
    height: int
    image_format: str  # as the collector writes it
    weight: float  # relative share of the frames
    role: str = ""  # the device's deliberate fault, one of ROLES, or ""
    parked_car: bool = False  # a car stands in view every night

    @property
    def folder(self) -> str:
        return f"{self.user_id}-{self.device_id}"


# What each role does (windows are relative to ``start``, in hours):
ROLES = {
    "untagged": "envelope without user_id; 25% also without device_id",
    "no_site": "envelope without site_id",
    "naive_time": "captured_at without offset",
    "drift": "camera clock 6-40 min off during DRIFT_WINDOW_H, 0.2-3 s off otherwise",
    "covered": "lens covered during COVERED_WINDOW_H: contrast ~0.01, no detections",
    "cheap": "bmp/gif images, 160x120 thumbnails, sometimes no captured_at",
    "huge": "3840x2160 png, ~30% above 5,000,000 bytes",
    "silent": "sends nothing during SILENT_WINDOW_H",
}
SILENT_WINDOW_H = (26.0, 35.0)
COVERED_WINDOW_H = (38.0, 52.0)
DRIFT_WINDOW_H = (13.0, 21.0)

# fmt: off
USER_IDS = (
    "u-0007", "u-0013", "u-0021", "u-0042", "u-0058", "u-0103", "u-0117", "u-0150", "u-0204", "u-0233",
    "u-0318", "u-0342", "u-0405", "u-0470", "u-0512", "u-0589", "u-0626", "u-0777", "u-0808", "u-0931",
)
# Site i belongs to user i; sites 21-25 are second homes of users 1-5.
SITE_OFFSETS = (
    "+01:00", "-05:00", "+01:00", "+09:00", "-08:00", "+00:00", "+05:30", "-05:00", "+01:00", "-08:00",
    "+09:00", "+00:00", "+01:00", "-05:00", "+05:30", "-08:00", "+01:00", "+00:00", "-05:00", "+09:00",
    "+01:00", "-05:00", "+10:00", "-03:00", "+01:00",
)
SITE_DETECTORS = (
    "A1", "B3", "A2", "B2", "A3", "A4", "B1", "B2", "A2", "A3", "A4", "B1", "A1",
    "B3", "A2", "B2", "A3", "A4", "B1", "B2", "A1", "B3", "A2", "A3", "A1",
)
RESOLUTIONS = ((1920, 1080), (1920, 1080), (1280, 720), (2560, 1440), (2688, 1520), (640, 480))
# Devices by index in DEVICES: role, or parked car.
DEVICE_ROLES = {
    59: "untagged", 17: "no_site", 19: "naive_time", 22: "drift", 9: "covered", 40: "cheap", 26: "huge",
    11: "silent",
}
PARKED_CAR_DEVICES = (1, 13, 41)
# fmt: on

# Scenes: name -> (weight by day, weight by night) per place.
SCENE_MIX = {
    "door": {"walk": (3, 0.6), "linger": (2, 0.4), "dog_walk": (1, 0), "cat": (0.5, 1), "racoon": (0, 0.5),
             "nothing": (2, 2)},
    "driveway": {"walk": (3, 0.7), "car": (3, 1), "truck": (1, 0.1), "cyclist": (1, 0), "dog_walk": (1, 0),
                 "bird": (1, 0), "linger": (0.5, 0), "cat": (0, 1), "racoon": (0, 0.6), "critters": (0, 0.5),
                 "nothing": (2, 2)},
    "garden": {"walk": (1.5, 0.2), "dog_cross": (3, 0.5), "cat": (1.5, 2), "bird": (3, 0), "flock": (0.5, 0),
               "linger": (0.5, 0), "dog_walk": (0.5, 0), "racoon": (0, 1.5), "critters": (0, 2),
               "nothing": (2, 2)},
    "backyard": {"walk": (1, 0.2), "dog_cross": (3, 0.5), "cat": (1, 2), "bird": (2, 0), "racoon": (0.2, 2),
                 "critters": (0, 2.5), "nothing": (2, 2)},
    "street": {"walk": (4, 1), "crowd": (1, 0.1), "car": (4, 2), "truck": (1.5, 0.3), "cyclist": (2, 0.2),
               "bird": (1, 0), "flock": (0.5, 0), "dog_walk": (1, 0), "cat": (0, 0.5), "racoon": (0, 0.3),
               "nothing": (1, 1.5)},
}  # fmt: skip
# Box size ranges (normalised w, h) per label.
SIZES = {
    "person": ((0.06, 0.16), (0.25, 0.6)),
    "car": ((0.2, 0.45), (0.15, 0.35)),
    "truck": ((0.3, 0.6), (0.25, 0.5)),
    "bicycle": ((0.1, 0.2), (0.1, 0.22)),
    "dog": ((0.08, 0.2), (0.08, 0.16)),
    "cat": ((0.05, 0.12), (0.05, 0.1)),
    "racoon": ((0.06, 0.13), (0.05, 0.11)),
    "bird": ((0.02, 0.05), (0.02, 0.05)),
}
JUNK = ("potted plant", "bench", "chair", "umbrella", "bird", "cat", "person", "dog")
LABEL_IDS = {name: label_id for label_id, name in LABEL_MAP.items()} | {
    "potted plant": 64,
    "bench": 15,
    "chair": 62,
    "umbrella": 28,
}


def _build_devices() -> tuple[Device, ...]:
    """The fixed world: sites 1-10 have 3 cameras, the others 2; numbered per user in site order."""
    rng = random.Random(20261130)
    per_user: dict[str, int] = {}
    devices = []
    for site in range(25):
        user = USER_IDS[site % 20]
        offset = SITE_OFFSETS[site]
        sign = -1 if offset[0] == "-" else 1
        offset_min = sign * (int(offset[1:3]) * 60 + int(offset[4:6]))
        places = ["door", "driveway" if site % 2 == 0 else "garden"]
        if site < 10:
            places.append("street" if site % 2 else "backyard")
        for place in places:
            per_user[user] = per_user.get(user, 0) + 1
            width, height = rng.choice(RESOLUTIONS)
            devices.append(
                Device(
                    user_id=user,
                    device_id=f"cam-{per_user[user]:02d}",
                    site_id=f"site-{site + 1:02d}",
                    utc_offset_min=offset_min,
                    place=place,
                    detector=SITE_DETECTORS[site],
                    width=width,
                    height=height,
                    image_format="png" if rng.random() < 0.1 else "jpeg",
                    weight=round(rng.uniform(0.6, 1.5), 2),
                )
            )
    for index, role in DEVICE_ROLES.items():
        d = devices[index]
        changes: dict = {"role": role}
        if role == "huge":
            changes |= {"width": 3840, "height": 2160, "image_format": "png"}
        elif role == "cheap":
            changes |= {"width": 640, "height": 480}
        elif role == "untagged":
            changes |= {"weight": 0.6}
        devices[index] = replace(d, **changes)
    for index in PARKED_CAR_DEVICES:
        devices[index] = replace(devices[index], parked_car=True, place="driveway")
    devices[12] = replace(devices[12], image_format="JPEG")  # upper case, still a jpeg
    return tuple(devices)


DEVICES = _build_devices()
DEVICE_BY_ROLE = {d.role: d for d in DEVICES if d.role}


def iter_frames(
    count: int, seed: int = 0, start: datetime = DEFAULT_START, days: int = DEFAULT_DAYS
) -> Iterator[GeneratedFile]:
    """Yield ``count`` synthetic frame files of the 60 cameras in ``DEVICES``, in capture-time order.

    Each device gets a fixed share of ``count`` (its weight); its frames are heartbeats plus scenes spread
    over ``days`` days from ``start`` with the day/night rhythm of its site.

    Args:
        count: number of files to yield.
        seed: seed of the private ``random.Random``; the same arguments give the same files.
        start: start of the capture window; naive values are taken as UTC.
        days: length of the capture window in days (scenes may run a few seconds past its end).

    Yields:
        One :class:`GeneratedFile` per frame; relative paths are unique.

    Raises:
        ValueError: if ``count`` is negative or ``days`` below 1.
    """
    if count < 0 or days < 1:
        raise ValueError("count must be >= 0 and days >= 1")
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    start_ms = round(start.timestamp() * 1000)
    span_ms = days * DAY_MS
    rng = random.Random(seed)
    quotas = _quotas(count, [d.weight for d in DEVICES])
    planner = _Planner(rng, start_ms, span_ms)
    plans = [planner.plan(d, n) for d, n in zip(DEVICES, quotas, strict=True)]

    n_devices = len(DEVICES)
    packed = sorted(t * n_devices + i for i, plan in enumerate(plans) for t, _, _ in plan)
    cursor = [0] * n_devices
    writer = _Writer(rng, start_ms)
    for p in packed:
        t, i = divmod(p, n_devices)
        frame = plans[i][cursor[i]]
        cursor[i] += 1
        yield writer.frame(DEVICES[i], i, t, frame[1], frame[2])


def _quotas(count: int, weights: list[float]) -> list[int]:
    """Split ``count`` by ``weights`` (largest remainder; ties to the lower index)."""
    total = sum(weights)
    exact = [count * w / total for w in weights]
    quotas = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (quotas[i] - exact[i], i))
    for i in order[: count - sum(quotas)]:
        quotas[i] += 1
    return quotas


def _window_ms(hours: tuple[float, float]) -> tuple[int, int]:
    return int(hours[0] * HOUR_MS), int(hours[1] * HOUR_MS)


class _Scene:
    """Consecutive frames of one device and the tracks seen in them.

    A track is ``[label, x, y, w, h, dx, dy, score, first, last, track_id]``: box (normalised top-left and
    size) at frame ``first``, moving by ``dx, dy`` per frame, present up to frame ``last``.
    """

    __slots__ = ("kind", "length", "tracks")

    def __init__(self, kind: str, length: int, tracks: list[list]) -> None:
        self.kind = kind
        self.length = length
        self.tracks = tracks


HEARTBEAT = _Scene("heartbeat", 1, [])


class _Planner:
    """Frame times and scenes of one device: ``[(t_ms from start, scene, frame index in scene), ...]``."""

    def __init__(self, rng: random.Random, start_ms: int, span_ms: int) -> None:
        self.rng = rng
        self.start_ms = start_ms
        self.span_ms = span_ms
        self._cum: dict[tuple[int, bool], list[float]] = {}
        self._track_no = 0

    def _intensity(self, offset_min: int, silent: bool) -> list[float]:
        """Cumulative scene-start weight per minute of the window, in the device's local time."""
        key = (offset_min, silent)
        if key not in self._cum:
            minutes = self.span_ms // MINUTE_MS
            local0 = (self.start_ms // MINUTE_MS + offset_min) % 1440
            lo, hi = (w // MINUTE_MS for w in _window_ms(SILENT_WINDOW_H))
            weights = (0.0 if silent and lo <= m < hi else HOURLY[((local0 + m) % 1440) // 60] for m in range(minutes))
            self._cum[key] = list(accumulate(weights))
        return self._cum[key]

    def plan(self, device: Device, n: int) -> list[tuple[int, _Scene, int]]:
        """``n`` frames: evenly spaced heartbeats, then scenes one after the other from drawn start times."""
        rng, span = self.rng, self.span_ms
        silent = device.role == "silent"
        quiet = _window_ms(SILENT_WINDOW_H) if silent else (span + 1, span + 1)
        n_heartbeats = min(int(n * HEARTBEAT_SHARE), span // MIN_HEARTBEAT_MS)
        items: list[tuple[int, _Scene]] = []
        if n_heartbeats:
            step = span / n_heartbeats
            phase = rng.random() * step
            for k in range(n_heartbeats):
                t = int(phase + k * step)
                if not quiet[0] <= t < quiet[1]:
                    items.append((t, HEARTBEAT))
        cum = self._intensity(device.utc_offset_min, silent)
        total = cum[-1]
        mix = SCENE_MIX[device.place]
        day_mix = ([k for k, w in mix.items() if w[0]], list(accumulate(w[0] for w in mix.values() if w[0])))
        night_mix = ([k for k, w in mix.items() if w[1]], list(accumulate(w[1] for w in mix.values() if w[1])))
        left = n - len(items)
        while left > 0:
            minute = bisect(cum, rng.random() * total)
            t = minute * MINUTE_MS + int(rng.random() * MINUTE_MS)
            hour = ((self.start_ms + t) // MINUTE_MS + device.utc_offset_min) % 1440 // 60
            kinds, weights = night_mix if hour in NIGHT_HOURS else day_mix
            scene = self._scene(kinds[bisect(weights, rng.random() * weights[-1])], device)
            if scene.length > left:
                scene.length = left
            left -= scene.length
            items.append((t, scene))
        items.sort(key=lambda item: item[0])

        frames: list[tuple[int, _Scene, int]] = []
        end = -(10**12)
        lo_step, spread = FRAME_STEP_MS[0], FRAME_STEP_MS[1] - FRAME_STEP_MS[0]
        for t, scene in items:
            t = max(t, end + 2000 + int(rng.random() * 3000))
            if t < quiet[1] and t + scene.length * FRAME_STEP_MS[1] > quiet[0]:
                t = quiet[1] + int(rng.random() * 60_000)  # would run into the silence: after it
            for k in range(scene.length):
                frames.append((t, scene, k))
                end = t
                t += lo_step + int(rng.random() * spread)
        return frames

    def _track(self, label: str, length: int, motion: str, score: tuple[float, float]) -> list:
        """One track over ``length`` frames: ``cross`` enters on one side and leaves on the other."""
        rng = self.rng
        (w0, w1), (h0, h1) = SIZES[label]
        w, h = rng.uniform(w0, w1), rng.uniform(h0, h1)
        y = rng.uniform(0.12, 0.88 - h)  # drifts at most 0.1: stays in view
        steps = max(1, length - 1)
        if motion == "cross":
            x0, x1 = -0.5 * w, 1 - 0.5 * w
            if rng.random() < 0.5:
                x0, x1 = x1, x0
            dy = rng.uniform(-0.1, 0.1) / steps
        else:  # stay: small drift around one place
            x0 = rng.uniform(0.05, 0.9 - w)
            x1 = x0 + rng.uniform(-0.05, 0.05)
            dy = 0.0
        self._track_no += 1
        return [label, x0, y, w, h, (x1 - x0) / steps, dy, rng.uniform(*score), 0, length - 1, self._track_no]

    def _scene(self, kind: str, device: Device) -> _Scene:
        rng, track = self.rng, self._track
        good = (0.6, 0.95)
        if kind == "walk":
            n = rng.randint(6, 18)
            tracks = [track("person", n, "cross", good) for _ in range(1 + (rng.random() < 0.2))]
        elif kind == "linger":
            n = rng.randint(30, 90)
            tracks = [track("person", n, "stay", (0.55, 0.9))]
        elif kind in ("car", "truck"):
            n = rng.randint(3, 8) if kind == "car" else rng.randint(4, 10)
            tracks = [track(kind, n, "cross", (0.6, 0.97))]
        elif kind == "cyclist":
            n = rng.randint(4, 10)
            rider = track("person", n, "cross", good)
            bike = track("bicycle", n, "cross", (0.5, 0.9))
            bike[1], bike[2], bike[5] = rider[1], rider[2] + rider[4] * 0.5, rider[5]
            tracks = [rider, bike]
        elif kind == "dog_cross":
            n = rng.randint(12, 18)
            tracks = [track("dog", n, "cross", (0.6, 0.95))]
        elif kind == "dog_walk":
            n = rng.randint(8, 15)
            person = track("person", n, "cross", good)
            dog = track("dog", n, "cross", (0.55, 0.92))
            dog[1], dog[5] = person[1] + (person[3] if person[5] < 0 else -dog[3]), person[5]  # dog in front
            tracks = [person, dog]
        elif kind == "cat":
            n = rng.randint(5, 25)
            tracks = [track("cat", n, "cross" if rng.random() < 0.5 else "stay", (0.5, 0.9))]
        elif kind == "racoon":
            n = rng.randint(8, 25)
            tracks = [track("racoon", n, "stay", (0.5, 0.9))]
        elif kind == "critters":  # the seed's rule 100: dog, cat and racoon all > 80%
            n = rng.randint(10, 20)
            score = (0.82, 0.96) if rng.random() < 0.6 else (0.6, 0.85)
            tracks = [track(label, n, "stay", score) for label in ("dog", "cat", "racoon")]
            late = tracks[rng.randrange(3)]
            late[8] = min(n - 1, rng.randint(0, 3))  # one of them joins a little later
        elif kind == "bird":
            n = rng.randint(1, 6)
            tracks = [track("bird", n, "stay", (0.5, 0.8)) for _ in range(rng.randint(1, 3))]
        elif kind == "flock":
            n = rng.randint(3, 8)
            tracks = [track("bird", n, "cross", (0.45, 0.8)) for _ in range(rng.randint(8, 16))]
        elif kind == "crowd":
            n = rng.randint(5, 12)
            tracks = [track("person", n, "cross", (0.5, 0.92)) for _ in range(rng.randint(6, 14))]
        else:  # nothing: motion from wind, shadows or headlights
            n = rng.randint(1, 4)
            tracks = []
        return _Scene(kind, n, tracks)


EXTENSIONS = {"jpeg": "jpg", "JPEG": "jpg", "png": "png", "bmp": "bmp", "gif": "gif"}


def _device_texts(device: Device) -> tuple[str, str, str, int, Detector, str]:
    """What every frame of ``device`` repeats: folder, opening tags, offset text and ms, detector (+ JSON)."""
    tags = "{"
    if device.role != "untagged":
        tags += f'"user_id": "{device.user_id}", '
    tags += f'"device_id": "{device.device_id}", '
    if device.role != "no_site":
        tags += f'"site_id": "{device.site_id}", '
    m = abs(device.utc_offset_min)
    offset_text = (
        "" if device.role == "naive_time" else f"{'-' if device.utc_offset_min < 0 else '+'}{m // 60:02d}:{m % 60:02d}"
    )
    detector = DETECTORS[device.detector]
    detector_json = f'"detector": {{"name": "{detector.name}", "version": "{detector.version}"}}'
    return device.folder, tags, offset_text, device.utc_offset_min * MINUTE_MS, detector, detector_json


class _Writer:
    """Writes the frame files of one run, drawing everything from one ``random.Random``."""

    def __init__(self, rng: random.Random, start_ms: int) -> None:
        self.rng = rng
        self.start_ms = start_ms
        self._dates: dict[int, str] = {}
        self._clock: dict[str, list[str]] = {}  # separator -> "HH<sep>MM<sep>SS" per second of the day
        self._pads: dict[int, tuple[str, str, str]] = {}
        self._parked: dict[int, list[tuple[int, int, list]]] = {}
        self._track_ids: dict[int, str] = {}
        self._texts = [_device_texts(d) for d in DEVICES]
        self.windows = {role: _window_ms(hours) for role, hours in
                        (("covered", COVERED_WINDOW_H), ("drift", DRIFT_WINDOW_H))}  # fmt: skip

    def _date(self, day: int) -> str:
        text = self._dates.get(day)
        if text is None:
            text = self._dates[day] = date.fromordinal(719163 + day).isoformat()  # 719163: 1970-01-01
        return text

    def _stamp(self, ms: int, sep: str) -> str:
        """``YYYY-MM-DDTHH<sep>MM<sep>SS.mmm`` of epoch milliseconds (already shifted to the wanted zone)."""
        day, rest = divmod(ms, DAY_MS)
        second, milli = divmod(rest, 1000)
        clock = self._clock.get(sep)
        if clock is None:
            clock = self._clock[sep] = [
                f"{s // 3600:02d}{sep}{s // 60 % 60:02d}{sep}{s % 60:02d}" for s in range(86_400)
            ]
        return f"{self._date(day)}T{clock[second]}.{milli:03d}"

    def frame(self, device: Device, index: int, t: int, scene: _Scene, k: int) -> GeneratedFile:
        random_ = self.rng.random
        role = device.role
        folder, tags, offset_text, offset_ms, detector, detector_json = self._texts[index]
        utc_ms = self.start_ms + t
        hour = (utc_ms + offset_ms) // HOUR_MS % 24
        name = self._stamp(utc_ms, "-") + "000Z"

        # captured_at: local time with offset, as the camera's clock says
        camera_ms = utc_ms
        if role == "drift":
            lo, hi = self.windows["drift"]
            if lo <= t < hi:
                camera_ms -= int((6 + 34 * (t - lo) / (hi - lo)) * MINUTE_MS)  # the clock falls behind
            else:
                camera_ms -= 200 + int(random_() * 2800)
        captured = self._stamp(camera_ms + offset_ms, ":") + offset_text

        # image
        width, height, image_format = device.width, device.height, device.image_format
        covered = role == "covered" and self.windows["covered"][0] <= t < self.windows["covered"][1]
        if covered:
            contrast, brightness = 0.004 + random_() * 0.016, 0.01 + random_() * 0.03
        elif hour in IR_HOURS:
            contrast, brightness = 0.15 + random_() * 0.2, 0.08 + random_() * 0.17
            if random_() < P_LOW_CONTRAST * 2:
                contrast = 0.02 + random_() * 0.029
        else:
            contrast, brightness = 0.3 + random_() * 0.35, 0.35 + random_() * 0.35
        if role == "cheap":
            r = random_()
            if r < P_CHEAP_BMP:
                image_format = "bmp"
            elif r < P_CHEAP_BMP + P_CHEAP_GIF:
                image_format = "gif"
            elif r < P_CHEAP_BMP + P_CHEAP_GIF + P_CHEAP_THUMB:
                width, height = 160, 120
        if image_format == "bmp":
            size = width * height * 3 + 54
        elif image_format == "png":
            lo_f, hi_f = P_HUGE_PNG_FACTOR
            size = int(width * height * (lo_f + random_() * (hi_f - lo_f)))
        else:
            size = int(width * height * (0.12 + random_() * 0.18))
        if covered:
            size //= 12

        if role == "untagged" and random_() < P_UNTAGGED_NO_DEVICE:
            tags = f'{{"site_id": "{device.site_id}", '  # no device tag either
        fields = [tags]
        if role != "cheap" or random_() >= P_CHEAP_NO_TIME:
            fields.append(f'"captured_at": "{captured}", ')
        fields.append(
            f'"image": {{"uri": "s3://collector/{folder}/{name}.{EXTENSIONS[image_format]}", '
            f'"format": "{image_format}", "width": {width}, "height": {height}, "size_bytes": {size}, '
            f'"contrast": {int(contrast * 1e4) / 1e4!r}, "brightness": {int(brightness * 1e4) / 1e4!r}}}, '
        )
        fields.append(detector_json)

        detections = [] if covered else self._detections(device, index, t, scene, k)
        ms = int(detector.ms * (7 + random_() * 9)) / 10
        if detector.shape == "A":
            if random_() < P_FAILURE:
                fields.append(f', "success": false, "error": "{ERRORS[int(random_() * len(ERRORS))]}"}}')
            else:
                predictions = self._predictions(device, detector, detections, utc_ms)
                fields.append(f', "success": true, "inferenceMs": {int(ms)}, "predictions": [{predictions}]}}')
        else:
            fields.append(f', {self._arrays(detector, detections)}, "inference_ms": {ms!r}}}')
        return GeneratedFile(
            relative_path=f"{folder}/{name}.json",
            body="".join(fields).encode(),
            mtime=(utc_ms + 200 + int(random_() * 2800)) / 1000,
        )

    def _detections(self, device: Device, index: int, t: int, scene: _Scene, k: int) -> list[tuple]:
        """``(label, score, x_min, y_min, x_max, y_max, track_no)`` (normalised, maybe past the edges)."""
        rng = self.rng
        out = []
        for label, x, y, w, h, dx, dy, score, first, last, track_no in scene.tracks:
            if not first <= k <= last or rng.random() < P_DROPOUT:
                continue
            steps = k - first
            x0 = x + dx * steps + (rng.random() - 0.5) * 0.01
            if x0 + w < 0.02 or x0 > 0.98:
                continue  # not in view yet (or any more)
            y0 = y + dy * steps + (rng.random() - 0.5) * 0.01
            s = score + (rng.random() - 0.5) * 0.1
            out.append((label, min(s, 0.99), x0, y0, x0 + w, y0 + h, track_no))
        if device.parked_car:
            for lo, hi, car in self._parked_nights(device, index):
                if lo <= t < hi:
                    _, x, y, w, h, _, _, score, _, _, track_no = car
                    x0, y0 = x + (rng.random() - 0.5) * 0.004, y + (rng.random() - 0.5) * 0.004
                    s = score + (rng.random() - 0.5) * 0.08
                    out.append(("car", s, x0, y0, x0 + w, y0 + h, track_no))
                    break
        if rng.random() < P_JUNK:
            out.append(self._junk(0.05, 0.45))
        tail = DETECTORS[device.detector].tail
        if tail:
            out.extend(self._junk(0.01, 0.2) for _ in range(int(rng.random() * (tail + 1))))
        return out

    def _junk(self, low: float, high: float) -> tuple:
        """A low-score detection with no track, often of a class visionlake does not know."""
        random_ = self.rng.random
        x0, y0 = random_() * 0.9, random_() * 0.9
        label = JUNK[int(random_() * len(JUNK))]
        return (label, low + random_() * (high - low), x0, y0, x0 + 0.02 + random_() * 0.08,
                y0 + 0.02 + random_() * 0.08, 0)  # fmt: skip

    def _parked_nights(self, device: Device, index: int) -> list[tuple[int, int, list]]:
        """Per local night: (arrives, leaves) in ms from start and the car's track; fixed per run."""
        nights = self._parked.get(index)
        if nights is None:
            rng = self.rng
            offset_ms = device.utc_offset_min * MINUTE_MS
            first_day = (self.start_ms + offset_ms) // DAY_MS
            w, h = rng.uniform(0.3, 0.45), rng.uniform(0.25, 0.35)
            x, y = rng.uniform(0.05, 0.5), rng.uniform(0.45, 0.6)
            nights = []
            for day in range(first_day - 1, first_day + 40):
                midnight = day * DAY_MS - offset_ms - self.start_ms  # local midnight, ms from start
                arrives = midnight + int(rng.uniform(18.5, 22) * HOUR_MS)
                leaves = midnight + DAY_MS + int(rng.uniform(6.75, 8.5) * HOUR_MS)
                track_no = -(index * 1000 + day % 1000 + 1)  # negative: apart from the scenes' tracks
                car = ["car", x, y, w, h, 0.0, 0.0, rng.uniform(0.8, 0.93), 0, 0, track_no]
                nights.append((arrives, leaves, car))
            self._parked[index] = nights
        return nights

    def _track_id(self, utc_ms: int, track_no: int) -> str:
        """Shape A: Frigate-style ``"<epoch seconds>.<micros>-<6 chars>"`` of the track's first frame."""
        text = self._track_ids.get(track_no)
        if text is None:
            chars = "".join(self.rng.choices(TRACK_CHARS, k=6))
            micros = utc_ms % 1000 * 1000 + int(self.rng.random() * 1000)
            text = self._track_ids[track_no] = f'"{utc_ms // 1000}.{micros:06d}-{chars}"'
        return text

    def _predictions(self, device: Device, detector: Detector, detections: list[tuple], utc_ms: int) -> str:
        width, height = device.width, device.height
        items = []
        for label, score, x0, y0, x1, y1, track_no in detections:
            if detector.clips:
                x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, 1.0), min(y1, 1.0)
            conf = repr(int(score * 10000) / 100) if detector.percent else repr(int(score * 10000) / 10000)
            item = (
                f'{{"label": "{detector.spelling.get(label, label)}", "confidence": {conf}, '
                f'"x_min": {int(x0 * width)}, "y_min": {int(y0 * height)}, '
                f'"x_max": {int(x1 * width)}, "y_max": {int(y1 * height)}'
            )
            if detector.tracks and track_no:
                item += f', "track_id": {self._track_id(utc_ms, track_no)}'
            items.append(item + "}")
        return ", ".join(items)

    def _arrays(self, detector: Detector, detections: list[tuple]) -> str:
        """Shape B: ``num_detections`` and the arrays, sorted by score and padded to ``detector.pad``."""
        detections.sort(key=lambda d: -d[1])
        n = len(detections)
        shown = detections[: detector.pad] if detector.truncates else detections
        classes, scores, boxes, tracks = [], [], [], []
        for label, score, x0, y0, x1, y1, track_no in shown:
            if detector.clips:
                x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, 1.0), min(y1, 1.0)
            classes.append(f"{LABEL_IDS[label]}.0")
            scores.append(repr(int(score * 1e6) / 1e6))
            boxes.append(
                f"[{int(y0 * 1e5) / 1e5!r}, {int(x0 * 1e5) / 1e5!r}, {int(y1 * 1e5) / 1e5!r}, {int(x1 * 1e5) / 1e5!r}]"
            )
            tracks.append(str(track_no if track_no > 0 else PARKED_TRACK_BASE - track_no) if track_no else "null")
        pad = max(0, detector.pad - len(shown))
        pads = self._pads.get(pad)
        if pads is None:
            pads = self._pads[pad] = (
                ", ".join([PAD_CLASS] * pad),
                ", ".join(["0.0"] * pad),
                ", ".join([PAD_BOX] * pad),
            )
        joined = [", ".join(classes), ", ".join(scores), ", ".join(boxes)]
        arrays = [f"{a}, {p}" if a and p else a or p for a, p in zip(joined, pads, strict=True)]
        text = (
            f'"num_detections": {n}.0, "detection_classes": [{arrays[0]}], '
            f'"detection_scores": [{arrays[1]}], "detection_boxes": [{arrays[2]}]'
        )
        if detector.tracks:
            text += f', "detection_track_ids": [{", ".join(tracks)}]'
        return text
