# Sourced by scripts/test.sh (after pg-env.sh, for `log`): start_redis starts
# a throwaway Redis node and a Redis Cluster of 3 masters with a replica
# each, on free loopback ports (installing Debian's redis-server and
# redis-tools first when they are missing and we are root), exports
# AUS_REDIS_URL and AUS_REDIS_CLUSTER_NODES for the tests, and stops them on exit.
# With AUS_REDIS_URL and AUS_REDIS_CLUSTER_NODES already set, it uses those.
# (Not REDIS_URL: that one puts the demo on Redis, and tests run the demo.)
# The fault test restarts cluster nodes: AUS_REDIS_CLUSTER_DIR tells it where
# each node's config is (node-PORT.conf).

REDIS_TMP=""
REDIS_PIDS=()

redis_cleanup() {
  local pid f i alive pids=("${REDIS_PIDS[@]}")
  if [ -n "$REDIS_TMP" ] && [ -d "$REDIS_TMP" ]; then
    # Nodes the fault test restarted write their pid beside their config.
    for f in "$REDIS_TMP"/*.pid; do
      [ -f "$f" ] && pids+=("$(cat "$f")")
    done
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # A cluster node rewrites its config as it shuts down: the directory is
  # removed once every node has exited (10 s, then SIGKILL), or a file
  # written during the removal fails it ("Directory not empty").
  for i in $(seq 1 100); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  if [ -n "$REDIS_TMP" ] && [ -d "$REDIS_TMP" ]; then
    rm -rf "$REDIS_TMP" || log "could not remove $REDIS_TMP (left behind)"
  fi
  return 0
}

ensure_redis() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian's redis-server and redis-tools for the Redis tests"
    # apt_install (pg-env.sh) keeps the package's own server from starting.
    apt_install redis-server redis-tools
  else
    log "redis-server/redis-cli missing: the Redis tests will fail."
    log "Install them (Debian/Ubuntu: sudo apt-get install redis-server redis-tools)."
    exit 1
  fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first of N consecutive free ports whose cluster-bus twins (+10000)
# are free too.
free_redis_ports() {
  local n=$1 p i ok
  for p in $(seq 21000 7 22900); do
    ok=1
    for i in $(seq 0 $((n - 1))); do
      if ! port_free $((p + i)) || ! port_free $((p + i + 10000)); then ok=0; break; fi
    done
    if [ $ok = 1 ]; then echo "$p"; return; fi
  done
  log "no free ports for Redis in 21000-22900"; exit 1
}

redis_node() { # port, extra args...
  local port=$1; shift
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$REDIS_TMP" --logfile "$REDIS_TMP/redis-$port.log" --daemonize no "$@" &
  REDIS_PIDS+=($!)
  local i
  for i in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return
    sleep 0.1
  done
  log "Redis on port $port did not start: $(tail -n 5 "$REDIS_TMP/redis-$port.log")"; exit 1
}

start_redis() {
  if [ -n "${AUS_REDIS_URL:-}" ] && [ -n "${AUS_REDIS_CLUSTER_NODES:-}" ]; then
    log "using AUS_REDIS_URL and AUS_REDIS_CLUSTER_NODES from the environment"
    return
  fi
  ensure_redis
  REDIS_TMP=$(mktemp -d /tmp/aus-redis.XXXXXX)
  local single base i nodes=()
  single=$(free_redis_ports 1)
  redis_node "$single"
  export AUS_REDIS_URL="redis://127.0.0.1:$single"
  base=$(free_redis_ports 6)
  for i in 0 1 2 3 4 5; do
    redis_node $((base + i)) --cluster-enabled yes \
      --cluster-config-file "$REDIS_TMP/node-$((base + i)).conf" \
      --cluster-node-timeout 1000 --cluster-replica-validity-factor 0
    nodes+=("127.0.0.1:$((base + i))")
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$REDIS_TMP/create.log" 2>&1 \
    || { log "redis-cli --cluster create failed: $(tail -n 5 "$REDIS_TMP/create.log")"; exit 1; }
  for i in $(seq 1 200); do
    if redis-cli -p "$base" cluster info 2>/dev/null | grep -q 'cluster_state:ok' \
      && [ "$(redis-cli -p "$base" cluster nodes 2>/dev/null | grep -c slave)" = 3 ]; then
      break
    fi
    sleep 0.1
  done
  # Every replica in sync with its master before a test runs: a write
  # acknowledged with WAIT needs one (a test starting during the first full
  # sync would get 503s).
  local synced=0 port info
  for i in $(seq 1 300); do
    synced=1
    for port in $(seq "$base" $((base + 5))); do
      info=$(redis-cli -p "$port" info replication 2>/dev/null | tr -d '\r')
      if echo "$info" | grep -q '^role:master'; then
        echo "$info" | grep -q '^slave0:.*state=online' || synced=0
      else
        echo "$info" | grep -q '^master_link_status:up' || synced=0
      fi
    done
    [ "$synced" = 1 ] && break
    sleep 0.1
  done
  [ "$synced" = 1 ] || { log "the Redis Cluster's replicas did not sync within 30 s"; exit 1; }
  AUS_REDIS_CLUSTER_NODES=$(IFS=,; echo "${nodes[*]}")
  export AUS_REDIS_CLUSTER_NODES AUS_REDIS_CLUSTER_DIR="$REDIS_TMP"
  log "throwaway Redis on port $single, Redis Cluster (3 masters, 3 replicas) on ports $base-$((base + 5))"
}
