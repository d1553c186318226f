"""The rules in a SIEM's query language, through the matching pySigma backend (if installed)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import yaml
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.pipelines.windows.windows import windows_audit_pipeline
from sigma.rule import SigmaRule

from auditplan.emit.detections.rules import canonicalize_field_names
from auditplan.emit.errors import ExportUnavailable
from auditplan.text import error_line

EXPORT_BACKENDS: Final = {
    # format: (backend module, backend class, pipeline module, pipeline function, pip package)
    "splunk": ("sigma.backends.splunk", "SplunkBackend", "sigma.pipelines.splunk", "splunk_windows_pipeline",
               "pysigma-backend-splunk"),
    "kusto": ("sigma.backends.kusto", "KustoBackend", "sigma.pipelines.azuremonitor", "azure_monitor_pipeline",
              "pysigma-backend-kusto"),
    "elastic": ("sigma.backends.elasticsearch", "LuceneBackend", "sigma.pipelines.elasticsearch.windows",
                "ecs_windows", "pysigma-backend-elasticsearch"),
}
# The file a backend's queries go to by default, and inside a folder given as --out.
QUERY_FILE_NAMES: Final = {"splunk": "detections.spl", "kusto": "detections.kql", "elastic": "detections-elastic.txt"}
# What `detections export --format` takes: the rule files, a SCOM pack, or one backend's queries.
EXPORT_FORMATS: Final = ("sigma", "scom", *EXPORT_BACKENDS)


def export_queries(files: Sequence[Path], fmt: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(rule file, query) pairs in a SIEM query language, through the matching pySigma backend.

    A file that cannot be read or converted is skipped with one problem line naming it (as `load_rules`).
    """
    module_name, class_name, pipeline_module, pipeline_name, package = EXPORT_BACKENDS[fmt]
    try:
        backend_cls = getattr(importlib.import_module(module_name), class_name)
        pipeline = getattr(importlib.import_module(pipeline_module), pipeline_name)()
    except (ImportError, AttributeError):
        raise ExportUnavailable(f"--format {fmt} needs the pySigma backend: pip install {package}") from None
    backend = backend_cls(windows_audit_pipeline() + pipeline)
    out: list[tuple[str, str]] = []
    problems: list[str] = []
    for file in files:
        try:
            collection = SigmaCollection.from_yaml(file.read_text(encoding="utf-8"))
            for rule in collection.rules:
                if isinstance(rule, SigmaRule):
                    canonicalize_field_names(rule)  # as evaluate and the SCOM export read them
            queries = backend.convert(collection)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file}: cannot read: {exc}")
            continue
        except (SigmaError, yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError) as exc:
            first_line = error_line(exc)
            problems.append(f"{file}: not converted to {fmt}: {first_line}")
            continue
        out += [(file.name, str(query)) for query in queries]
    return out, problems
