#!/bin/sh
# The `pypy-box` command as the package installs it (dist/controller/pypy-box, copied from
# controller/pypy-box.sh). It runs the native client when the install built it (it hands
# `interact` runs to a warm command server: docs/server.md), else the command in Node.
self=$(readlink -f -- "$0" 2>/dev/null) || self=$0
here=${self%/*}
client=${here%/dist/controller}/build/native/pypy-box-client
if [ -x "$client" ]; then exec "$client" "$@"; fi
exec node "$here/pypy-box.cjs" "$@"
