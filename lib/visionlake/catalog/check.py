"""``visionlake catalog check``: can Athena (engine version 3) and Trino read every table of the lake?

Each table's protocol and metadata are read from its Delta log and compared with what each engine documents
(reference: consumption.md; Trino's ``DeltaLakeTableFeatures``):

- Athena engine 3 reads reader protocol up to 3 with the features columnMapping and timestampNtz, and nothing
  else (deletion vectors, V2 checkpoints, type widening and the variant type are not in its documented list).
  Partition columns may be boolean, integer types, decimal, float, double, date, timestamp or string.
- Trino's Delta Lake connector reads reader protocol up to 3 with columnMapping, timestampNtz, deletionVectors,
  v2Checkpoint, typeWidening, vacuumProtocolCheck and variantType. Its partition columns may also be
  timestamp_ntz; neither engine takes binary or a nested type as a partition column.
- Both read column mapping in the modes none, name and id, and fold column names to lower case: two columns
  whose names differ only in case cannot both be read.
"""

from __future__ import annotations

from dataclasses import dataclass

from visionlake.catalog.log import TableState, leaf_types, read_state, type_name
from visionlake.config import StorageSettings
from visionlake.errors import LakeError
from visionlake.lake import reader

ENGINES = {"athena": "Athena engine 3", "trino": "Trino"}
MAX_READER_VERSION = {"athena": 3, "trino": 3}
READER_FEATURES = {
    "athena": {"columnMapping", "timestampNtz"},
    "trino": {
        "columnMapping",
        "timestampNtz",
        "deletionVectors",
        "v2Checkpoint",
        "typeWidening",
        "typeWidening-preview",
        "vacuumProtocolCheck",
        "variantType",
        "variantType-preview",
    },
}
FEATURE_NAMES = {
    "deletionVectors": "deletion vectors",
    "v2Checkpoint": "V2 checkpoints",
    "typeWidening": "type widening",
    "typeWidening-preview": "type widening",
    "variantType": "the variant type",
    "variantType-preview": "the variant type",
    "vacuumProtocolCheck": "the vacuum protocol check",
    "columnMapping": "column mapping",
    "timestampNtz": "timestamp without time zone",
    "catalogManaged": "catalog-managed commits",
}
_PARTITION_TYPES = {"boolean", "byte", "short", "integer", "long", "float", "double", "date", "timestamp", "string"}
PARTITION_TYPES = {"athena": _PARTITION_TYPES, "trino": _PARTITION_TYPES | {"timestamp_ntz"}}
UNREADABLE_TYPES = {"athena": {"variant", "void"}, "trino": {"void"}}
COLUMN_MAPPING_MODES = {"none", "name", "id"}


@dataclass(frozen=True)
class TableCheck:
    name: str
    state: TableState | None
    problems: dict[str, list[str]]  # engine -> what it cannot read (empty: readable)

    @property
    def readable(self) -> bool:
        return not any(self.problems.values())


def table_problems(state: TableState, engine: str) -> list[str]:
    """What in ``state`` the engine (``athena`` or ``trino``) cannot read; empty when it can read the table."""
    problems: list[str] = []
    if state.min_reader_version > MAX_READER_VERSION[engine]:
        problems.append(
            f"reader protocol version {state.min_reader_version} (reads up to {MAX_READER_VERSION[engine]})"
        )
    for feature in state.reader_features:
        if feature not in READER_FEATURES[engine]:
            what = FEATURE_NAMES.get(feature)
            problems.append(f"reader feature {feature}{f' ({what})' if what else ''} is not supported")
    mode = state.configuration.get("delta.columnMapping.mode", "none")
    if mode not in COLUMN_MAPPING_MODES:
        problems.append(f"column mapping mode {mode!r} is not supported")
    for column in state.partition_columns:
        field = state.column(column)
        kind = type_name(field["type"]) if field else "missing from the schema"
        base = kind.split("(")[0]
        if base != "decimal" and base not in PARTITION_TYPES[engine]:
            problems.append(f"partition column {column} has type {kind}, which cannot be a partition column")
    for field in state.fields:
        bad = sorted({t for t in leaf_types(field["type"]) if t in UNREADABLE_TYPES[engine]})
        if bad:
            problems.append(f"column {field['name']} has type {', '.join(bad)}, which is not supported")
    lowered: dict[str, str] = {}
    for field in state.fields:
        other = lowered.setdefault(field["name"].lower(), field["name"])
        if other != field["name"]:
            problems.append(f"columns {other} and {field['name']} differ only in case (names are case-insensitive)")
    return problems


def check_tables(lake: str, storage: StorageSettings) -> list[TableCheck]:
    """Every table of the lake with what each engine cannot read in it.

    Raises:
        LakeError: the lake holds no Delta table.
    """
    locations = reader.table_locations(lake, storage)
    if not locations:
        raise LakeError(f"no Delta tables in {lake}")
    checks = []
    for name, location in sorted(locations.items()):
        try:
            state = read_state(location, storage)
        except (LakeError, OSError, ValueError) as exc:  # a broken log: no engine can read the table
            reason = f"cannot read the Delta log: {str(exc).splitlines()[0]}"
            checks.append(TableCheck(name, None, {engine: [reason] for engine in ENGINES}))
            continue
        checks.append(TableCheck(name, state, {engine: table_problems(state, engine) for engine in ENGINES}))
    return checks


def check_lake(lake: str, storage: StorageSettings) -> tuple[str, str]:
    """(report, problems): one line per table with its protocol and OK or FAIL per engine, each problem under
    it; ``problems`` is one line naming the first table and what cannot be read, empty when all is readable.

    Raises:
        LakeError: the lake holds no Delta table.
    """
    checks = check_tables(lake, storage)
    width = max(len(c.name) for c in checks)
    lines = [f"catalog check of {lake}: {len(checks)} tables, for {' and '.join(ENGINES.values())}"]
    for check in checks:
        state = check.state
        protocol = f"reader {state.min_reader_version} writer {state.min_writer_version}" if state else "unreadable"
        verdicts = "  ".join(f"{engine} {'FAIL' if check.problems[engine] else 'OK':<4}" for engine in ENGINES)
        features = f"  features: {', '.join(state.features)}" if state and state.features else ""
        lines.append(f"  {check.name:<{width}}  {protocol:<18}  {verdicts}{features}".rstrip())
        for engine, problems in check.problems.items():
            lines += [f"      {engine}: {problem}" for problem in problems]
    failed = [c for c in checks if not c.readable]
    if not failed:
        lines.append(f"all {len(checks)} tables can be read by {' and '.join(ENGINES.values())}")
        return "\n".join(lines), ""
    first = failed[0]
    engine, problems = next((e, p) for e, p in first.problems.items() if p)
    more = f" (and {len(failed) - 1} more tables)" if len(failed) > 1 else ""
    summary = (
        f"{len(failed)} of {len(checks)} tables cannot be read by {' or '.join(ENGINES.values())}: "
        f"{first.name}: {ENGINES[engine]}: {problems[0]}{more}"
    )
    return "\n".join(lines), summary
