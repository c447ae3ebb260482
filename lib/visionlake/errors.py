"""Errors that the command line reports as one line (no traceback unless --debug)."""

from __future__ import annotations


class VisionlakeError(Exception):
    """Base class: a run could not be done, for a reason the user can act on."""


class ConfigError(VisionlakeError):
    """The configuration is missing, malformed or refers to something unknown."""


class InputError(VisionlakeError):
    """The input location does not exist or cannot be listed."""


class LakeError(VisionlakeError):
    """A lake table cannot be read or written as asked (schema drift, a broken table)."""


class ReconciliationError(VisionlakeError):
    """Rows entered bronze that are neither in silver nor in quarantine."""
