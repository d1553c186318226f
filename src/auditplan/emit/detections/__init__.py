"""The targeted detections: Sigma rules (`rules`), evaluated on sampled 4688 events and scaled to
alerts/day (`evaluation`), secrets counted (`secret_exposure`), and exported as SIEM queries (`queries`).

The names other emit modules (and tests) use are re-exported here.
"""

from auditplan.emit.detections.evaluation import MIN_CMDLINE_SHARE, Evaluation, RuleResult, evaluate
from auditplan.emit.detections.queries import EXPORT_BACKENDS, EXPORT_FORMATS, QUERY_FILE_NAMES, export_queries
from auditplan.emit.detections.rules import (
    CANONICAL_FIELD_NAMES,
    FIELDS_4688,
    RULE_SUFFIXES,
    SAMPLED_COLUMNS,
    WINDOWS_AUDIT_FIELD_MAP,
    Rule,
    builtin_rules_dir,
    canonicalize_field_names,
    load_rules,
    needs_unicode_case_folding,
    rule_files,
    string_pattern,
)
from auditplan.emit.detections.secret_exposure import Exposure, exposure
from auditplan.emit.errors import ExportUnavailable

__all__ = [
    "CANONICAL_FIELD_NAMES", "EXPORT_BACKENDS", "EXPORT_FORMATS", "FIELDS_4688", "MIN_CMDLINE_SHARE",
    "QUERY_FILE_NAMES", "RULE_SUFFIXES",
    "SAMPLED_COLUMNS", "WINDOWS_AUDIT_FIELD_MAP", "Evaluation", "ExportUnavailable", "Exposure", "Rule",
    "RuleResult", "builtin_rules_dir", "canonicalize_field_names", "evaluate", "export_queries", "exposure",
    "load_rules", "needs_unicode_case_folding", "rule_files", "string_pattern",
]
