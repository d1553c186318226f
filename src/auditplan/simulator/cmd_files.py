"""The host's files as cmd.exe sees them: an in-memory, case-insensitive file system, path
resolution against the current folder, and the folders every profile has (%TEMP% and friends).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

from auditplan.simulator.tool_texts import CMD_ACCESS_DENIED, CMD_FILE_NOT_FOUND, CMD_PATH_NOT_FOUND

# English here; a shell prints its host's language (Shell.messages, simulator/tool_texts.py).
FILE_NOT_FOUND_TEXT = CMD_FILE_NOT_FOUND
PATH_NOT_FOUND_TEXT = CMD_PATH_NOT_FOUND
# Win32 error 5's text as wevtutil prints it (tool-outputs §3.4/§4.3); that cmd prints the same text
# for a refused redirection is UNVERIFIED (not captured).
ACCESS_DENIED_TEXT = CMD_ACCESS_DENIED
NUL_DEVICE = "NUL"
# The environment variables that name folders a real profile has: they exist when a shell starts.
_FOLDER_VARIABLES = ("TEMP", "TMP", "USERPROFILE", "APPDATA", "LOCALAPPDATA", "SYSTEMROOT", "WINDIR",
                     "PROGRAMDATA", "PROGRAMFILES", "PUBLIC", "ALLUSERSPROFILE")


class FileSystem:
    """The host's files, in memory. Paths are case-insensitive, as on NTFS with default flags."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[str, bytes]] = {}
        self._dirs: set[str] = set()
        self._absent: set[str] = set()  # folders a test removed: make_dirs leaves them (and below) out
        self._read_only: set[str] = set()  # folders where cmd cannot create files
        self._lock = threading.Lock()

    def make_dirs(self, path: str) -> None:
        """Record a folder and its parents as existing (files imply their folders anyway)."""
        parts = self._key(path).rstrip("\\").split("\\")
        with self._lock:
            for n in range(1, len(parts) + 1):
                key = "\\".join(parts[:n])
                if key in self._absent:
                    return
                self._dirs.add(key)

    def remove_dir(self, path: str) -> None:
        """Model a folder that does not exist (e.g. a deleted TEMP), even if a shell names it later."""
        key = self._key(path).rstrip("\\")
        with self._lock:
            self._absent.add(key)
            self._dirs = {d for d in self._dirs if d != key and not d.startswith(key + "\\")}

    def deny_writes(self, path: str) -> None:
        """Model a folder the account may not create files in (a redirection there is refused)."""
        with self._lock:
            self._read_only.add(self._key(path).rstrip("\\"))

    def create_error(self, path: str) -> str | None:
        """cmd's message when a file at `path` cannot be created (a removed or write-denied folder),
        else None. Other folders are not checked: the in-memory tree does not list every folder."""
        folder = self._key(path).rpartition("\\")[0]
        with self._lock:
            if any(folder == a or folder.startswith(a + "\\") for a in self._absent):
                return PATH_NOT_FOUND_TEXT
            if folder in self._read_only:
                return ACCESS_DENIED_TEXT
        return None

    def is_dir(self, path: str) -> bool:
        key = self._key(path).rstrip("\\")
        if re.fullmatch(r"[A-Z]:", key):
            return True
        with self._lock:
            return key in self._dirs or any(k.startswith(key + "\\") for k in self._files)

    @staticmethod
    def _key(path: str) -> str:
        return path.replace("/", "\\").upper()

    def read(self, path: str) -> bytes | None:
        with self._lock:
            entry = self._files.get(self._key(path))
        return None if entry is None else entry[1]

    def exists(self, path: str) -> bool:
        with self._lock:
            return self._key(path) in self._files

    def write(self, path: str, data: bytes, *, append: bool = False) -> None:
        key = self._key(path)
        with self._lock:
            old = self._files.get(key)
            if append and old is not None:
                self._files[key] = (old[0], old[1] + data)
            else:
                self._files[key] = (path, data)

    def create_new(self, path: str, data: bytes) -> bool:
        """Write only if the file does not exist yet (atomic); False when it existed."""
        key = self._key(path)
        with self._lock:
            if key in self._files:
                return False
            self._files[key] = (path, data)
            return True

    def delete(self, path: str) -> bool:
        with self._lock:
            return self._files.pop(self._key(path), None) is not None

    def paths(self) -> list[str]:
        with self._lock:
            return [display for display, _ in self._files.values()]


def make_start_folders(fs: FileSystem, cwd: str, env: Mapping[str, str]) -> None:
    """The start folder and the profile's folders (env keys upper-case) exist on any real host."""
    for folder in (cwd, *(env[k] for k in _FOLDER_VARIABLES if k in env)):
        if re.match(r"^[A-Za-z]:\\", folder):
            fs.make_dirs(folder)


def resolve_path(cwd: str, path: str) -> str:
    """`path` (quotes stripped, / as \\) made absolute against the current folder `cwd`."""
    p = path.strip().strip('"').replace("/", "\\")
    if re.match(r"^[A-Za-z]:\\", p) or p.startswith("\\\\"):
        return _collapse_dots(p)
    if re.match(r"^[A-Za-z]:", p):  # drive-relative: treat as relative to that drive's root
        return _collapse_dots(p[:2] + "\\" + p[2:])
    if p.startswith("\\"):
        return _collapse_dots(cwd[:2] + p)
    return _collapse_dots(cwd.rstrip("\\") + "\\" + p)


def _collapse_dots(path: str) -> str:
    """`.` and `..` components resolved, as GetFullPathName does; other paths unchanged."""
    parts = path.split("\\")
    if path.startswith("\\\\") or not any(p in (".", "..") for p in parts[1:]):
        return path  # UNC paths are left as given
    head, kept = parts[0], list[str]()
    for part in parts[1:]:
        if part == "..":
            if kept:
                kept.pop()
        elif part not in (".", ""):
            kept.append(part)
    return head + "\\" + "\\".join(kept)

