#!/bin/sh
# promtool_check.sh — renders a fully populated /metrics text through
# test_metrics (its format_lint test writes $CONVOY_METRICS_DUMP) and checks it
# with `promtool check metrics` (Debian package prometheus); exits 77 (skip)
# when promtool is not installed. Usage: promtool_check.sh path/to/test_metrics
set -eu
bin=${1:?usage: promtool_check.sh TEST_METRICS_BINARY}
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not installed (apt-get install prometheus): skipping"
  exit 77
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT INT TERM
CONVOY_METRICS_DUMP=$tmp "$bin" format_lint
if [ ! -s "$tmp" ]; then
  echo "test_metrics rendered nothing into $tmp"
  exit 1
fi
# promtool prints lint problems and exits non-zero on any of them.
out=$(promtool check metrics <"$tmp" 2>&1) || { echo "$out"; echo "promtool check metrics failed"; exit 1; }
if [ -n "$out" ]; then
  echo "$out"
  echo "promtool reported problems"
  exit 1
fi
echo "promtool check metrics: $(grep -c '^[a-z]' "$tmp") samples OK"
