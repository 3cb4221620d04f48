#!/bin/sh
# Limits from the command line: each one reached ends the run with its own exit code.
cd "$(dirname "$0")"

# Wall-clock time: a guest that never ends is killed after 2 s (exit 124).
npx pypy-box interact --timeout 2 -c 'while True: pass'
echo "timeout: exit $?"

# Output: 1 MiB at most, then the guest is stopped (exit 125, another limit).
npx pypy-box interact --output-limit 1m -c 'while True: print("x" * 1000)' >/dev/null
echo "output: exit $?"

# Open descriptors: past the cap an open fails with EMFILE, the run goes on.
npx pypy-box interact --max-open-files 8 -c '
files = []
try:
    while True: files.append(open("/dev/null"))
except OSError as e:
    print(len(files), "open, then", e.strerror)'
echo "open files: exit $?"
