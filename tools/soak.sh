#!/bin/sh
# The long reliability run (`make soak`): thousands of fuzzed notebooks, 400 kill trials,
# 20k cells of memory tracking; writes benchmarks/results/reliability.{md,json}.
set -eu
cd "$(dirname "$0")/.."
export ELASTIC_SOAK=1
export ELASTIC_RELIABILITY_REPORT="${ELASTIC_RELIABILITY_REPORT:-benchmarks/results/reliability.md}"
exec .venv/bin/python -m pytest tests/reliability --timeout 0 "$@"
