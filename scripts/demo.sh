#!/usr/bin/env bash
# make demo: an agent on SQLite under .demo/, the demo inventory, and the
# quickstart applied with the real terraform. Idempotent: run it again and
# it reuses what is there.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
demo="$root/.demo"
bin="$root/target/debug"
agent_dir="$demo/agent"
port="${GIIF_DEMO_PORT:-7443}"
mkdir -p "$demo"

say() { printf '\n==> %s\n' "$*"; }

if [ ! -f "$agent_dir/agent.toml" ]; then
  say "Initialising the agent state in .demo/agent"
  "$bin/giif-agent" init --dir "$agent_dir" --listen "127.0.0.1:$port" >"$demo/init.txt"
  cat "$demo/init.txt"
fi

say "Importing the demo site inventory"
"$bin/giif-agent" inventory import "$root/examples/site/demo-site.toml" --config "$agent_dir/agent.toml"

running() { [ -f "$demo/agent.pid" ] && kill -0 "$(cat "$demo/agent.pid")" 2>/dev/null; }
if running; then
  say "The agent is already running (pid $(cat "$demo/agent.pid"))"
else
  say "Starting the agent in the background (log: .demo/agent.log)"
  nohup "$bin/giif-agent" serve --config "$agent_dir/agent.toml" >"$demo/agent.log" 2>&1 &
  echo $! >"$demo/agent.pid"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
  done
  running || { cat "$demo/agent.log"; echo "the agent did not start" >&2; exit 1; }
fi

cat >"$demo/terraform.rc" <<RC
provider_installation {
  dev_overrides {
    "registry.terraform.io/giif/giif" = "$bin"
  }
  direct {}
}
RC
cat >"$demo/env" <<ENV
export TF_CLI_CONFIG_FILE='$demo/terraform.rc'
export GIIF_ENDPOINT='127.0.0.1:$port'
export GIIF_CA_CERT='$agent_dir/ca.pem'
export GIIF_CLIENT_CERT='$agent_dir/clients/operator.pem'
export GIIF_CLIENT_KEY='$agent_dir/clients/operator-key.pem'
export CHECKPOINT_DISABLE=1
ENV
# shellcheck disable=SC1091
source "$demo/env"

say "Applying examples/quickstart with terraform (state in .demo/quickstart)"
mkdir -p "$demo/quickstart"
cp "$root"/examples/quickstart/*.tf "$demo/quickstart/"
cd "$demo/quickstart"
terraform apply -auto-approve -input=false -no-color

say "What it made"
terraform state list
terraform output
"$bin/giif-agent" inventory list --config "$agent_dir/agent.toml"

say "A second plan must show no changes"
if terraform plan -detailed-exitcode -input=false -no-color >"$demo/plan.txt" 2>&1; then
  grep -E "No changes" "$demo/plan.txt" || true
else
  cat "$demo/plan.txt"
  echo "the plan after apply is not empty" >&2
  exit 1
fi

cat <<DONE

The agent is still running. To use terraform against the demo site from any
directory:

    source .demo/env

Stop everything with: make demo-down
DONE
