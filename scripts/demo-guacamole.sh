#!/usr/bin/env bash
# The demo's Guacamole database: a throwaway PostgreSQL in .demo/guacamole-db
# on 127.0.0.1:${GIIF_DEMO_GUAC_PORT:-7432}, loaded with the Guacamole schema
# the project carries for its tests, with the quickstart's users. Prints the
# database URL. Idempotent. (There is no Guacamole web app in the demo: the
# console links point where it would run.)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
demo="$root/.demo"
data="$demo/guacamole-db"
port="${GIIF_DEMO_GUAC_PORT:-7432}"
schema="${GIIF_GUACAMOLE_SCHEMA_DIR:-$root/tests/fixtures/guacamole}/postgresql"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries are missing (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ ! -f "$data/PG_VERSION" ]; then
  mkdir -p "$data"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
  as_pg "$bin/initdb" --auth=trust --username=postgres --encoding=UTF8 --no-sync -D "$data" >"$demo/guacamole-initdb.log"
fi
if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data" start >/dev/null
fi
psql_admin() { psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'guacamole_db'")" != 1 ]; then
  psql_admin -d postgres -c "CREATE DATABASE guacamole_db"
  psql_admin -d guacamole_db -f "$schema/001-create-schema.sql" -f "$schema/002-create-admin-user.sql" >/dev/null
  psql_admin -d guacamole_db <<'SQL' >/dev/null
CREATE USER guacamole_user WITH PASSWORD 'demo-only-password';
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO guacamole_user;
GRANT SELECT, USAGE ON ALL SEQUENCES IN SCHEMA public TO guacamole_user;
-- The quickstart's users, as Guacamole's web app would create them.
INSERT INTO guacamole_entity (name, type) VALUES ('prof.curie', 'USER'), ('student01', 'USER');
INSERT INTO guacamole_user (entity_id, password_hash, password_date)
  SELECT entity_id, decode('00', 'hex'), now() FROM guacamole_entity WHERE name IN ('prof.curie', 'student01');
SQL
fi
echo "postgresql://guacamole_user:demo-only-password@127.0.0.1:$port/guacamole_db"
