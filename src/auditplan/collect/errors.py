"""The collect stage's own errors. Each message is one line naming the option, file or host."""

from __future__ import annotations


class CollectError(Exception):
    """A collect input is unusable; the message says which and why (no traceback needed)."""


class SettingsError(CollectError, ValueError):
    """The transport settings are unusable; the message says which option and why."""


class CredentialsError(CollectError):
    """A credentials file, or the password source, is unusable; the message names it."""


class ProbeOptionsError(CollectError, ValueError):
    """The probe options cannot work (a value out of range, or a command line cmd.exe would refuse)."""
