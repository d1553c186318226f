"""The collection side: per-wave WEF, Splunk, Sentinel and Winlogbeat configs, and noise filters
derived from measured events that no enabled detection rule fires on (docs/forwarding.md)."""
