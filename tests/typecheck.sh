#!/usr/bin/env bash
# Strict mypy (the [tool.mypy] config in pyproject.toml) over the test, bench and tools/ code.
# Why a loop: tests import helper modules by folder (pytest's default "prepend" import mode) and
# tests/ and tests/integration/ each have a conftest.py, so one mypy run over everything would see
# two modules named conftest. Each folder is checked on its own, with itself and tests/ on the path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

for dir in tests tests/cli tests/clients tests/collect tests/emit tests/integration tests/model tests/simulator bench tools; do
  path="src:$dir:tests"
  # bench/report.py and bench/redaction.py put these on sys.path themselves, for shared test data
  if [ "$dir" = bench ]; then path="$path:tests/emit:tests/collect"; fi
  # tests/cli reuses the report tests' fleet (tests/emit/report_fixtures.py), put on sys.path by the test
  if [ "$dir" = tests/cli ]; then path="$path:tests/emit"; fi
  MYPYPATH="$path" .venv/bin/mypy "$dir"/*.py
done
