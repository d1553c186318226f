"""The collect stage: what every host's audit settings, Security log and 4688 volume are.

Outside this package only `collect.api` is imported (import-linter checks it). Inside:
winrm/ (one WinRM conversation per host: transport, probe, survey engine, live trace), parse/ (pure
parsers of tool output and event XML, with the one event builder both paths use), evtx/ (offline
ingest of exported .evtx files), redact/ (secrets in command lines), connection.py (credentials file
and the transport settings built from a user's options).
"""
