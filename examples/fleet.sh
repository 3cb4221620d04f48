#!/bin/sh
# Two workers on one Redis (REDIS_URL), fed by a producer; then a graceful stop.
set -e
cd "$(dirname "$0")"
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}

node worker.mjs "$REDIS_URL" &
first=$!
node worker.mjs "$REDIS_URL" &
second=$!

node submit.mjs "$REDIS_URL"

kill -TERM "$first" "$second"
wait "$first" "$second"
echo "workers stopped"
