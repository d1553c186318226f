"""What `estimate`, `project` and `plan` read from the store: the store itself (opened once per
run), the estimates `auditplan estimate` saved with the survey's hosts frame, and the
subcategories each host sets locally (which a wave's GPO must carry)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

from auditplan.model.errors import ModelError
from auditplan.records import PROCESS_CREATION_GUID, HostEstimate, LocalSubcategory
from auditplan.store import Store

ESTIMATE_RUN: Final = "latest"  # the store label `auditplan estimate` saves its estimates under
MAKES_RESULTS: Final = "`auditplan survey` or `auditplan ingest`"
MAKES_ESTIMATES: Final = "`auditplan survey` (or ingest) and `auditplan estimate`"


@contextmanager
def opened(source: Store | Path, first: str) -> Iterator[Store]:
    """`source` as an open Store: a Store as it is (the caller closes it), a path opened here and
    closed on exit; ModelError when no store file is there (`first` says which command makes it)."""
    if isinstance(source, Store):
        yield source
        return
    if not source.is_file():
        raise ModelError(f"{source}: no store here; run {first} first")
    with Store(source) as store:
        yield store


@dataclass(frozen=True)
class Estimates:
    """What a projection projects: the store's latest estimates and its survey facts."""

    run: str
    estimates: list[HostEstimate]
    survey: pd.DataFrame  # Store.hosts_frame()


def load_estimates(store: Store) -> Estimates:
    """The estimates `auditplan estimate` saved and the hosts frame; ModelError when there are none."""
    estimates = store.load_estimates(ESTIMATE_RUN)
    if not estimates:
        raise ModelError(f"{store.path}: no estimates saved; run `auditplan estimate --db {store.path}` first")
    return Estimates(ESTIMATE_RUN, estimates, store.hosts_frame())


def load_local_subcategories(store: Store) -> dict[str, list[LocalSubcategory]]:
    """Advanced-audit subcategories set locally on each stored host (other than Process Creation)."""
    out: dict[str, list[LocalSubcategory]] = {}
    for result in store.load_results():
        if result.audit is None:
            continue
        subs = {
            LocalSubcategory(s.guid.lower(), s.setting, s.name)
            for s in result.audit.subcategories
            if s.guid.lower() != PROCESS_CREATION_GUID and s.setting.value != "none"
        }
        if subs:
            out[result.host.name] = sorted(subs)
    return out
