"""The HTML capacity report: one self-contained file, a verdict first, then the evidence.

Modules, in the order the report is built: `gather` (reads the store, plan.json and the GPO folder
into `inputs`, and picks the projection), `gpo_names` (the names `auditplan gpo` wrote), `readiness`,
`waves`, `risks`, `assumptions`, `context` (every figure, computed once), `figures` (which charts, from
the context) drawn by `charts` (matplotlib, inline SVG), `render` (HTML and the per-host CSV).
Everything from hosts (names, OS strings, reasons, command lines) is untrusted: the jinja2
environment autoescapes, charts get sanitised labels (text.chart_label), and the per-host CSV
goes through store.export (text.csv_cell) against formula injection.
"""

DEFAULT_TITLE = "Process creation auditing: capacity report"
