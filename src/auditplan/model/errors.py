"""The model stage's own error for bad input that is neither config (ConfigError) nor a plan
(records.PlanError): no store, no estimates, a host list or output folder it cannot use."""

from __future__ import annotations


class ModelError(ValueError):
    """Input the model cannot work from; the message names the file (or store) and what is wrong."""
