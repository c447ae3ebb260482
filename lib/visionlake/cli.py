"""The ``visionlake`` command.

    visionlake generate SOURCE --out PATH_OR_URI --count N [--seed S]
    visionlake run SOURCE --input PATH_OR_URI --lake PATH_OR_URI [--env ENV] [--full-refresh]
    visionlake bench SOURCE [--files N] [--s3] [--repeat R]

Exit status: 0 when the run completed (quarantined records included), 1 with a one-line error when it
could not run (a traceback only with ``--debug``), 2 for bad arguments. The process ends with
``os._exit`` after flushing, so that native libraries tearing down at interpreter exit (delta-rs was
seen to abort there) cannot change the status the run earned.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence

from visionlake.config import load_config
from visionlake.errors import VisionlakeError

SOURCES = ("alpr", "face_validation")
log = logging.getLogger("visionlake")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visionlake", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help="print tracebacks and Spark warnings")
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write realistic sample input")
    generate.add_argument("source", choices=SOURCES)
    generate.add_argument("--out", required=True, help="folder or s3a://bucket/prefix")
    generate.add_argument(
        "--count", required=True, type=int, help="number of records (files for alpr, documents for face_validation)"
    )
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")

    run = commands.add_parser("run", help="ingest new input into the lake and refresh its tables")
    run.add_argument("source", choices=SOURCES)
    run.add_argument("--input", required=True, help="folder or s3a://bucket/prefix of raw files")
    run.add_argument("--lake", required=True, help="folder or s3a://bucket/prefix of the lake")
    run.add_argument("--env", default="local", help="conf/<env>.yaml overlay (default: local)")
    run.add_argument("--full-refresh", action="store_true", help="rebuild every table of the source from the input")

    bench = commands.add_parser("bench", help="time the pipeline against the naive Spark job (see README)")
    bench.add_argument("source", choices=SOURCES)
    bench.add_argument("--files", type=int, default=251_526, help="alpr: number of generated input files")
    bench.add_argument("--docs", type=int, default=34_654, help="face_validation: number of generated documents")
    bench.add_argument("--s3", action="store_true", help="read from a moto S3 server and compare with a GET loop")
    bench.add_argument("--repeat", type=int, default=3, help="repetitions; medians are reported")
    bench.add_argument("--increment", type=int, default=10_000, help="files of the daily increment run (0: none)")
    bench.add_argument("--no-baseline", action="store_true", help="skip the naive Spark job")
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
    from visionlake.sources.alpr.generate import iter_results

    files = ((f.relative_path, f.body, f.mtime) for f in iter_results(args.count, seed=args.seed))
    written = st.write_many(args.out, files, cfg.storage, cfg.ingest.read_threads)
    return f"wrote {written} {args.source} files under {args.out}"


def _bench(args: argparse.Namespace) -> str:
    from visionlake.bench import run_bench

    if args.source == "face_validation" and args.s3:
        raise VisionlakeError("bench face_validation has no --s3 variant")
    return run_bench(
        args.files, args.s3, args.repeat, args.increment, not args.no_baseline, source=args.source, docs=args.docs
    )


def format_summary(summary, seconds: float) -> str:
    lines = [
        f"run {summary.run_id}: {summary.files_new} new of {summary.files_listed} files listed"
        f" ({summary.files_skipped} skipped), {seconds:.1f} s",
    ]
    for table, rows in sorted(summary.rows_out.items()):
        lines.append(f"  {table:<32} +{rows}")
    if summary.quarantined:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary.quarantined.items()))
        lines.append(f"  quarantined {sum(summary.quarantined.values())}: {reasons}")
    lines.append(f"  check: {summary.check}")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> str:
    from importlib import import_module

    from visionlake.spark import build_session, for_input

    pipeline = import_module(f"visionlake.sources.{args.source}.pipeline")
    cfg = load_config(args.env)
    if args.source == "face_validation":
        from visionlake.transforms.pseudonymise import pii_key

        pii_key(cfg.env)  # refuse before starting Spark when the environment has no key
    started = time.monotonic()
    # The new input is listed before the JVM starts: its size chooses the JIT (see spark.for_input).
    listing = pipeline.RUN.pending_input(cfg, args.input, args.lake, args.full_refresh)
    cfg = for_input(cfg, sum(f.size for f in listing.files))
    spark = build_session(f"visionlake-{args.source}", cfg)
    if not args.debug:
        spark.sparkContext.setLogLevel("ERROR")
    try:
        summary = pipeline.run(spark, cfg, args.input, args.lake, full_refresh=args.full_refresh, listing=listing)
    finally:
        spark.stop()
    return format_summary(summary, time.monotonic() - started)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status instead of exiting (see :func:`entry_point`)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    log.setLevel(logging.DEBUG if args.debug else logging.INFO)
    try:
        commands = {"generate": _generate, "run": _run, "bench": _bench}
        message = commands[args.command](args)
    except (VisionlakeError, ValueError, OSError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"visionlake: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(
            f"visionlake: error: {type(exc).__name__}: {first_line} (rerun with --debug for details)", file=sys.stderr
        )
        return 1
    print(message)
    return 0


def entry_point() -> None:
    try:
        status = main()
    except SystemExit as exc:  # argparse: --help (0) or bad arguments (2)
        status = exc.code if isinstance(exc.code, int) else 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
