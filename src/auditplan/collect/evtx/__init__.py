"""Offline ingest of exported .evtx files: file.py (the file's frame: EVTX at all, cut short),
scan.py (one fast pass over the records), ingest.py (one file -> FileSummary and HostResult),
summary.py (what a file held), merge.py (a host's several files -> one result)."""

from auditplan.collect.evtx.ingest import DEFAULT_MAX_FILE_BYTES, DEFAULT_SAMPLE_SIZE, ingest_file
from auditplan.collect.evtx.merge import merge_results
from auditplan.collect.evtx.summary import FileSummary, IngestOutcome

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_SAMPLE_SIZE",
    "FileSummary",
    "IngestOutcome",
    "ingest_file",
    "merge_results",
]
