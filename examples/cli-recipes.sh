#!/bin/sh
# Everyday runs from the command line, in a project directory (here: examples/report).
set -e
cd "$(dirname "$0")/report"

# A script of the current directory: its directory is shown read-only at /app (sibling modules
# import as they would with `python report.py`); the guest's working directory is the writable /tmp.
npx pypy-box interact report.py

# An input file copied into the writable /tmp before the run (the host file is only read).
npx pypy-box interact --tmp-file sales.csv report.py

# What the guest wrote under /tmp/out, copied to a host directory after the run.
out=$(mktemp -d)
npx pypy-box interact --tmp-file sales.csv --export /tmp/out:"$out/result" report.py >/dev/null
cat "$out/result/summary.txt"
rm -rf "$out"
