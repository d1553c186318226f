"""The emit stage's own errors; each message names the file, option or folder that is wrong.

Standard library only: the front door (emit/api.py) re-exports them without loading pandas, pySigma
or matplotlib, so `auditplan gpo` starts fast.
"""

from __future__ import annotations


class EmitError(ValueError):
    """Emit cannot do what it was asked with what it was given."""


class NoStore(EmitError):
    """The store file is not there (opening it would create an empty one)."""


class ReportError(EmitError):
    """The report cannot be made from what it was given (e.g. an unreadable --gpo-dir manifest)."""


class ExportUnavailable(RuntimeError):
    """The pySigma backend for a query language is not installed."""


class ScomOptionError(EmitError):
    """An option of the SCOM pack (its version) is not what SCOM accepts."""


class ManagementPackInvalid(ValueError):
    """The written management pack did not parse back as XML (a bug: nothing is reported as written)."""
