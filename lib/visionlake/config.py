"""Configuration: ``conf/base.yaml`` + ``conf/<env>.yaml`` + environment variables -> one frozen object.

Precedence, lowest first: base.yaml, the environment's overlay, the standard AWS variables for storage,
then ``VISIONLAKE__<SECTION>__<KEY>`` variables (values parsed as YAML scalars). Credentials are never
part of the config: boto3, Spark's S3A and delta-rs read them from the environment themselves.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from visionlake.errors import ConfigError

CONF_DIR_ENV = "VISIONLAKE_CONF_DIR"
DEFAULT_CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
OVERRIDE_PREFIX = "VISIONLAKE__"


@dataclass(frozen=True)
class SparkSettings:
    master: str | None
    conf: Mapping[str, str]


@dataclass(frozen=True)
class StorageSettings:
    """Where object storage is and how to talk to it; shared by S3A, boto3 and delta-rs."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    path_style: bool = False
    allow_http: bool = False
    retry_seconds: float = 120.0  # how long an operation on object storage is retried (with backoff) before failing


@dataclass(frozen=True)
class LakeSettings:
    writer: str = "auto"
    max_file_mb: int = 128
    compact_target_mb: int = 128
    retain_hours: float = 168.0
    min_retain_hours: float = 168.0
    lease_wait_seconds: float = 900.0
    lease_ttl_seconds: float = 120.0
    heap_cache_mb: int = 0

    def __post_init__(self) -> None:
        if self.heap_cache_mb < 0:
            raise ConfigError(f"lake.heap_cache_mb must be 0 (never) or more, not {self.heap_cache_mb}")


@dataclass(frozen=True)
class IngestSettings:
    target_task_mb: int = 64
    min_tasks: int = 2
    read_threads: int = 32
    suffix: str = ".json"
    quick_start_mb: int = 256
    interpret_below_mb: int = 4
    read_retry_seconds: float = 10.0


@dataclass(frozen=True)
class AlprSettings:
    low_confidence_threshold: float = 70.0
    hourly_price: float = 0.44


def _is_zone(name: object) -> bool:
    """Whether ``name`` is an IANA time zone that both Python and Spark's JVM read. Python's zoneinfo also reads
    the tz database's build variants (``posix/...``, ``right/...``) and files (``localtime``, ``Factory``), which
    Java does not: until Dec 6 such a zone passed here and failed every run at its first Spark job."""
    zone = str(name)
    if zone.split("/")[0] in ("posix", "right") or zone in ("localtime", "Factory", "posixrules"):
        return False
    try:
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        return False
    return True


@dataclass(frozen=True)
class FaceValidationSettings:
    local_timezone: str = "America/Bogota"
    suffixes: tuple[str, ...] = (".json", ".jsonl", ".ndjson")
    client_names: Mapping[str, str] = field(default_factory=dict)  # client GUID as the API sends it -> name

    def __post_init__(self) -> None:
        if not _is_zone(self.local_timezone):
            raise ConfigError(
                f"face_validation.local_timezone is {self.local_timezone!r}, which is no IANA time zone "
                "(such as America/Bogota)"
            )
        object.__setattr__(self, "suffixes", tuple(self.suffixes))
        names = self.client_names or {}
        if not isinstance(names, Mapping):
            raise ConfigError("face_validation.client_names must map client GUIDs to display names")
        object.__setattr__(self, "client_names", {str(k): str(v) for k, v in names.items()})


@dataclass(frozen=True)
class ImageValidationSettings:
    """What a frame's image must be to count (detections): failing any rule sends it to ``invalid_images``."""

    formats: tuple[str, ...] = ("jpeg", "png")
    min_width: int = 320
    min_height: int = 240
    max_size_bytes: int = 5_000_000
    min_contrast: float = 0.05
    max_clock_skew_seconds: float = 300.0  # file-name time vs captured_at

    def __post_init__(self) -> None:
        object.__setattr__(self, "formats", tuple(str(f).lower() for f in self.formats))


@dataclass(frozen=True)
class NotifySettings:
    """How ``visionlake notify detections`` delivers alerts."""

    timeout_seconds: float = 10.0
    max_attempts: int = 5
    backoff_seconds: float = 1.0  # doubled after each failed attempt


