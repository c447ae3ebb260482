"""What the command line prints for an error: redact (no secret, no colour) and describe (one line)."""

from __future__ import annotations

import pytest

from visionlake.errors import ConfigError, EndpointError, LeaseTimeoutError, VisionlakeError, describe, redact

SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "VISIONLAKE_PII_KEY")


@pytest.fixture
def no_secrets(monkeypatch):
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


class Py4JJavaError(Exception):
    """Stands in for py4j's exception: only its text matters."""


# --------------------------------------------------------------------------------------------------
# redact


def test_redact_replaces_the_value_of_each_secret_variable(no_secrets):
    no_secrets.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG")
    no_secrets.setenv("AWS_ACCESS_KEY_ID", "FAKEKEYID0001")
    no_secrets.setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEJr")
    no_secrets.setenv("VISIONLAKE_PII_KEY", "pii-key-0123")
    text = "key FAKEKEYID0001 secret wJalrXUtnFEMI/K7MDENG token FwoGZXIvYXdzEJr pii pii-key-0123 again FAKEKEYID0001"
    assert redact(text) == "key *** secret *** token *** pii *** again ***"


def test_redact_strips_colour_codes(no_secrets):
    assert redact("\x1b[31mERROR\x1b[0m: \x1b[1;33mwarn\x1b[0m done \x1b[?25h") == "ERROR: warn done "


def test_redact_finds_a_secret_split_by_colour_codes(no_secrets):
    no_secrets.setenv("AWS_SECRET_ACCESS_KEY", "topsecret")
    assert redact("value=top\x1b[1msecret\x1b[0m.") == "value=***."


def test_redact_leaves_values_shorter_than_four_characters(no_secrets):
    no_secrets.setenv("AWS_ACCESS_KEY_ID", "abc")
    no_secrets.setenv("AWS_SECRET_ACCESS_KEY", "")
    assert redact("abc and abcd") == "abc and abcd"
    no_secrets.setenv("AWS_ACCESS_KEY_ID", "abcd")
    assert redact("abc and abcd") == "abc and ***"


def test_redact_leaves_other_variables_and_plain_text_alone(no_secrets):
    no_secrets.setenv("AWS_REGION", "us-east-1")
    text = "bucket lake in us-east-1: 3 files"
    assert redact(text) == text


# --------------------------------------------------------------------------------------------------
# describe


WORKER_TRACEBACK = """An error occurred while calling o123.save.
: org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 1.0 failed 1 times,
most recent failure: Lost task 0.0 in stage 1.0 (TID 1) (vm executor driver):
org.apache.spark.api.python.PythonException: Traceback (most recent call last):
  File "/work/lib/visionlake/ingest/reader.py", line 140, in _load
    raise EndpointError("object storage at http://x failed")
visionlake.errors.EndpointError: object storage at http://x failed

\tat org.apache.spark.api.python.BasePythonRunner$ReaderIterator.handlePythonException(PythonRunner.scala:572)
\tat org.apache.spark.scheduler.Task.run(Task.scala:141)
"""

PYTHON_TRACEBACK = """Job aborted due to stage failure:
org.apache.spark.api.python.PythonException: Traceback (most recent call last):
  File "/x/worker.py", line 1, in main
    raise KeyError("first")
KeyError: 'first'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/x/worker.py", line 3, in main
    raise ValueError("bad")
ValueError: bad

\tat org.apache.spark.api.python.BasePythonRunner(PythonRunner.scala:572)
"""

JAVA_TRACE = """An error occurred while calling o55.load.
: org.apache.spark.SparkException: Job aborted.
\tat org.apache.spark.sql.execution.datasources.FileFormatWriter$.write(FileFormatWriter.scala:231)
Caused by: org.apache.hadoop.fs.PathIOException: wrapped
\tat org.apache.hadoop.fs.Foo.bar(Foo.java:10)
Caused by: java.io.FileNotFoundException: File file:/x does not exist
\tat org.apache.hadoop.fs.RawLocalFileSystem.deprecatedGetFileStatus(RawLocalFileSystem.java:779)
"""


def test_describe_our_error_is_its_message_s_first_line():
    assert describe(ConfigError("conf/local.yaml: unknown key lake.colour\nsee the docs")) == (
        "conf/local.yaml: unknown key lake.colour"
    )
    assert describe(LeaseTimeoutError("\n  another run holds the lease  \n")) == "another run holds the lease"


def test_describe_our_error_even_when_its_text_has_a_traceback():
    # a visionlake error is described by its own first line, never by what its text quotes
    assert describe(VisionlakeError("cannot read x\n" + PYTHON_TRACEBACK)) == "cannot read x"


