"""Records shared by every stage: frozen dataclasses and enums, importing nothing else of auditplan.

survey.py: a host and what one survey (or EVTX ingest) found on it; estimate.py: per-host
estimates and ranges; plan.py: the one plan and its plan.json format.
"""

from auditplan.records.estimate import (
    EstimateSource,
    HostEstimate,
    Range,
)
from auditplan.records.survey import (
    PROCESS_CREATION_GUID,
    REDACTED,
    AuditPolicy,
    AuditSetting,
    Host,
    HostResult,
    HostStatus,
    OSInfo,
    ProbeCaps,
    ProbeCost,
    ProcessTrace,
    ProductType,
    SampledEvent,
    SecurityLog,
    SubcategorySetting,
    SysmonInfo,
    VolumeSample,
)

__all__ = [
    "PROCESS_CREATION_GUID",
    "REDACTED",
    "AuditPolicy",
    "AuditSetting",
    "EstimateSource",
    "Host",
    "HostEstimate",
    "HostResult",
    "HostStatus",
    "OSInfo",
    "ProbeCaps",
    "ProbeCost",
    "ProcessTrace",
    "ProductType",
    "Range",
    "SampledEvent",
    "SecurityLog",
    "SubcategorySetting",
    "SysmonInfo",
    "VolumeSample",
]
