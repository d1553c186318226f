"""Is a log's 4688 stream only the early-boot one (Process Creation auditing effectively off)?

With process auditing off, Windows still writes the early-boot 4688s (evtx-data.md §2.2: 11 per
boot, 12 on a sysprep first boot). Both the EVTX ingest and the WinRM sample ask this question of
the 4688s they hold; `is_boot_only` is the one rule.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

# Early-boot processes that log a 4688 even when Process Creation auditing is off (SOURCES.md,
# audit-off baseline; evtx-data.md §2.2): Registry, smss.exe x3, autochk.exe, csrss.exe x2,
# wininit.exe, winlogon.exe, services.exe, lsass.exe, plus setupcl.exe on a sysprep first boot.
BOOT_PROCESSES = frozenset(
    {
        "registry",
        "smss.exe",
        "autochk.exe",
        "setupcl.exe",
        "csrss.exe",
        "wininit.exe",
        "winlogon.exe",
        "services.exe",
        "lsass.exe",
    }
)
MAX_BOOT_4688_PER_BOOT = 12


def is_boot_only(process_names: Sequence[str], cmdline_lengths: Sequence[int]) -> tuple[bool, int]:
    """Decide whether a file's 4688s are only the early-boot ones (auditing effectively off).

    Rule: at least one 4688; every 4688 has an empty (or absent) CommandLine; every
    NewProcessName's base name (case-insensitive) is in BOOT_PROCESSES; and there are at most
    MAX_BOOT_4688_PER_BOOT of them per boot, where boots = max(#Registry, #autochk.exe,
    ceil(#smss.exe / 3)). Returns (boot_only, boots).
    """
    if not process_names or any(n > 0 for n in cmdline_lengths):
        return False, 0
    bases = [_base_name(p) for p in process_names]
    if any(b not in BOOT_PROCESSES for b in bases):
        return False, 0
    counts = Counter(bases)
    boots = max(counts["registry"], counts["autochk.exe"], math.ceil(counts["smss.exe"] / 3))
    if boots == 0 or len(bases) > MAX_BOOT_4688_PER_BOOT * boots:
        return False, boots
    return True, boots


def _base_name(path: str) -> str:
    return path.rsplit("\\", 1)[-1].strip().lower()