def test_describe_our_error_raised_in_a_spark_worker():
    assert describe(Py4JJavaError(WORKER_TRACEBACK)) == "object storage at http://x failed"


def test_describe_the_last_of_our_errors_in_the_text():
    text = WORKER_TRACEBACK + "\nvisionlake.errors.LakeError: silver.frames: schema drift\n"
    assert describe(Py4JJavaError(text)) == "silver.frames: schema drift"


def test_describe_the_last_python_exception_of_a_worker_traceback():
    assert describe(Py4JJavaError(PYTHON_TRACEBACK)) == "ValueError: bad (rerun with --debug for details)"


def test_describe_a_dotted_python_exception_by_its_class_name():
    text = "Traceback (most recent call last):\n  File 'x'\nbotocore.exceptions.ReadTimeoutError: Read timeout\n"
    assert describe(RuntimeError(text)) == "ReadTimeoutError: Read timeout (rerun with --debug for details)"


def test_describe_the_root_cause_of_a_java_trace():
    assert describe(Py4JJavaError(JAVA_TRACE)) == (
        "FileNotFoundException: File file:/x does not exist (rerun with --debug for details)"
    )


def test_describe_a_java_exception_after_a_colon():
    text = "An error occurred while calling o1.x.\n: java.lang.OutOfMemoryError: Java heap space\n\tat a.B(B.java:1)"
    assert describe(Py4JJavaError(text)) == "OutOfMemoryError: Java heap space (rerun with --debug for details)"


def test_describe_value_and_os_errors_by_their_message():
    assert describe(ValueError("s3a:///x: an S3 URI needs a bucket\nmore")) == "s3a:///x: an S3 URI needs a bucket"
    assert describe(FileNotFoundError(2, "No such file or directory")) == "[Errno 2] No such file or directory"


def test_describe_other_exceptions_by_type_and_message():
    assert describe(KeyError("frame_key")) == "KeyError: 'frame_key' (rerun with --debug for details)"
    assert describe(RuntimeError("one\ntwo")) == "RuntimeError: one (rerun with --debug for details)"


def test_describe_cuts_a_long_message_to_600_characters():
    described = describe(EndpointError("x" * 1000))
    assert len(described) == 600
    assert described == "x" * 597 + "..."
    assert describe(EndpointError("y" * 600)) == "y" * 600


def test_describe_cuts_a_long_message_of_another_exception_before_the_debug_hint():
    described = describe(RuntimeError("z" * 1000))
    assert described == "RuntimeError: " + "z" * 597 + "... (rerun with --debug for details)"


def test_describe_makes_a_multi_line_message_one_line():
    assert describe(ValueError("\n\n  first real line  \nsecond\nthird")) == "first real line"
    assert describe(ConfigError("a\nb")) == "a"
    assert describe(RuntimeError("spaced  \nnext")) == "RuntimeError: spaced (rerun with --debug for details)"


# Regression: for an exception that is not ours, not a ValueError/OSError and has no traceback, describe prefixes the
# type name before taking the first line, so a message that starts with a newline is lost:
# describe(RuntimeError("\nboom")) is "RuntimeError: (rerun with --debug for details)" instead of
# "RuntimeError: boom (rerun with --debug for details)" (and leading spaces are kept: "RuntimeError:   x").
def test_describe_keeps_a_message_that_starts_on_its_second_line():
    assert describe(RuntimeError("\nboom")) == "RuntimeError: boom (rerun with --debug for details)"


class PanicException(BaseException):
    """As pyo3 raises for a Rust panic in delta-rs: a BaseException, not an Exception."""


def test_the_command_reports_a_delta_rs_panic_in_one_line(monkeypatch, capsys, tmp_path):
    from visionlake import cli

    def panics(args):
        raise PanicException("called `Option::unwrap()` on a `None` value")

    monkeypatch.setattr(cli, "_tables", panics)
    assert cli.main(["tables", "--lake", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        "visionlake: error: PanicException: called `Option::unwrap()` on a `None` value "
        "(rerun with --debug for details)\n"
    )


def test_an_interrupt_ends_the_command_with_one_line_and_status_130(monkeypatch, tmp_path, capsys):
    """Ctrl-C: no traceback, and the status a shell gives a command SIGINT stopped (until Dec 7 the interrupt
    went through, with Python's traceback)."""
    from visionlake import cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_tables", interrupted)
    assert cli.main(["tables", "--lake", str(tmp_path)]) == 130
    assert capsys.readouterr() == ("", "visionlake: error: interrupted (Ctrl-C)\n")