@dataclass(frozen=True)
class DetectionsSettings:
    min_score: float = 0.5  # detections below this score are not objects (Frigate's min_score)
    episode_gap_seconds: float = 60.0  # matching frames further apart than this start a new threat episode
    silence_alert_minutes: float = 120.0  # device_health flags a device silent longer than this
    invalid_alert_share: float = 0.5  # ... or whose frames are invalid more often than this
    redecide_from_rows: int = 100_000  # gold decides only what new matches touch once it holds this many decisions
    rules_file: str = "rules/threats.yaml"  # relative to the conf folder, or absolute
    validation: ImageValidationSettings = field(default_factory=ImageValidationSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    # site_id -> IANA time zone: a site's frames are timed in its zone (its schedules, local dates), whatever
    # offset a frame carries (a collector writing UTC); a frame without an offset is read as the zone's wall time
    site_time_zones: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, cls in (("validation", ImageValidationSettings), ("notify", NotifySettings)):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, _section(cls, value, f"detections.{name}"))
        zones = self.site_time_zones or {}
        if not isinstance(zones, Mapping):
            raise ConfigError("detections.site_time_zones must map site ids to time zones (site-07: Europe/Berlin)")
        for site, zone in zones.items():
            if not _is_zone(zone):
                raise ConfigError(
                    f"detections.site_time_zones: site {site!r} has {zone!r}, which is no IANA time zone "
                    "(such as America/New_York)"
                )
        object.__setattr__(self, "site_time_zones", {str(k): str(v) for k, v in zones.items()})


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: object, where: str) -> int:
    """``30s``, ``5m``, ``1h``, ``3d`` (or a number of seconds) -> whole seconds.

    Raises:
        ConfigError: anything else.
    """
    if isinstance(text, int | float) and not isinstance(text, bool) and text > 0:
        return int(text)
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"{where}: '{text}' is not a duration such as 30s, 5m, 1h or 3d")
    return int(float(match.group(1)) * _SECONDS[match.group(2)])


@dataclass(frozen=True)
class BurnRule:
    """A multiwindow burn-rate rule: it fires when both windows burn the error budget at ``factor`` or more."""

    long: int  # seconds
    short: int
    factor: float
    severity: str = "page"


DEFAULT_BURN_RULES = (
    BurnRule(3600, 300, 14.4, "page"),
    BurnRule(21600, 1800, 6.0, "page"),
    BurnRule(259200, 21600, 1.0, "ticket"),
)


@dataclass(frozen=True)
class FaceRecognitionSettings:
    suffixes: tuple[str, ...] = (".jsonl", ".json", ".ndjson", ".log")
    latency_target_ms: float = 1000.0  # a request slower than this is not good for the latency SLO
    availability_slo: float = 0.9999  # share of requests that must not fail with a 5xx
    latency_slo: float = 0.99  # share of requests that must be under the latency target
    slo_window_days: int = 30  # the error budget's window
    burn_min_requests: int = 100  # a burn-rate rule needs this many requests in its long window to fire
    burn_rules: tuple[BurnRule, ...] = DEFAULT_BURN_RULES
    threshold_grid: tuple[float, ...] = tuple(round(0.4 + 0.05 * i, 2) for i in range(25))  # 0.40 .. 1.60
    k6_thresholds: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {"http_req_duration": ("p(95)<3000",), "http_req_failed": ("rate<0.05",)}
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "suffixes", tuple(self.suffixes))
        for name in ("availability_slo", "latency_slo"):
            if not 0 < float(getattr(self, name)) < 1:
                raise ConfigError(f"face_recognition.{name} must be a share between 0 and 1 (e.g. 0.999)")
        rules = []
        for i, rule in enumerate(self.burn_rules):
            if isinstance(rule, BurnRule):
                rules.append(rule)
                continue
            where = f"face_recognition.burn_rules[{i}]"
            if not isinstance(rule, Mapping) or set(rule) - {"long", "short", "factor", "severity"}:
                raise ConfigError(f"{where} must be a mapping of long, short, factor and severity")
            rules.append(
                BurnRule(
                    duration_seconds(rule.get("long"), f"{where}.long"),
                    duration_seconds(rule.get("short"), f"{where}.short"),
                    float(rule.get("factor", 0)),
                    str(rule.get("severity", "page")),
                )
            )
        # burn_rate_alerts tells rules by their windows (until Dec 6 two rules on one pair gave alerts its unique
        # check failed on, which held back gold on every run)
        for i, rule in enumerate(rules):
            earlier = next((j for j, r in enumerate(rules[:i]) if (r.long, r.short) == (rule.long, rule.short)), None)
            if earlier is not None:
                raise ConfigError(
                    f"face_recognition.burn_rules[{i}] has the windows of burn_rules[{earlier}] ({rule.long} s and "
                    f"{rule.short} s): give each rule its own pair of windows"
                )
        object.__setattr__(self, "burn_rules", tuple(rules))
        grid = tuple(sorted(float(t) for t in self.threshold_grid))
        if not all(math.isfinite(t) for t in grid):  # until Dec 6 refused only by gold, once bronze had committed
            raise ConfigError("face_recognition.threshold_grid must hold finite numbers (a NaN or infinity is none)")
        object.__setattr__(self, "threshold_grid", grid)
        limits = self.k6_thresholds or {}
        if not isinstance(limits, Mapping):
            raise ConfigError("face_recognition.k6_thresholds must map k6 metric names to threshold expressions")
        object.__setattr__(
            self,
            "k6_thresholds",
            {str(k): (v,) if isinstance(v, str) else tuple(str(x) for x in v) for k, v in limits.items()},
        )


