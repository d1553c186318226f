"""auditplan: plan process-creation auditing (Security event 4688 with command line) on a Windows fleet."""

__version__ = "0.1.0"
