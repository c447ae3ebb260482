"""The ``visionlake`` command.

    visionlake generate SOURCE --out PATH_OR_URI --count N [--seed S]
    visionlake run SOURCE --input PATH_OR_URI --lake PATH_OR_URI [--env ENV] [--full-refresh]
    visionlake check --lake PATH_OR_URI [--source SOURCE]
    visionlake maintain --lake PATH_OR_URI [--source SOURCE] [--retain-hours H]
    visionlake bench SOURCE [--files N] [--s3] [--repeat R]
    visionlake tables --lake PATH_OR_URI
    visionlake sql --lake PATH_OR_URI "SELECT ..." [--out FILE.csv|.parquet|.json] [--format table|csv|json]
    visionlake sql --lake PATH_OR_URI --shell
    visionlake catalog ddl --lake URI --engine athena|trino|spark [--database NAME] [--catalog NAME]
    visionlake catalog register --glue --database NAME --lake s3a://bucket/lake
    visionlake catalog check --lake PATH_OR_URI
    visionlake report --lake PATH_OR_URI --out report.html
    visionlake notify detections --lake PATH_OR_URI --webhook URL [--format pagerduty|json]

Exit status: 0 when the run completed (quarantined records included), 1 with a one-line error when it
could not run (a traceback only with ``--debug``), 2 for bad arguments. Without ``--debug`` no Java stack
or log line reaches the terminal, and no secret from the environment appears in any output. The process ends with
``os._exit`` after flushing, so that native libraries tearing down at interpreter exit (delta-rs was
seen to abort there) cannot change the status the run earned.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from visionlake.config import load_config
from visionlake.errors import (
    LakeError,
    LeaseTimeoutError,
    QualityError,
    UnreadableTablesError,
    VisionlakeError,
    describe,
    redact,
)

SOURCES = ("alpr", "face_validation", "detections", "face_recognition")
INTERRUPTED = "interrupted (Ctrl-C)"  # a run: what it committed stands, and the next run completes the rest
SHARED_LEASE = "shared-tables"  # what maintain holds while it compacts the tables of no source
log = logging.getLogger("visionlake")
DEBUG_HELP = "print tracebacks and Spark warnings"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visionlake", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write realistic sample input")
    generate.add_argument("source", choices=SOURCES)
    generate.add_argument("--out", required=True, help="folder or s3a://bucket/prefix")
    generate.add_argument(
        "--count",
        required=True,
        type=int,
        help="number of records (files; documents for face_validation; request log lines for face_recognition)",
    )
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")

    run = commands.add_parser("run", help="ingest new input into the lake and refresh its tables")
    run.add_argument("source", choices=SOURCES)
    run.add_argument("--input", required=True, help="folder or s3a://bucket/prefix of raw files")
    run.add_argument("--lake", required=True, help="folder or s3a://bucket/prefix of the lake")
    run.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")
    run.add_argument("--full-refresh", action="store_true", help="rebuild every table of the source from the input")

    check = commands.add_parser("check", help="run the quality checks of conf/quality on whole tables")
    check.add_argument("--lake", required=True, help="folder or s3a://bucket/prefix of the lake")
    check.add_argument("--source", choices=SOURCES, help="one source (default: every source in the lake)")
    check.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")

    maintain = commands.add_parser("maintain", help="compact small files, checkpoint and vacuum every table")
    maintain.add_argument("--lake", required=True, help="folder or s3a://bucket/prefix of the lake")
    maintain.add_argument("--source", choices=SOURCES, help="one source's tables (default: every table)")
    maintain.add_argument(
        "--retain-hours", type=float, help="keep files that versions of the last H hours need (lake.retain_hours)"
    )
    maintain.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")

    bench = commands.add_parser("bench", help="time the pipeline against the naive Spark job (see README)")
    bench.add_argument("source", choices=SOURCES)
    bench.add_argument("--files", type=int, default=251_526, help="alpr: number of generated input files")
    bench.add_argument("--docs", type=int, default=34_654, help="face_validation: number of generated documents")
    bench.add_argument("--frames", type=int, default=500_000, help="detections: number of generated frame files")
    bench.add_argument(
        "--requests", type=int, default=3_000_000, help="face_recognition: number of generated request log lines"
    )
    bench.add_argument("--s3", action="store_true", help="read from a moto S3 server and compare with a GET loop")
    bench.add_argument("--repeat", type=int, default=3, help="repetitions; medians are reported")
    bench.add_argument(
        "--increment",
        type=int,
        default=10_000,
        help="new files of the increment run (face_recognition: request lines; 0: none)",
    )
    bench.add_argument("--no-baseline", action="store_true", help="skip the naive Spark job")
    bench.add_argument("--latency-ms", type=float, default=20.0, help="--s3: latency added to every S3 request")

    tables = commands.add_parser("tables", help="every table of the lake: version, rows, files, size, last run")
    tables.add_argument("--lake", required=True, help="folder or s3a://bucket/prefix of the lake")
    tables.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")

    sql = commands.add_parser("sql", help="SQL over the lake's committed tables (DuckDB, in-process)")
    sql.add_argument("query", nargs="?", help="one SQL statement; tables are named <layer>_<source>_<table>")
    sql.add_argument("--lake", required=True, help="folder or s3a://bucket/prefix of the lake")
    sql.add_argument("--out", help="write the result to FILE.csv, FILE.parquet or FILE.json instead of printing it")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table", help="printed form")
    sql.add_argument("--shell", action="store_true", help="an interactive SQL prompt over the lake")
    sql.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")

    catalog = commands.add_parser("catalog", help="expose the tables to Athena, Trino, Spark SQL and Glue")
    actions = catalog.add_subparsers(dest="action", required=True)
    ddl = actions.add_parser("ddl", help="print the statements that register every table with an engine")
    ddl.add_argument("--lake", required=True, help="s3a://bucket/prefix (or a folder, for Spark SQL)")
    ddl.add_argument("--engine", required=True, choices=("athena", "trino", "spark"))
    ddl.add_argument("--database", default="visionlake", help="database / schema name (default: visionlake)")
    ddl.add_argument("--catalog", default="delta", help="trino: the Delta Lake catalog's name (default: delta)")
    ddl.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")
    register = actions.add_parser("register", help="create or update the tables in the AWS Glue Data Catalog")
    register.add_argument("--glue", action="store_true", required=True, help="register in AWS Glue (boto3)")
    register.add_argument("--database", required=True, help="Glue database (created when missing)")
    register.add_argument("--lake", required=True, help="s3a://bucket/prefix of the lake")
    register.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")
    compat = actions.add_parser("check", help="fail on any table feature or type Athena engine 3 or Trino cannot read")
    compat.add_argument("--lake", required=True, help="folder or s3a://bucket/prefix of the lake")
    compat.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")

    notify = commands.add_parser("notify", help="deliver the alerts not delivered yet, each exactly once")
    notify.add_argument("source", choices=("detections",))
    notify.add_argument("--lake", required=True, help="folder or s3a://bucket/prefix of the lake")
    notify.add_argument("--webhook", required=True, help="the URL each alert is POSTed to")
    notify.add_argument("--format", choices=("pagerduty", "json"), default="pagerduty", help="the POST body")
    notify.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")

    report = commands.add_parser("report", help="one self-contained HTML report of every source in the lake")
    report.add_argument("--lake", required=True, help="folder or s3a://bucket/prefix of the lake")
    report.add_argument("--out", default="report.html", help="the HTML file to write (default: report.html)")
    report.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")
    # --debug after the command too (`visionlake run ... --debug`); not given there, the one before it stands
    for sub in [*commands.choices.values(), *actions.choices.values()]:
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def _generate(args: argparse.Namespace) -> str:
    from visionlake.lake import storage as st

    if args.count < 0:
        raise VisionlakeError("--count must be zero or more")
    cfg = load_config(args.env)
    if args.source == "face_validation":
        from visionlake.sources.face_validation.generate import write_exports

        if not st.is_s3(args.out):
            paths = write_exports(st.normalize(args.out), args.count, seed=args.seed)
            return f"wrote {args.count} face_validation documents in {len(paths)} export files under {args.out}"
        with tempfile.TemporaryDirectory() as folder:
            paths = write_exports(folder, args.count, seed=args.seed)
            for relative in paths:
                st.upload_file(os.path.join(folder, relative), st.join(args.out, relative), cfg.storage)
        return f"wrote {args.count} face_validation documents in {len(paths)} export files under {args.out}"
    if args.source == "face_recognition":
        from pathlib import Path

        from visionlake.sources.face_recognition.generate import generate

        if not st.is_s3(args.out):
            counts = generate(Path(st.normalize(args.out)), args.count, seed=args.seed)
        else:
            with tempfile.TemporaryDirectory() as folder:
                counts = generate(Path(folder), args.count, seed=args.seed)
                for path in sorted(Path(folder).rglob("*")):
                    if path.is_file():
                        relative = path.relative_to(folder).as_posix()
                        st.upload_file(str(path), st.join(args.out, relative), cfg.storage)
        shown = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
        return f"wrote face_recognition input under {args.out}: {shown}"
    if args.source == "detections":
        from visionlake.sources.detections.generate import iter_frames as iter_results
    else:
        from visionlake.sources.alpr.generate import iter_results

    files = ((f.relative_path, f.body, f.mtime) for f in iter_results(args.count, seed=args.seed))
    written = st.write_many(args.out, files, cfg.storage, cfg.ingest.read_threads)
    return f"wrote {written} {args.source} files under {args.out}"


def _bench(args: argparse.Namespace) -> str:
    from visionlake.bench import run_bench

    if args.source != "alpr" and args.s3:
        raise VisionlakeError(f"bench {args.source} has no --s3 variant")
    return run_bench(
        {"detections": args.frames, "face_recognition": args.requests}.get(args.source, args.files),
        args.s3,
        args.repeat,
        args.increment,
        not args.no_baseline,
        source=args.source,
        docs=args.docs,
        latency_ms=args.latency_ms,
    )


def format_summary(summary, seconds: float) -> str:
    lines = [
        f"run {summary.run_id}: {summary.files_new} new of {summary.files_listed} files listed"
        f" ({summary.files_skipped} skipped), {seconds:.1f} s",
    ]
    for run_id in summary.interrupted:
        lines.append(f"  run {run_id} was killed before it finished: recorded as interrupted")
    if summary.resumed:
        lines.append(f"  a full refresh: it completed that of run {summary.resumed}, which did not end")
    if summary.waited >= 1:
        lines.append(f"  waited {summary.waited:.0f} s for another run of the same source to finish")
    for table, rows in sorted(summary.rows_out.items()):
        lines.append(f"  {table:<32} +{rows}")
    if summary.quarantined:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary.quarantined.items()))
        lines.append(f"  quarantined {sum(summary.quarantined.values())}: {reasons}")
    if summary.pending:
        first = next(iter(sorted(summary.pending.items())))
        lines.append(f"  pending {len(summary.pending)} files, read again next run (e.g. {first[0]}: {first[1]})")
    if summary.changed:
        lines.append(
            f"  changed since ingestion: {len(summary.changed)} files (e.g. {summary.changed[0]}); not read again: "
            "rename a file to ingest it as new, or run with --full-refresh to rebuild from the current input"
        )
    for problem in summary.problems[:3]:
        lines.append(f"  not listed: {problem}")
    for drift in summary.drift:
        lines.append(f"  {'new field' if drift.new else 'undeclared field'}: {drift.line()}")
    failed = [r for r in summary.checks if not r.passed]
    lines.append(f"  checks: {len(summary.checks) - len(failed)} of {len(summary.checks)} passed")
    for result in failed:
        lines.append(f"    {result.line()}")
    lines.append(f"  check: {summary.check}")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> str:
    from importlib import import_module

    from visionlake.lake import storage as st
    from visionlake.lake.runlog import new_run_id
    from visionlake.sources.runner import record_failure
    from visionlake.spark import build_session, for_input

    pipeline = import_module(f"visionlake.sources.{args.source}.pipeline")
    if any(c in args.lake for c in "%[]"):  # until Dec 6: a lake in lakeA (%41), or a Rust panic ([)
        raise VisionlakeError(
            f"--lake {args.lake}: a lake's path may not hold %, [ or ] (the Delta library reads them as escapes "
            "or patterns); rename the folder"
        )
    cfg = load_config(args.env)
    if args.source in ("face_validation", "face_recognition"):
        from visionlake.transforms.pseudonymise import pii_key

        pii_key(cfg.env)  # refuse before starting Spark when the environment has no key
    if args.source == "detections":
        from visionlake.sources.detections.rules import load_rules

        load_rules(cfg.rules_path())  # a bad rules file is refused before any Spark work
    if args.source == "face_recognition":
        from visionlake.sources.face_recognition.gold import check_settings

        check_settings(cfg.face_recognition)  # so are SLO settings and k6 thresholds gold cannot use
    started = time.monotonic()
    run_id = new_run_id()
    lease = pipeline.RUN.lease(cfg, args.lake, run_id)
    try:
        lease.acquire()  # before listing: what is new is decided under the lease
    except LeaseTimeoutError as exc:
        record_failure(args.lake, args.source, run_id, exc, cfg)
        raise
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="visionlake-listing")
    try:
        try:
            # a full refresh that did not end is completed by the next run from its input (as a full refresh)
            resumed = pipeline.RUN.interrupted_refresh(cfg, args.lake, args.input, args.full_refresh)
            full_refresh = args.full_refresh or resumed is not None
            # The size of the new input chooses the JIT (see spark.for_input), so the JVM starts once the new files
            # are known; the listing goes on meanwhile (checking the ingested files for changes).
            told: Future[list] = Future()
            job = pool.submit(pipeline.RUN.pending_input, cfg, args.input, args.lake, full_refresh, told.set_result)
            wait([told, job], return_when=FIRST_COMPLETED)
            new_files = told.result() if told.done() else job.result().files  # job.result(): raises its error
            # with no new input, a run may complete what a killed one left, up to the size of its bronze tables:
            # the silver and gold of 3,000,000 request lines took 197.7 s with a tiny run's JIT, 76.3 s without
            work = sum(f.size for f in new_files) or pipeline.RUN.bronze_bytes(cfg, args.lake)
        except Exception as exc:
            record_failure(args.lake, args.source, run_id, exc, cfg)
            raise
        cfg = for_input(cfg, work)
        try:
            s3 = st.is_s3(args.input) or st.is_s3(args.lake)
            spark = build_session(f"visionlake-{args.source}", cfg, quiet=not args.debug, s3=s3)
        except Exception as exc:  # no Java, a bad Spark setting: recorded, as a failed listing is
            record_failure(args.lake, args.source, run_id, exc, cfg)
            raise
        try:
            try:
                listing = job.result()
            except Exception as exc:
                record_failure(args.lake, args.source, run_id, exc, cfg)
                raise
            summary = pipeline.run(
                spark, cfg, args.input, args.lake, full_refresh, listing=listing, lease=lease, run_id=run_id
            )
        except BaseException:
            with contextlib.suppress(Exception):  # after Ctrl-C inside a call, the gateway may not answer
                spark.stop()
            raise
        spark.stop()
        summary.resumed = resumed
    finally:
        # After Ctrl-C or a failure the listing (read only) is not waited for: until Dec 7 Ctrl-C took effect only once
        # it ended, and a second Ctrl-C meanwhile left the lease held.
        pool.shutdown(wait=False, cancel_futures=True)
        lease.release()
    return format_summary(summary, time.monotonic() - started)


def _check(args: argparse.Namespace) -> str:
    from visionlake.quality.run import check_lake

    cfg = load_config(args.env)
    report, failed = check_lake(args.lake, cfg, args.source)
    if failed:
        raise QualityError(f"{failed}\n{report}")
    return report


def _maintain(args: argparse.Namespace) -> str:
    from deltalake.exceptions import DeltaError

    from visionlake.lake.lease import Lease
    from visionlake.lake.maintain import check_retention, maintain_table, tables_of
    from visionlake.lake.reader import why
    from visionlake.lake.runlog import new_run_id

    cfg = load_config(args.env)
    retain = cfg.lake.retain_hours if args.retain_hours is None else args.retain_hours
    check_retention(retain, cfg.lake.min_retain_hours)
    tables = tables_of(args.lake, cfg.storage, args.source)
    if not tables:  # a mistyped --lake in a scheduled job must not pass
        raise LakeError(f"no tables in {args.lake}: nothing to maintain")
    run_id = f"maintain-{new_run_id()}"
    lines = [f"maintained {len(tables)} tables of {args.lake} (retention {retain:g} h):"]
    by_source: dict[str, dict[str, str]] = {}
    for name, location in sorted(tables.items()):
        source = next((s for s in SOURCES if f"_{s}_" in f"{name}_"), "")
        by_source.setdefault(source, {})[name] = location
    failed: dict[str, str] = {}
    for source, group in by_source.items():
        # the tables of no source (_runs, _quality_results) under a lease of their own: two maintains at once
        # each compacted the same files, and every row of those tables was there twice (until Dec 7)
        with Lease.configured(cfg, args.lake, source or SHARED_LEASE, run_id):
            for name, location in group.items():
                try:
                    done = maintain_table(name, location, cfg.storage, cfg.lake.compact_target_mb, retain)
                except (LakeError, DeltaError) as exc:  # a damaged table: the others are still maintained
                    failed[name] = why(exc, location)
                    lines.append(f"  {name:<40} not maintained: {failed[name]}")
                    continue
                lines.append(done.line())
    if failed:
        first = next(iter(failed))
        raise UnreadableTablesError(
            f"{len(failed)} of {len(tables)} tables could not be maintained, e.g. {first}: {failed[first]}\n"
            + "\n".join(lines)
        )
    return "\n".join(lines)


def _tables(args: argparse.Namespace) -> str:
    from visionlake.sql import describe_tables

    report, problems = describe_tables(args.lake, load_config(args.env).storage)
    if problems:
        raise UnreadableTablesError(f"{problems}\n{report}")
    return report


def _sql(args: argparse.Namespace) -> str:
    from visionlake import sql

    storage = load_config(args.env).storage
    if args.shell:
        return sql.shell(args.lake, storage)
    if not args.query:
        raise VisionlakeError("give a SQL statement, or --shell for a prompt")
    return sql.run_query(args.lake, args.query, storage, out=args.out, form=args.format)


def _catalog(args: argparse.Namespace) -> str:
    from visionlake import catalog

    storage = load_config(args.env).storage
    if args.action == "ddl":
        return "\n".join(catalog.ddl_statements(args.lake, args.engine, args.database, args.catalog, storage))
    if args.action == "register":
        return catalog.register_glue(args.lake, args.database, storage)
    report, problems = catalog.check_lake(args.lake, storage)
    if problems:
        raise QualityError(f"{problems}\n{report}")
    return report


def _notify(args: argparse.Namespace) -> str:
    from visionlake.sources.detections.notify import notify

    result = notify(args.lake, args.webhook, args.format, load_config(args.env))
    problems = []
    if result.failed:  # the receiver is down: a scheduler must see it; the next call sends what is left
        problems.append(
            f"{result.pending} alerts not delivered ({result.failed} failed, the rest not tried): the next call "
            "sends them"
        )
    if result.rejected:  # refused for good (a wrong routing key refuses them all): nobody was paged
        problems.append(
            f"{result.rejected} alerts rejected by the receiver (HTTP 4xx), never sent again: see "
            "gold/detections/alert_deliveries"
        )
    if problems:
        raise QualityError(f"{'; '.join(problems)}\n{result.report()}")
    return result.report()


def _report(args: argparse.Namespace) -> str:
    from visionlake.report import write_report

    return write_report(args.lake, args.out, load_config(args.env))


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status instead of exiting (see :func:`entry_point`)."""
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(_RedactingFormatter("%(levelname)s %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    log.setLevel(logging.DEBUG if args.debug else logging.INFO)
    if not args.debug:  # py4j logs (to the root logger), with its traceback, a call that Ctrl-C broke off
        handler.addFilter(lambda record: f"{os.sep}py4j{os.sep}" not in record.pathname)
    try:
        commands = {
            "generate": _generate,
            "run": _run,
            "check": _check,
            "maintain": _maintain,
            "bench": _bench,
            "tables": _tables,
            "sql": _sql,
            "catalog": _catalog,
            "report": _report,
            "notify": _notify,
        }
        message = commands[args.command](args)
    except (QualityError, UnreadableTablesError) as exc:  # `check`, `tables`, ...: the report, then the error
        first, _, report = str(exc).partition("\n")
        if report:
            print(redact(report))
        print(f"visionlake: error: {redact(first)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"visionlake: error: {INTERRUPTED}", file=sys.stderr)
        return 130
    except BaseException as exc:
        # a Rust panic in delta-rs reaches Python as pyo3's PanicException, which is no Exception
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        if args.debug:
            print(redact(traceback.format_exc()), file=sys.stderr, end="")
        print(f"visionlake: error: {redact(describe(exc))}", file=sys.stderr)
        return 1
    print(redact(message))
    return 0


def entry_point() -> None:
    try:
        status = main()
    except SystemExit as exc:  # argparse: --help (0) or bad arguments (2)
        status = exc.code if isinstance(exc.code, int) else 1
    except BrokenPipeError:  # `visionlake sql ... | head`: the reader stopped reading, which is no error
        status = 0
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):
            stream.flush()
    os._exit(status)
