"""The emit stage's own errors; each message names the file, option or folder that is wrong."""

from __future__ import annotations


class EmitError(ValueError):
    """Emit cannot do what it was asked with what it was given."""


class NoStore(EmitError):
    """The store file is not there (opening it would create an empty one)."""


class ReportError(EmitError):
    """The report cannot be made from what it was given (e.g. an unreadable --gpo-dir manifest)."""
