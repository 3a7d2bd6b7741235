#!/usr/bin/env bash
# make demo-down: stops what make demo started. The state stays in .demo/.
set -euo pipefail
demo="$(cd "$(dirname "$0")/.." && pwd)/.demo"
if [ -f "$demo/agent.pid" ]; then
  pid=$(cat "$demo/agent.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    echo "stopped the agent (pid $pid)"
  fi
  rm -f "$demo/agent.pid"
else
  echo "no demo agent is running"
fi
