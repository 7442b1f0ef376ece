#!/usr/bin/env bash
# Load figures for an authenticated `GET /api/business/list` (BENCHMARKS.md, "HTTP API").
#
#   bench/http-load.sh                     # embedded SQLite
#   bench/http-load.sh postgres://postgres@127.0.0.1:5432/boardroom_load
#   CACHE_SECS=0 bench/http-load.sh        # every request reads the database
#
# Builds the release binary, starts it on a scratch data folder (and the given
# database, recreated), signs up the first account (the admin), moves it to the
# enterprise tier (no monthly API-call limit), creates three businesses and an API
# token, then measures with standard tools:
#   1. wrk: the most requests per second 64 connections get (2 threads, 20 s);
#   2. hey: latency percentiles at a fixed rate of half that (50 workers, 20 s).
# Needs wrk, hey, curl and python3 (Debian: apt-get install wrk hey curl).
set -euo pipefail
cd "$(dirname "$0")/.."

database_url="${1:-}"
port="${PORT:-18080}"
base="http://127.0.0.1:${port}"
for tool in wrk hey curl python3; do
  command -v "$tool" >/dev/null || { echo "bench/http-load.sh needs $tool (apt-get install $tool)" >&2; exit 1; }
done

cargo build --release --locked --bin boardroom >&2
binary="${CARGO_TARGET_DIR:-target}/release/boardroom"

data_dir="$(mktemp -d)"
if [[ -n "$database_url" ]]; then
  admin_url="${database_url%/*}/postgres"
  name="${database_url##*/}"
  psql "$admin_url" -qc "drop database if exists \"$name\"" -c "create database \"$name\"" >&2
fi
env -i PATH="$PATH" BIND="127.0.0.1:${port}" BOARDROOM_DATA_DIR="$data_dir" DEMO_TENANT=false LOG_LEVEL=warn \
  ${database_url:+DATABASE_URL="$database_url" SECRET_KEY="load-test-secret-key-0123456789abcdef0123"} \
  ${CACHE_SECS:+CACHE_SECS="$CACHE_SECS"} \
  "$binary" serve >"$data_dir/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$data_dir"' EXIT
for _ in $(seq 1 100); do curl -fs "$base/health" >/dev/null && break; sleep 0.1; done
curl -fs "$base/health" >/dev/null || { echo "the server did not start:" >&2; cat "$data_dir/server.log" >&2; exit 1; }

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
cookies="$data_dir/cookies"
curl -fs -c "$cookies" -H 'content-type: application/json' \
  -d '{"email":"load@example.com","password":"load-test-password-1"}' "$base/api/auth/signup" >/dev/null
csrf="$(curl -fs -c "$cookies" -b "$cookies" -H 'content-type: application/json' \
  -d '{"email":"load@example.com","password":"load-test-password-1"}' "$base/api/auth/login" | json "['csrf_token']")"
user_id="$(curl -fs -b "$cookies" "$base/api/auth/profile" | json "['user']['id']")"
write() { curl -fs -b "$cookies" -H "x-csrf-token: $csrf" -H 'content-type: application/json' -X "$1" -d "$3" "$base$2"; }
write PUT "/admin/users/$user_id/tier" '{"tier":"enterprise"}' >/dev/null
for name in Mugs Planners Prints; do write POST /api/business/create "{\"name\":\"$name\"}" >/dev/null; done
token="$(write POST /api/auth/tokens '{"name":"load"}' | json "['token']")"
auth="Authorization: Bearer $token"
curl -fs -H "$auth" "$base/api/business/list" | json "['items'].__len__()" | grep -qx 3

echo "== $(if [[ -n "$database_url" ]]; then echo PostgreSQL; else echo SQLite; fi): GET /api/business/list, bearer token, 3 businesses, CACHE_SECS=${CACHE_SECS:-2 (default)}"
echo "-- warm-up"
wrk -t2 -c64 -d5s -H "$auth" "$base/api/business/list" >/dev/null
echo "-- wrk, 64 connections, 20 s (most requests per second)"
wrk -t2 -c64 -d20s --latency -H "$auth" "$base/api/business/list" | tee "$data_dir/wrk.txt"
peak="$(awk '/Requests\/sec/ {print int($2)}' "$data_dir/wrk.txt")"
half=$((peak / 2))
per_worker=$(( (half + 49) / 50 ))
echo "-- hey, fixed rate of half the peak: 50 workers x ${per_worker} req/s = $((per_worker * 50)) req/s, 20 s"
hey -z 20s -c 50 -q "$per_worker" -H "$auth" "$base/api/business/list" | sed -n '/Summary/,/Status code distribution/p'
echo "-- server resident memory: $(awk '/VmRSS/ {print $2, $3}' "/proc/$server/status")"
