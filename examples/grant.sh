#!/bin/sh
# Host files for the guest, read-only: a directory granted at its own path, and a policy file.
set -e
cd "$(dirname "$0")"

# A host directory, shown read-only at the same path; everything else on the host stays invisible.
npx pypy-box interact --allow-read "$PWD/report" -c 'import os, sys; print(sorted(os.listdir(sys.argv[1])))' "$PWD/report"

# A policy file: a host directory at another virtual path, filtered by globs, with a deny rule.
npx pypy-box interact --policy policy.json -c '
import os
print(sorted(os.listdir("/licenses")), os.environ["LANG"])
try:
    open("/licenses/GPL-2")
except PermissionError as e:
    print("GPL-2:", e.strerror)'
