"""The emit stage's own errors; each message names the file, option or folder that is wrong.

Standard library only: the front door (emit/api.py) re-exports them without loading pandas, pySigma
or matplotlib, so `auditplan gpo` starts fast.
"""

from __future__ import annotations

from pathlib import Path


class EmitError(ValueError):
    """Emit cannot do what it was asked with what it was given."""


class NoStore(EmitError):
    """The store file is not there (opening it would create an empty one)."""


class ReportError(EmitError):
    """The report cannot be made from what it was given (e.g. an unreadable --gpo-dir manifest)."""


class OutputError(EmitError):
    """A file or folder cannot be written where --out says (a file in the way, a folder where a file
    goes, no permission, a full disk)."""


class GpoOptionError(EmitError):
    """An option of the GPO backups (the domain, the name prefix, the log size) is not usable."""


class ExportUnavailable(RuntimeError):
    """The pySigma backend for a query language is not installed."""


class ScomOptionError(EmitError):
    """An option of the SCOM pack (its version) is not what SCOM accepts."""


class ManagementPackInvalid(ValueError):
    """The written management pack did not parse back as XML (a bug: nothing is reported as written)."""


def cannot_write(path: Path, exc: OSError, *, folder: bool = False) -> OutputError:
    """The OutputError for `exc`, raised while writing the file (or, with `folder`, into the folder)
    `path`: one line naming `path` and what is in its way, else the system's reason."""
    for blocker in ([path] if folder else []) + list(path.parents):
        if blocker.is_symlink() or blocker.exists():
            if not blocker.is_dir():
                return OutputError(f"{path}: cannot write: {blocker} is a file, not a folder")
            break
    if isinstance(exc, IsADirectoryError) and not folder:
        return OutputError(f"{path}: cannot write: a folder is in the way")
    where = f" ({exc.filename})" if exc.filename and Path(str(exc.filename)) != path else ""
    return OutputError(f"{path}: cannot write: {exc.strerror or exc}{where}")


def unsafe_output(path: Path, exc: ValueError) -> OutputError:
    """The OutputError for safe_write's refusal (UnsafePathError) at `path`: a folder in the way is
    worded as cannot_write words it; a link planted there keeps safe_write's own message."""
    if path.is_dir() and not path.is_symlink():
        return cannot_write(path, IsADirectoryError(21, "Is a directory"))
    return OutputError(str(exc))
