"""Pure parsers of untrusted host text: built-in tools' output (tools.py), event XML and the one
event -> SampledEvent builder (events.py), and the early-boot rule (boot.py). Nothing here raises
on host input: a problem becomes a ParseError."""
