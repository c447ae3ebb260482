"""Errors that the command line reports as one line (no traceback unless --debug)."""

from __future__ import annotations

import os
import re


class VisionlakeError(Exception):
    """Base class: a run could not be done, for a reason the user can act on."""


class ConfigError(VisionlakeError):
    """The configuration is missing, malformed or refers to something unknown."""


class InputError(VisionlakeError):
    """The input location does not exist or cannot be listed."""


class LakeError(VisionlakeError):
    """A lake table cannot be read or written as asked (schema drift, a broken table)."""


class ConcurrentRunError(LakeError):
    """Another run or writer changed a table while this run was writing to it; nothing was committed."""


class DataRemovedError(LakeError):
    """An upstream commit removed data that a consumer had already read: only a full refresh is correct."""


class UnreadableTablesError(LakeError):
    """Tables that cannot be read (or maintained): the command did its work on the others. As with
    :class:`QualityError`, the first line of the message is the error and the rest the command's report."""


class LeaseTimeoutError(VisionlakeError):
    """Another run held the source's lease for longer than this run was willing to wait."""


class QualityError(VisionlakeError):
    """A quality check of level ``error`` failed: gold was not published."""


class EndpointError(VisionlakeError):
    """Object storage kept failing (resets, 5xx, throttling, outage) for longer than ``storage.retry_seconds``."""


# --------------------------------------------------------------------------------------------------
# what the command line prints: one line, no stack, no colour codes, no secret

SECRET_VARIABLES = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "VISIONLAKE_PII_KEY",
    "VISIONLAKE_PAGERDUTY_ROUTING_KEY",
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_OURS = re.compile(r"^\s*visionlake\.errors\.(\w+): (.+)$", re.M)
_PYTHON = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)): (.+)$", re.M)
_JAVA = re.compile(r"(?:^|Caused by: |: )((?:[a-z]\w*\.)+[A-Z][\w$]*(?:Exception|Error)): (.+)$", re.M)
MAX_LINE = 600


def redact(text: str) -> str:
    """``text`` without terminal colour codes and with the values of secret variables replaced by ``***``."""
    text = _ANSI.sub("", text)
    for name in SECRET_VARIABLES:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def describe(exc: BaseException, hint: bool = True) -> str:
    """What failed and where, as one line: our own message when a visionlake error was raised (also inside
    a Spark task, where it comes back wrapped in Java and Python tracebacks), else the root cause (followed by
    a hint to rerun with ``--debug`` unless ``hint`` is false)."""
    text = str(exc)
    more = " (rerun with --debug for details)" if hint else ""
    if isinstance(exc, VisionlakeError):
        return _one_line(text)
    ours = _OURS.findall(text)
    if ours:
        return _one_line(ours[-1][1])
    if "Traceback (most recent call last)" in text:
        found = _PYTHON.findall(text.rsplit("Traceback (most recent call last)", 1)[1])
        if found:
            kind, message = found[-1]
            return _one_line(f"{kind.rsplit('.', 1)[-1]}: {message}") + more
    causes = _JAVA.findall(text)
    if causes:
        kind, message = causes[-1]
        return _one_line(f"{kind.rsplit('.', 1)[-1]}: {message}") + more
    if isinstance(exc, ValueError | OSError):
        return _one_line(text)
    return f"{type(exc).__name__}: {_one_line(text)}" + more


def _one_line(text: str) -> str:
    line = next((part.strip() for part in text.strip().splitlines() if part.strip()), "")
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."
