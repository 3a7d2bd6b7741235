#!/usr/bin/env bash
# make demo: the simulated site (giif-sim), an agent on SQLite under .demo/
# with the site's inventory, a check of every device through the agent's
# drivers, and the quickstart applied with the real terraform. Idempotent:
# run it again and it reuses what is running.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
demo="$root/.demo"
bin="$root/target/debug"
agent_dir="$demo/agent"
port="${GIIF_DEMO_PORT:-7443}"
mkdir -p "$demo"

say() { printf '\n==> %s\n' "$*"; }

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
wait_for_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

sim_dir="$demo/sim"
if running "$demo/sim.pid"; then
  say "The simulated site is already running (pid $(cat "$demo/sim.pid"))"
else
  say "Starting the simulated site (log: .demo/sim.log, Proxmox requests: .demo/pve-requests.jsonl)"
  rm -f "$sim_dir/site.toml"
  nohup "$bin/giif-sim" --site "$root/examples/site/demo-sim.toml" --inventory-dir "$sim_dir" \
    --request-log "$demo/pve-requests.jsonl" --admin "127.0.0.1:${GIIF_DEMO_SIM_ADMIN_PORT:-7480}" \
    >"$demo/sim.log" 2>&1 &
  echo $! >"$demo/sim.pid"
  for _ in $(seq 1 100); do [ -f "$sim_dir/site.toml" ] && break; sleep 0.1; done
  [ -f "$sim_dir/site.toml" ] || { cat "$demo/sim.log"; echo "the simulated site did not start" >&2; exit 1; }
fi

if [ ! -f "$agent_dir/agent.toml" ]; then
  say "Initialising the agent state in .demo/agent"
  "$bin/giif-agent" init --dir "$agent_dir" --listen "127.0.0.1:$port" >"$demo/init.txt"
  cat "$demo/init.txt"
fi

# A state made before the agent kept principals: record its operator certificate (a no-op after that).
"$bin/giif-agent" identity adopt "$agent_dir/clients/operator.pem" --role operator \
  --config "$agent_dir/agent.toml" >/dev/null

say "Starting the demo's Guacamole database (PostgreSQL in .demo/guacamole-db)"
guac_url=$("$root/scripts/demo-guacamole.sh")
(umask 077 && printf '%s' "$guac_url" >"$sim_dir/guacamole-db-url")
if ! grep -q '^\[guacamole\]' "$sim_dir/site.toml"; then
  cat >>"$sim_dir/site.toml" <<SITE

[guacamole]
database_url = { file = "guacamole-db-url" }
public_url = "http://localhost:8080/guacamole"
SITE
fi

say "Importing the simulated site's inventory"
"$bin/giif-agent" inventory import "$sim_dir/site.toml" --config "$agent_dir/agent.toml"

if running "$demo/agent.pid"; then
  say "The agent is already running (pid $(cat "$demo/agent.pid"))"
else
  say "Starting the agent in the background (log: .demo/agent.log)"
  nohup "$bin/giif-agent" serve --config "$agent_dir/agent.toml" >"$demo/agent.log" 2>&1 &
  echo $! >"$demo/agent.pid"
  wait_for_port "$port" && running "$demo/agent.pid" || { cat "$demo/agent.log"; echo "the agent did not start" >&2; exit 1; }
fi

say "Checking every device of the site through the agent's drivers"
GIIF_LOG=error "$bin/giif-agent" site check --config "$agent_dir/agent.toml"

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
gateway_ip=$(terraform output -raw gateway_public_ip)
echo
echo "The floating IP $(terraform output -raw floating_ip) is NATed by the gateway $gateway_ip; its rules in the simulated site:"
curl -s "http://127.0.0.1:${GIIF_DEMO_SIM_ADMIN_PORT:-7480}/pagw/$gateway_ip" | python3 -c 'import json,sys; g=json.load(sys.stdin).get("gateway") or {}; print(json.dumps((g.get("live") or {}).get("dnat"), indent=2))' || true
echo
echo "Consoles (each link opens in Guacamole's web app at the site's public_url; the demo has no web app):"
terraform output -json consoles | python3 -c 'import json,sys; [print(f"  {k:<12} {v}") for k, v in sorted(json.load(sys.stdin).items())]'
echo "Guacamole's tree in the demo database:"
psql "$guac_url" -qAt <<'SQL' | sed 's/^/  /'
WITH RECURSIVE tree(id, path) AS (
  SELECT connection_group_id, connection_group_name::text FROM guacamole_connection_group WHERE parent_id IS NULL
  UNION ALL
  SELECT g.connection_group_id, t.path || '/' || g.connection_group_name
  FROM guacamole_connection_group g JOIN tree t ON g.parent_id = t.id)
SELECT path || '/' FROM tree
UNION ALL SELECT t.path || '/' || c.connection_name FROM guacamole_connection c JOIN tree t ON c.parent_id = t.id
ORDER BY 1;
SQL
echo
echo "The simulated site's state: curl -s http://127.0.0.1:${GIIF_DEMO_SIM_ADMIN_PORT:-7480}/state"
echo "Proxmox API requests so far: $(wc -l <"$demo/pve-requests.jsonl") (in .demo/pve-requests.jsonl)"
echo
echo "Who changed what (giif-agent audit; the first lines):"
"$bin/giif-agent" audit --config "$agent_dir/agent.toml" | head -n 12 | cut -c1-160

say "A second plan must show no changes"
if terraform plan -detailed-exitcode -input=false -no-color >"$demo/plan.txt" 2>&1; then
  grep -E "No changes" "$demo/plan.txt" || true
else
  cat "$demo/plan.txt"
  echo "the plan after apply is not empty" >&2
  exit 1
fi

cat <<DONE

The agent and the simulated site are still running. To use terraform against
the demo site from any directory:

    source .demo/env

Stop everything with: make demo-down
DONE