SESSION_TIME_ZONE = "spark.sql.session.timeZone"
SECTIONS = {"spark", "storage", "lake", "ingest", "alpr", "face_validation", "detections", "face_recognition"}


@dataclass(frozen=True)
class Config:
    env: str
    spark: SparkSettings
    storage: StorageSettings = field(default_factory=StorageSettings)
    lake: LakeSettings = field(default_factory=LakeSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    alpr: AlprSettings = field(default_factory=AlprSettings)
    face_validation: FaceValidationSettings = field(default_factory=FaceValidationSettings)
    detections: DetectionsSettings = field(default_factory=DetectionsSettings)
    face_recognition: FaceRecognitionSettings = field(default_factory=FaceRecognitionSettings)
    conf_dir: Path = DEFAULT_CONF_DIR

    def rules_path(self) -> Path:
        """The threat rules file of ``detections.rules_file``."""
        path = Path(self.detections.rules_file)
        return path if path.is_absolute() else self.conf_dir / path


def _deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    return data


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """The standard AWS variables first, then VISIONLAKE__SECTION__KEY variables."""
    overrides: dict[str, Any] = {}
    endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    storage: dict[str, Any] = {}
    if endpoint:
        storage["endpoint_url"] = endpoint
    if region:
        storage["region"] = region
    if storage:
        overrides["storage"] = storage
    for name, raw in environ.items():
        if not name.startswith(OVERRIDE_PREFIX):
            continue
        keys = [k.lower() for k in name[len(OVERRIDE_PREFIX) :].split("__") if k]
        if len(keys) < 2:
            raise ConfigError(f"{name}: expected {OVERRIDE_PREFIX}<SECTION>__<KEY>")
        node = overrides
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = yaml.safe_load(raw)
    return overrides


def _section(cls: type, data: Mapping[str, Any] | None, name: str) -> Any:
    data = dict(data or {})
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) in '{name}': {', '.join(unknown)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"section '{name}': {exc}") from exc


def _storage(data: Mapping[str, Any] | None) -> StorageSettings:
    data = dict(data or {})
    endpoint = data.get("endpoint_url") or None
    if data.get("path_style") is None:
        data["path_style"] = endpoint is not None
    if data.get("allow_http") is None:
        data["allow_http"] = bool(endpoint and endpoint.startswith("http://"))
    data["endpoint_url"] = endpoint
    data["region"] = data.get("region") or "us-east-1"
    return _section(StorageSettings, data, "storage")


def load_config(env: str = "local", environ: Mapping[str, str] | None = None) -> Config:
    """Load the configuration of ``env``.

    Args:
        env: name of the overlay in the conf folder (local, minio, emr, ...).
        environ: the environment to read variables from; ``os.environ`` when omitted.

    Raises:
        ConfigError: the overlay does not exist, a file is not valid YAML or a setting is unknown.
    """
    environ = os.environ if environ is None else environ
    conf_dir = Path(environ.get(CONF_DIR_ENV) or DEFAULT_CONF_DIR)
    overlay_path = conf_dir / f"{env}.yaml"
    if not overlay_path.is_file():
        known = sorted(p.stem for p in conf_dir.glob("*.yaml") if p.stem != "base")
        raise ConfigError(f"unknown environment '{env}' (no {overlay_path}); known: {', '.join(known)}")
    data = _deep_merge(_read_yaml(conf_dir / "base.yaml"), _read_yaml(overlay_path))
    data = _deep_merge(data, _env_overrides(environ))
    unknown = sorted(set(data) - SECTIONS)
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(unknown)}")
    spark = data.get("spark") or {}
    spark_conf = {str(k): str(v) for k, v in (spark.get("conf") or {}).items()}
    # every table stores UTC instants and cuts its dates in UTC (to_date, hour buckets read the session's zone):
    # another zone would date the rows of one lake differently from run to run
    zone = spark_conf.setdefault(SESSION_TIME_ZONE, "UTC")
    if zone.upper() not in ("UTC", "ETC/UTC", "GMT", "ETC/GMT", "Z", "+00:00"):
        raise ConfigError(f"spark.conf {SESSION_TIME_ZONE} must be UTC, not '{zone}': the lake's dates are UTC dates")
    return Config(
        env=env,
        spark=SparkSettings(master=spark.get("master"), conf=spark_conf),
        storage=_storage(data.get("storage")),
        lake=_section(LakeSettings, data.get("lake"), "lake"),
        ingest=_section(IngestSettings, data.get("ingest"), "ingest"),
        alpr=_section(AlprSettings, data.get("alpr"), "alpr"),
        face_validation=_section(FaceValidationSettings, data.get("face_validation"), "face_validation"),
        detections=_section(DetectionsSettings, data.get("detections"), "detections"),
        face_recognition=_section(FaceRecognitionSettings, data.get("face_recognition"), "face_recognition"),
        conf_dir=conf_dir,
    )
