"""Surveying hosts over WinRM: settings.py (how to reach a host), transport.py (one shell, one command
line, metered and bounded), faults.py (every failure as a HostStatus), probe.py (the one cmd.exe line
and its sections), interpret.py (sections -> records), trace.py (the opt-in live trace) and
survey.py (the bounded concurrent engine that saves each host as it ends)."""
