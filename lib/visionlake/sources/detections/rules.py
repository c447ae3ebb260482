"""Threat rules: the YAML file, its validation, the rule versions of silver ``rules`` and the Spark rules frame.

A rules file (``conf/rules/threats.yaml``) holds ``rules:``, a list of mappings::

    rules:
      - rule_id: 100                   # int, unique
        name: Animals in the garden
        labels: [dog, cat, racoon]     # schema.LABELS; aliases such as raccoon accepted
        quantifier: ALL                # ALL: every label in the frame; ANY: at least one
        min_score: "80%"               # 0 < x <= 1, or a percentage
        min_area_fraction: 0.01        # optional, 0 < x <= 1
        scope: {users: [u-0001], devices: [cam-01], sites: [site-01]}   # optional; absent = global
        schedule:                      # optional; absent = always; local time of the site
          - {days: [fri], start: "22:00", end: "06:00"}                # end < start: into the next day
        severity: warning              # critical | error | warning | info; critical ignores the schedule
        cooldown_minutes: 10           # optional, int from 0 to 527,040 (a year), default 0

:func:`parse_rules` refuses a malformed rule with a :class:`ConfigError` ``<file>: rule <id>: key '<key>':
<message>`` (``rule #<n>`` when the rule has no usable ``rule_id``), before any Spark work. Days are ``mon`` to
``sun`` (full names too) or the shortcuts ``all``, ``weekdays``, ``weekends``; ``days`` absent = every day.
Schedule windows are kept split by day: ``(weekday 1=Mon..7=Sun, start_min, end_min)``, end exclusive, a
window across midnight split into two with the next weekday (Sunday's goes to Monday).

Silver ``rules`` is a slowly changing dimension: one row per rule version with the canonical JSON of the
normalised rule (:func:`rule_json`) and its SHA-256 (:func:`content_hash`); :func:`plan_versions` gives its next
content and :func:`rules_frame` turns its rows into the typed frame that episodes consume.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from visionlake.errors import ConfigError
from visionlake.sources.detections.schema import LABEL_ALIASES, LABELS

QUANTIFIERS = ("ALL", "ANY")
SEVERITIES = ("critical", "error", "warning", "info")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # weekday 1..7, as Spark's dayofweek is not (Sun=1)
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_SHORTCUTS = {"all": DAYS, "weekdays": DAYS[:5], "weekends": DAYS[5:]}
REQUIRED_KEYS = ("rule_id", "name", "labels", "quantifier", "min_score", "severity")
OPTIONAL_KEYS = ("min_area_fraction", "scope", "schedule", "cooldown_minutes")
MAX_INT = 2**31 - 1  # rule_id is an int column of the rules table
MAX_COOLDOWN = 366 * 24 * 60  # minutes: a year (a longer cooldown reaches past the dates a run can compute with)
KEYS = REQUIRED_KEYS + OPTIONAL_KEYS
SCOPE_KEYS = ("users", "devices", "sites")
WINDOW_KEYS = ("days", "start", "end")
MINUTES_PER_DAY = 24 * 60


class Window(NamedTuple):
    """Part of a schedule within one local day: minutes ``[start_min, end_min)`` of ``weekday`` (1=Mon..7=Sun)."""

    weekday: int
    start_min: int
    end_min: int


@dataclass(frozen=True)
class Rule:
    """A validated, normalised rule: labels sorted and de-aliased, scores as 0-1, scope lists sorted
    (``None`` = any), schedule windows split by day and sorted (``None`` = always)."""

    rule_id: int
    name: str
    labels: tuple[str, ...]
    quantifier: str
    min_score: float
    severity: str
    min_area_fraction: float | None = None
    scope_users: tuple[str, ...] | None = None
    scope_devices: tuple[str, ...] | None = None
    scope_sites: tuple[str, ...] | None = None
    windows: tuple[Window, ...] | None = None
    cooldown_minutes: int = 0


# ------------------------------------------------------------------------------------------------
# lake schemas

RULES_TABLE_SCHEMA = T.StructType(
    [
        T.StructField("rule_id", T.IntegerType(), False),
        T.StructField("version", T.IntegerType(), False),
        T.StructField("valid_from", T.TimestampType(), False),
        T.StructField("valid_to", T.TimestampType(), True),  # null = the current version
        T.StructField("name", T.StringType(), False),
        T.StructField("severity", T.StringType(), False),
        T.StructField("rule_json", T.StringType(), False),
        T.StructField("content_hash", T.StringType(), False),
    ]
)
TABLE_COLUMNS = tuple(RULES_TABLE_SCHEMA.fieldNames())

WINDOW = T.StructType(
    [
        T.StructField("weekday", T.IntegerType()),
        T.StructField("start_min", T.IntegerType()),
        T.StructField("end_min", T.IntegerType()),
    ]
)
RULES_SCHEMA = T.StructType(
    [
        T.StructField("rule_id", T.IntegerType(), False),
        T.StructField("rule_version", T.IntegerType(), False),
        T.StructField("valid_from", T.TimestampType(), False),
        T.StructField("valid_to", T.TimestampType(), True),
        T.StructField("name", T.StringType(), False),
        T.StructField("labels", T.ArrayType(T.StringType()), False),
        T.StructField("quantifier", T.StringType(), False),
        T.StructField("min_score", T.DoubleType(), False),
        T.StructField("min_area_fraction", T.DoubleType(), True),
        T.StructField("scope_users", T.ArrayType(T.StringType()), True),
        T.StructField("scope_devices", T.ArrayType(T.StringType()), True),
        T.StructField("scope_sites", T.ArrayType(T.StringType()), True),
        T.StructField("windows", T.ArrayType(WINDOW), True),
        T.StructField("severity", T.StringType(), False),
        T.StructField("cooldown_minutes", T.IntegerType(), False),
    ]
)

# ------------------------------------------------------------------------------------------------
# loading and validation


class _RulesLoader(yaml.SafeLoader):
    """SafeLoader that keeps ``22:00`` as text (YAML 1.1 reads it as the base-60 number 1320) and refuses a key
    given twice in one mapping (PyYAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key '{key_node.value}'", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)


_CLOCK = re.compile(r"^[0-9]{1,2}:[0-9]{2}$")
_RulesLoader.yaml_implicit_resolvers = {
    first: ([("tag:yaml.org,2002:str", _CLOCK)] if first.isdigit() else []) + list(resolvers)
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_rules(path: str | Path) -> list[Rule]:
    """The rules of a YAML rules file, validated and normalised, in file order.

    Raises:
        ConfigError: the file is missing, is not valid YAML, or a rule is malformed (see :func:`parse_rules`).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the rules file: {exc.strerror or exc}") from exc
    try:
        data = yaml.load(text, Loader=_RulesLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_rules(data, str(path))


def parse_rules(data: Any, source: str) -> list[Rule]:
    """Validate and normalise the parsed content of a rules file (``{"rules": [...]}``); ``source`` names the
    file in messages.

    Raises:
        ConfigError: ``<source>: rule <id>: key '<key>': <message>`` for the first problem found.
    """
    if not isinstance(data, Mapping) or "rules" not in data:
        raise ConfigError(f"{source}: a rules file must be a mapping with a 'rules' list")
    unknown = [str(k) for k in data if k != "rules"]
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key '{unknown[0]}' (known keys: rules)")
    entries = data["rules"]
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: 'rules' must be a list of rules, not {type(entries).__name__}")
    rules: list[Rule] = []
    positions: dict[int, int] = {}
    for number, entry in enumerate(entries, start=1):
        rule = _parse_rule(entry, source, number, positions)
        rules.append(rule)
    return rules


def _parse_rule(entry: Any, source: str, number: int, positions: dict[int, int]) -> Rule:
    label = f"#{number}"

    def fail(key: str, message: str) -> NoReturn:
        raise ConfigError(f"{source}: rule {label}: key '{key}': {message}")

    if not isinstance(entry, Mapping):
        raise ConfigError(f"{source}: rule {label}: a rule must be a mapping of keys, not {entry!r}")
    if "rule_id" not in entry:
        fail("rule_id", f"missing required key (required keys: {', '.join(REQUIRED_KEYS)})")
    rule_id = entry["rule_id"]
    if isinstance(rule_id, bool) or not isinstance(rule_id, int) or not 1 <= rule_id <= MAX_INT:
        fail("rule_id", f"must be an integer from 1 to {MAX_INT:,}, not {rule_id!r}")
    label = str(rule_id)
    if rule_id in positions:
        fail("rule_id", f"duplicate rule_id {rule_id} (rules #{positions[rule_id]} and #{number} of the file)")
    positions[rule_id] = number
    for key in entry:
        if key not in KEYS:
            fail(str(key), f"unknown key (known keys: {', '.join(sorted(KEYS))})")
    for key in REQUIRED_KEYS:
        if key not in entry or entry[key] is None:
            fail(key, f"missing required key (required keys: {', '.join(REQUIRED_KEYS)})")

    name = entry["name"]
    if not isinstance(name, str) or not name.strip():
        fail("name", f"must be a non-empty text, not {name!r}")
    quantifier = entry["quantifier"]
    if not isinstance(quantifier, str) or quantifier.strip().upper() not in QUANTIFIERS:
        fail("quantifier", f"must be ALL or ANY, not {quantifier!r}")
    severity = entry["severity"]
    if not isinstance(severity, str) or severity.strip().lower() not in SEVERITIES:
        fail("severity", f"must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    cooldown = entry.get("cooldown_minutes")
    if cooldown is None:
        cooldown = 0
    if isinstance(cooldown, bool) or not isinstance(cooldown, int) or not 0 <= cooldown <= MAX_COOLDOWN:
        fail("cooldown_minutes", f"must be an integer from 0 to {MAX_COOLDOWN:,} (a year), not {cooldown!r}")
    area = entry.get("min_area_fraction")
    scope = entry.get("scope")
    scopes = _scope(scope, lambda m: fail("scope", m)) if scope is not None else {}
    schedule = entry.get("schedule")
    return Rule(
        rule_id=rule_id,
        name=name.strip(),
        labels=_labels(entry["labels"], lambda m: fail("labels", m)),
        quantifier=quantifier.strip().upper(),
        min_score=_fraction(entry["min_score"], lambda m: fail("min_score", m)),
        severity=severity.strip().lower(),
        min_area_fraction=None if area is None else _fraction(area, lambda m: fail("min_area_fraction", m)),
        scope_users=scopes.get("users"),
        scope_devices=scopes.get("devices"),
        scope_sites=scopes.get("sites"),
        windows=None if schedule is None else _schedule(schedule, lambda m: fail("schedule", m)),
        cooldown_minutes=cooldown,
    )


Fail = Callable[[str], NoReturn]


def _labels(value: Any, fail: Fail) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        fail(f"must be a non-empty list of labels, not {value!r}")
    labels = set()
    for item in value:
        text = str(item).strip().lower()
        text = LABEL_ALIASES.get(text, text)
        if text not in LABELS:
            aliases = ", ".join(f"{a} = {b}" for a, b in sorted(LABEL_ALIASES.items()))
            fail(f"unknown label {item!r} (known labels: {', '.join(sorted(LABELS))}; aliases: {aliases})")
        labels.add(text)
    return tuple(sorted(labels))


_PERCENT = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*%$")


def _fraction(value: Any, fail: Fail) -> float:
    """A number 0 < x <= 1, or a percentage text ``"80%"`` as 0.8."""
    if isinstance(value, str):
        text = value.strip()
        match = _PERCENT.match(text)
        if match:
            percent = float(match.group(1))
            if not 0 < percent <= 100:
                fail(f'must be > 0% and <= 100%, not "{text}"')
            return percent / 100
        try:
            value = float(text)
        except ValueError:
            fail(f'must be a number > 0 and <= 1 or a percentage such as "80%", not {value!r}')
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        fail(f'must be a number > 0 and <= 1 or a percentage such as "80%", not {value!r}')
    number = float(value)
    if 0 < number <= 1:
        return number
    hint = f' (for {number:g} percent write "{number:g}%")' if 1 < number <= 100 else ""
    fail(f"must be > 0 and <= 1, not {number:g}{hint}")


def _scope(value: Any, fail: Fail) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping) or not value:
        fail(f"must be a mapping of users, devices and/or sites lists (omit it for a global rule), not {value!r}")
    scopes = {}
    for key, ids in value.items():
        if key not in SCOPE_KEYS:
            fail(f"unknown key '{key}' (known keys: {', '.join(sorted(SCOPE_KEYS))})")
        if not isinstance(ids, list) or not ids or any(i is None or isinstance(i, Mapping | list) for i in ids):
            fail(f"{key} must be a non-empty list of ids (omit it for any), not {ids!r}")
        scopes[key] = tuple(sorted({str(i).strip() for i in ids}))
    return scopes


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _minute(value: Any, what: str, fail: Fail, is_end: bool) -> int:
    if not isinstance(value, str):
        number = isinstance(value, int) and not isinstance(value, bool)
        hint = ' (write times in quotes, e.g. "22:00")' if number else ""
        fail(f'{what} must be a time "HH:MM", not {value!r}{hint}')
    match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", value.strip())
    hours, minutes = (int(match.group(1)), int(match.group(2))) if match else (99, 99)
    limit = "00:00 to 24:00" if is_end else "00:00 to 23:59"
    if not match or minutes > 59 or hours > 24 or (hours == 24 and (minutes or not is_end)):
        fail(f'{what} must be a time "HH:MM" from {limit}, not {value!r}')
    return hours * 60 + minutes


def _days(value: Any, fail: Fail) -> tuple[list[int], str]:
    """The weekdays (1..7) of a window's ``days``, and the days as written (for messages)."""
    items = [value] if isinstance(value, str) else value
    known = ", ".join(DAYS + tuple(DAY_SHORTCUTS))
    if not isinstance(items, list) or not items:
        fail(f"days must be a non-empty list of {known}; not {value!r}")
    weekdays: set[int] = set()
    for item in items:
        text = str(item).strip().lower()
        if text in DAY_SHORTCUTS:
            weekdays.update(DAYS.index(d) + 1 for d in DAY_SHORTCUTS[text])
        elif text in DAYS:
            weekdays.add(DAYS.index(text) + 1)
        elif text in DAY_NAMES:
            weekdays.add(DAY_NAMES.index(text) + 1)
        else:
            fail(f"unknown day {item!r} (known days: {known})")
    return sorted(weekdays), ",".join(str(i).strip().lower() for i in items)


def _schedule(value: Any, fail: Fail) -> tuple[Window, ...]:
    if not isinstance(value, list) or not value:
        fail(f"must be a non-empty list of windows {{days, start, end}} (omit it for always), not {value!r}")
    parts: list[tuple[Window, int]] = []  # (window within a day, number of the written window)
    written: list[str] = []
    for number, window in enumerate(value, start=1):

        def bad(message: str, number: int = number) -> NoReturn:
            fail(f"window {number}: {message}")

        if not isinstance(window, Mapping):
            bad(f"must be a mapping with days, start and end, not {window!r}")
        for key in window:
            if key not in WINDOW_KEYS:
                bad(f"unknown key '{key}' (known keys: {', '.join(sorted(WINDOW_KEYS))})")
        for key in ("start", "end"):
            if key not in window:
                bad(f"missing required key '{key}'")
        weekdays, days_text = _days(window["days"], bad) if "days" in window else (list(range(1, 8)), "all")
        start = _minute(window["start"], "start", bad, is_end=False)
        end = _minute(window["end"], "end", bad, is_end=True)
        if start == end:
            bad(f"start and end are both {_clock(start)} (for the whole day write 00:00 to 24:00)")
        written.append(f"{days_text} {_clock(start)}-{_clock(end)}")
        for day in weekdays:
            if start < end:
                parts.append((Window(day, start, end), number))
            else:  # across midnight: the rest of the day, then the next day's morning
                parts.append((Window(day, start, MINUTES_PER_DAY), number))
                if end > 0:
                    parts.append((Window(day % 7 + 1, 0, end), number))
    for i, (one, first) in enumerate(parts):
        for other, second in parts[i + 1 :]:
            if first != second and one.weekday == other.weekday:
                low, high = max(one.start_min, other.start_min), min(one.end_min, other.end_min)
                if low < high:
                    fail(
                        f"windows {first} ({written[first - 1]}) and {second} ({written[second - 1]}) overlap on "
                        f"{DAYS[one.weekday - 1]} {_clock(low)}-{_clock(high)}"
                    )
    return tuple(sorted(w for w, _ in parts))


# ------------------------------------------------------------------------------------------------
# canonical form


def _as_dict(rule: Rule) -> dict[str, Any]:
    def listed(values: tuple | None) -> list | None:
        return None if values is None else list(values)

    windows = None if rule.windows is None else [w._asdict() for w in rule.windows]
    return {
        "rule_id": rule.rule_id,
        "name": rule.name,
        "labels": list(rule.labels),
        "quantifier": rule.quantifier,
        "min_score": rule.min_score,
        "min_area_fraction": rule.min_area_fraction,
        "scope_users": listed(rule.scope_users),
        "scope_devices": listed(rule.scope_devices),
        "scope_sites": listed(rule.scope_sites),
        "windows": windows,
        "severity": rule.severity,
        "cooldown_minutes": rule.cooldown_minutes,
    }


def rule_json(rule: Rule) -> str:
    """The canonical JSON of a normalised rule: sorted keys, no spaces, every field present (null when unset)."""
    return json.dumps(_as_dict(rule), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(rule: Rule) -> str:
    """SHA-256 (hex) of :func:`rule_json`: equal for two files that say the same thing in different words."""
    return hashlib.sha256(rule_json(rule).encode("utf-8")).hexdigest()


def rule_from_json(text: str) -> Rule:
    """The rule a :func:`rule_json` text describes (trusted: it was validated before it was stored)."""
    data = json.loads(text)

    def tupled(values: list | None) -> tuple | None:
        return None if values is None else tuple(values)

    windows = data.get("windows")
    return Rule(
        rule_id=int(data["rule_id"]),
        name=data["name"],
        labels=tuple(data["labels"]),
        quantifier=data["quantifier"],
        min_score=float(data["min_score"]),
        severity=data["severity"],
        min_area_fraction=None if data.get("min_area_fraction") is None else float(data["min_area_fraction"]),
        scope_users=tupled(data.get("scope_users")),
        scope_devices=tupled(data.get("scope_devices")),
        scope_sites=tupled(data.get("scope_sites")),
        windows=None if windows is None else tuple(Window(w["weekday"], w["start_min"], w["end_min"]) for w in windows),
        cooldown_minutes=int(data.get("cooldown_minutes") or 0),
    )


# ------------------------------------------------------------------------------------------------
# versions (silver rules, a slowly changing dimension)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def plan_versions(rules: Sequence[Rule], existing: Sequence[Mapping] | None, now: datetime) -> list[dict] | None:
    """The whole next content of silver ``rules`` after loading ``rules`` at ``now``, or ``None`` when nothing
    changed.

    A current row (``valid_to`` null) stays as it is while its rule's :func:`content_hash` is the same. A changed
    rule's current row is closed (``valid_to = now``) and a row ``version + 1`` opens at ``now``; a new rule gets
    version 1; a removed rule's current row is closed; a rule that comes back after removal gets the next version.
    Earlier rows are kept unchanged. Rows are sorted by ``rule_id`` and ``version``. Naive datetimes are taken as
    UTC when compared.

    Raises:
        ValueError: two rules share a ``rule_id``, or ``now`` is before the ``valid_from`` of a row to close.
    """
    by_id = {rule.rule_id: rule for rule in rules}
    if len(by_id) != len(rules):
        raise ValueError("plan_versions: two rules share a rule_id")
    rows = [{column: row[column] for column in TABLE_COLUMNS} for row in existing or []]
    latest: dict[int, int] = {}
    for row in rows:
        latest[row["rule_id"]] = max(latest.get(row["rule_id"], 0), row["version"])
    kept: set[int] = set()
    changed = False
    for row in rows:
        if row["valid_to"] is not None:
            continue
        rule = by_id.get(row["rule_id"])
        current = row["version"] == latest[row["rule_id"]] and row["rule_id"] not in kept
        if rule is not None and current and row["content_hash"] == content_hash(rule):
            kept.add(rule.rule_id)
            continue
        if _utc(now) < _utc(row["valid_from"]):
            raise ValueError(
                f"plan_versions: now ({now.isoformat()}) is before rule {row['rule_id']} version {row['version']} "
                f"took effect ({row['valid_from'].isoformat()})"
            )
        row["valid_to"] = now
        changed = True
    for rule in rules:
        if rule.rule_id in kept:
            continue
        text = rule_json(rule)
        rows.append(
            {
                "rule_id": rule.rule_id,
                "version": latest.get(rule.rule_id, 0) + 1,
                "valid_from": now,
                "valid_to": None,
                "name": rule.name,
                "severity": rule.severity,
                "rule_json": text,
                "content_hash": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            }
        )
        changed = True
    return sorted(rows, key=lambda r: (r["rule_id"], r["version"])) if changed else None


def rules_frame(spark: SparkSession, rows: Sequence[Mapping]) -> DataFrame:
    """The rules DataFrame (:data:`RULES_SCHEMA`, one row per rule version) of silver ``rules`` rows (mappings or
    Spark Rows with ``rule_id``, ``version``, ``valid_from``, ``valid_to`` and ``rule_json``)."""

    def listed(values: tuple | None) -> list | None:
        return None if values is None else list(values)

    data = []
    for row in rows:
        rule = rule_from_json(row["rule_json"])
        windows = None if rule.windows is None else [tuple(w) for w in rule.windows]
        data.append(
            (
                int(row["rule_id"]),
                int(row["version"]),
                row["valid_from"],
                row["valid_to"],
                rule.name,
                list(rule.labels),
                rule.quantifier,
                rule.min_score,
                rule.min_area_fraction,
                listed(rule.scope_users),
                listed(rule.scope_devices),
                listed(rule.scope_sites),
                windows,
                rule.severity,
                rule.cooldown_minutes,
            )
        )
    return spark.createDataFrame(data, RULES_SCHEMA)
