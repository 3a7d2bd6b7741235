#!/usr/bin/env bash
# make demo-down: stops what make demo started. The state stays in .demo/.
set -euo pipefail
demo="$(cd "$(dirname "$0")/.." && pwd)/.demo"
stop() {
  local pidfile="$demo/$1.pid"
  if [ -f "$pidfile" ]; then
    local pid
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      echo "stopped the $2 (pid $pid)"
    fi
    rm -f "$pidfile"
  else
    echo "no demo $2 is running"
  fi
}
stop agent agent
stop sim "simulated site"
data="$demo/guacamole-db"
if [ -f "$data/postmaster.pid" ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null && echo "stopped the Guacamole database"
  else
    "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null && echo "stopped the Guacamole database"
  fi
fi
