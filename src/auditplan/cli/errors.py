"""Turning a stage's input errors into click usage errors: a clear message and exit 2, no traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click


@contextmanager
def usage_error_on(*errors: type[Exception]) -> Iterator[None]:
    """Turns `errors` (ConfigError, StoreError: their messages name the file) into a UsageError, no traceback."""
    try:
        yield
    except errors as exc:
        raise click.UsageError(str(exc)) from None

