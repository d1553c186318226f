"""One way to write an output file: beside the target, fsync, rename; never through a link.

Every command that writes a file the user named goes through here, so a symbolic link planted at
the output path (``ln -s victim.txt r.html``) is refused instead of followed, and a reader never
sees half a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

# O_EXCL|O_NOFOLLOW on the temporary name: it is new, so nothing anyone placed there is written through.
_TEMP_FLAGS: Final = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                      | getattr(os, "O_BINARY", 0))


class UnsafePathError(ValueError):
    """The output path is a link (or not a regular file), so writing it could land elsewhere."""


def check_target(path: Path) -> None:
    """Refuse a target that is a symbolic link, a junction or anything but a regular file."""
    if path.is_symlink():
        raise UnsafePathError(f"{path}: is a symbolic link; refusing to write through it")
    if path.exists() and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise UnsafePathError(f"{path}: is {kind}; refusing to replace it")
    parent = path.parent
    if parent.is_symlink():
        raise UnsafePathError(f"{parent}: the output folder is a symbolic link; refusing to write through it")


def write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically: a new temporary file beside it, fsync, rename over it."""
    path = Path(path)
    check_target(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, _TEMP_FLAGS, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        # Checked again just before the rename: a link planted while we wrote is still refused.
        check_target(path)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str, *, encoding: str = "utf-8", newline: str = "\n", mode: int = 0o644) -> None:
    """Write ``text`` atomically (see write_bytes); ``newline`` replaces every "\\n" (use "\\r\\n" for Windows)."""
    if newline != "\n":
        text = text.replace("\n", newline)
    write_bytes(path, text.encode(encoding), mode=mode)
