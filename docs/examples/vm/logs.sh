#!/bin/sh
# Reads the Docker extension's JSON logs on the VM with jq. Run as root (the logs are mode 0600).
# usage: sudo sh logs.sh [sequence number]
set -eu
cd "${LOG_DIR:-/var/log/azure/Microsoft.Azure.Extensions.DockerExtension}"

echo '== warnings and errors, one line each'
jq -r 'select(.level >= 40) | "\(.time) \(.op) seq=\(.seq // "-") \(.event // .msg) \(.err // "")"' handler.log

if [ -n "${1:-}" ]; then
  echo "== everything configuration $1 did"
  jq -c --argjson seq "$1" 'select(.seq == $seq) | {time, op, event, err}' handler.log
fi

echo '== the last 50 lines, readable'
tail -n 50 handler.log | jq -r '"\(.time) [\(.level)] \(.op): \(.event // .msg)"'

if [ -f monitor.log ]; then
  echo '== what the monitor saw change'
  jq -r '"\(.time) \(.event) \(.status // "") \(.message // "")"' monitor.log
fi
