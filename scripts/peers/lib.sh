# Shared helpers for scripts/peers/*.sh (sourced, not run). Bash, `set -euo pipefail` in the callers.
#
# Conventions: everything informative goes to stderr; only `start` prints one line (the URL) on stdout.
# Layout under $ALIEN_PEERS_DIR (default ~/.cache/alien-emulator/peers):
#   <peer>/                 the peer's venv (reused when its install stamp matches)
#   run/<peer>-PORT.pid     pid of the server (also its process-group id: started with setsid)
#   run/<peer>-PORT.log     server stdout+stderr (removed by stop unless ALIEN_PEERS_KEEP_LOGS=1;
#                           kept when start fails)
#   run/<peer>-PORT.tmp/    per-instance TMPDIR (LocalStack deletes $TMPDIR/localstack on exit)

PEERS_DIR="${ALIEN_PEERS_DIR:-$HOME/.cache/alien-emulator/peers}"
RUN_DIR="$PEERS_DIR/run"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '%s: %s\n' "$PEER" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PEER" "$*" >&2; exit 1; }

need_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "required command '$1' not found on PATH ($2)"
}

# Seconds since the epoch with sub-second precision, for "took N s" messages.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Python major.minor.micro of an interpreter, empty when it does not run.
py_version() {
  "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true
}

sha_of() { sha256sum "$1" | cut -c1-16; }

# Serialise installs of one peer (parallel CI steps, or start racing install).
with_install_lock() {
  mkdir -p "$PEERS_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$PEERS_DIR/.$PEER.lock"
    flock -w 900 9 || die "timed out after 900 s waiting for the install lock $PEERS_DIR/.$PEER.lock"
  fi
}
# Must be called before starting a server, or the server inherits fd 9 and holds the lock forever.
release_install_lock() { exec 9>&-; }

# ensure_venv VENV PYTHON STAMP PIP_ARGS...
# Reuses VENV when VENV/.alien-stamp equals STAMP and its python still runs; otherwise
# recreates it and pip-installs PIP_ARGS. Prints one line saying what it did.
ensure_venv() {
  local venv="$1" py="$2" stamp="$3"
  shift 3
  if [ -f "$venv/.alien-stamp" ] && [ "$(cat "$venv/.alien-stamp")" = "$stamp" ] \
    && "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "already installed in $venv ($stamp)"
    return 0
  fi
  local t0
  t0="$(now)"
  if [ -e "$venv" ]; then
    log "removing stale venv $venv (stamp differs or its python is gone)"
    rm -rf "$venv"
  fi
  log "creating venv $venv with $py ($(py_version "$py"))"
  "$py" -m venv "$venv" >&2 || die "'$py -m venv $venv' failed (is the venv/ensurepip module installed?)"
  log "pip install $* (takes 1-2 minutes the first time)"
  if ! "$venv/bin/python" -m pip install --quiet --no-input --disable-pip-version-check "$@" >&2; then
    rm -rf "$venv"
    die "pip install failed for: $* (see pip output above; PyPI must be reachable)"
  fi
  printf '%s\n' "$stamp" >"$venv/.alien-stamp"
  log "installed in $venv in $(elapsed "$t0") s"
}

# A free TCP port on 127.0.0.1 (the kernel picks it; tiny race until the server binds it).
free_port() {
  "$1" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_port_arg() {
  case "$1" in
    '' | *[!0-9]*) die "--port needs a number, got '$1'" ;;
  esac
  [ "$1" -ge 1 ] && [ "$1" -le 65535 ] || die "--port out of range: $1"
}

pid_file() { printf '%s/%s-%s.pid' "$RUN_DIR" "$PEER" "$1"; }
log_file() { printf '%s/%s-%s.log' "$RUN_DIR" "$PEER" "$1"; }

# True when PID is alive and its command line matches the peer's server pattern
# (guards against a recycled pid in a stale pid file).
is_our_server() {
  local pid="$1" stat cmd
  kill -0 "$pid" 2>/dev/null || return 1
  stat="$(ps -p "$pid" -o stat= 2>/dev/null)" || return 1
  case "$stat" in *Z*) return 1 ;; esac # exited, waiting to be reaped
  cmd="$(ps -p "$pid" -o args= 2>/dev/null)" || return 1
  case "$cmd" in
    *"$SERVER_PATTERN"*) return 0 ;;
    *) return 1 ;;
  esac
}

# Live (non-zombie) pids of the process group PGID (the server and anything it spawned).
group_pids() { ps -e -o pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'; }

# Resident memory (KiB) summed over the process group.
group_rss_kb() { ps -e -o pgid=,rss= | awk -v g="$1" '$1 == g { s += $2 } END { print s + 0 }'; }

log_tail() {
  local f="$1"
  if [ -s "$f" ]; then
    printf '%s: ---- last 30 lines of %s ----\n' "$PEER" "$f" >&2
    tail -n 30 "$f" >&2
    printf '%s: ----\n' "$PEER" >&2
  fi
}

# kill_group PID GRACE_SECONDS: SIGTERM the group, SIGKILL whatever is left after the grace period.
kill_group() {
  local pid="$1" grace="$2" i=0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  while [ -n "$(group_pids "$pid")" ] && [ "$i" -lt $((grace * 10)) ]; do
    sleep 0.1
    i=$((i + 1))
  done
  if [ -n "$(group_pids "$pid")" ]; then
    log "pid $pid still running after ${grace}s, sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
}

# is_ready URL: GET answers 2xx (and its body contains $READY_BODY when that is set).
is_ready() {
  local body
  body="$(curl -fsS --max-time 2 "$1" 2>/dev/null)" || return 1
  [ -z "${READY_BODY:-}" ] && return 0
  case "$body" in *"$READY_BODY"*) return 0 ;; *) return 1 ;; esac
}

# launch PORT TIMEOUT READY_PATH CMD...: starts CMD detached (own session/process group, stdin
# /dev/null, output to the log), polls http://127.0.0.1:PORT/READY_PATH until is_ready,
# then writes the pid file. Environment for CMD must be exported by the caller.
# Returns 0 when ready, 2 when the server died with "address in use" (caller may retry), dies otherwise.
launch() {
  local port="$1" timeout="$2" ready_path="$3"
  shift 3
  local pidf logf pid t0 deadline
  pidf="$(pid_file "$port")"
  logf="$(log_file "$port")"
  mkdir -p "$RUN_DIR"
  : >"$logf"
  t0="$(now)"
  setsid "$@" </dev/null >"$logf" 2>&1 9>&- &
  pid=$!
  deadline=$((SECONDS + timeout))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      if grep -qi -e 'address already in use' -e 'errno 98' "$logf"; then
        return 2
      fi
      log_tail "$logf"
      die "server exited before it became ready on port $port (command: $*; log: $logf)"
    fi
    if is_ready "http://127.0.0.1:$port$ready_path"; then
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill_group "$pid" 5
      log_tail "$logf"
      die "server did not answer GET http://127.0.0.1:$port$ready_path within ${timeout}s (log: $logf)"
    fi
    sleep 0.1
  done
  printf '%s\n' "$pid" >"$pidf"
  log "ready on http://127.0.0.1:$port in $(elapsed "$t0") s (pid $pid, log $logf)"
  return 0
}

# start_common PY TIMEOUT READY_PATH PORT_OR_EMPTY -- CMD... (CMD may contain the literal word
# @PORT@, replaced by the chosen port). Prints the URL on stdout.
start_common() {
  local py="$1" timeout="$2" ready_path="$3" port="$4" auto=0 attempt rc pidf old
  shift 5
  need_cmd curl "used to poll readiness"
  need_cmd setsid "util-linux; detaches the server into its own process group"
  mkdir -p "$RUN_DIR"
  if [ -z "$port" ]; then auto=1; fi
  for attempt in 1 2 3; do
    if [ "$auto" = 1 ]; then port="$(free_port "$py")"; fi
    pidf="$(pid_file "$port")"
    if [ -f "$pidf" ]; then
      old="$(cat "$pidf")"
      if is_our_server "$old"; then
        die "a $PEER server is already running on port $port (pid $old); stop it with: $0 stop --port $port"
      fi
      rm -f "$pidf"
    fi
    if port_in_use "$port"; then
      [ "$auto" = 1 ] && continue
      die "port 127.0.0.1:$port is already in use by another process"
    fi
    local argv=() a
    for a in "$@"; do argv+=("${a//@PORT@/$port}"); done
    rc=0
    prepare_instance "$port"
    launch "$port" "$timeout" "$ready_path" "${argv[@]}" || rc=$?
    if [ "$rc" = 0 ]; then
      printf 'http://127.0.0.1:%s\n' "$port"
      return 0
    fi
    cleanup_instance "$port"
    [ "$auto" = 1 ] || die "port $port is already in use (log: $(log_file "$port"))"
    log "port $port was taken before the server bound it; retrying with another port (attempt $attempt)"
  done
  die "could not find a free port after 3 attempts"
}

# stop_common [PORT]: stops one instance, or every instance of this peer when PORT is empty.
stop_common() {
  local port="$1" f p pid n=0 grace="${STOP_GRACE:-10}"
  if [ -n "$port" ]; then
    set -- "$(pid_file "$port")"
  else
    set -- "$RUN_DIR/$PEER"-*.pid
  fi
  for f in "$@"; do
    [ -f "$f" ] || continue
    p="${f##*/$PEER-}"
    p="${p%.pid}"
    pid="$(cat "$f")"
    if is_our_server "$pid"; then
      kill_group "$pid" "$grace"
      log "stopped port $p (pid $pid)"
      n=$((n + 1))
    else
      log "port $p: pid $pid is not running any more; removing its pid file"
    fi
    rm -f "$f"
    cleanup_instance "$p"
    if [ "${ALIEN_PEERS_KEEP_LOGS:-0}" != 1 ]; then rm -f "$(log_file "$p")"; fi
  done
  if [ "$n" = 0 ] && [ -n "$port" ]; then log "no running $PEER server on port $port"; fi
  if [ "$n" = 0 ] && [ -z "$port" ]; then log "no running $PEER servers"; fi
  return 0
}

# status_common: one line per instance on stdout: URL PID RSS_KiB.
status_common() {
  local f p pid
  for f in "$RUN_DIR/$PEER"-*.pid; do
    [ -f "$f" ] || continue
    p="${f##*/$PEER-}"
    p="${p%.pid}"
    pid="$(cat "$f")"
    if is_our_server "$pid"; then
      printf 'http://127.0.0.1:%s pid=%s rss_kib=%s\n' "$p" "$pid" "$(group_rss_kb "$pid")"
    else
      printf 'http://127.0.0.1:%s pid=%s dead (stale pid file)\n' "$p" "$pid"
    fi
  done
}

# parse_port "$@": sets PORT from `--port N` / `--port=N`; dies on anything else.
parse_port() {
  PORT=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) [ $# -ge 2 ] || die "--port needs a value"; PORT="$2"; shift 2 ;;
      --port=*) PORT="${1#--port=}"; shift ;;
      *) die "unknown argument '$1' (try: $0 help)" ;;
    esac
  done
  if [ -n "$PORT" ]; then check_port_arg "$PORT"; fi
}

# The header comment of the calling script (its usage), on stderr.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; }

# Runs the subcommand "$1" with the rest as its arguments: install, start, stop, status and help
# for every peer, reset where the script defines `cmd_reset`, python where it has a `VENV`; a
# script with more (binary) defines `cmd_more SUB ARGS...`, which returns 2 for a subcommand it
# does not know. `STOP_GRACE` (seconds before SIGKILL) may be set
# by the script.
dispatch() {
  local sub="${1:-help}" rc=0
  [ $# -gt 0 ] && shift
  case "$sub" in
    install) [ $# -eq 0 ] || die "install takes no arguments"; cmd_install ;;
    start) cmd_start "$@" ;;
    stop) parse_port "$@"; stop_common "$PORT" ;;
    status) status_common ;;
    help | -h | --help) usage ;;
    reset) declare -F cmd_reset >/dev/null || die "$PEER has no reset"; cmd_reset "$@" ;;
    python)
      [ -n "${VENV:-}" ] || die "$PEER has no venv"
      [ -x "$VENV/bin/python" ] || die "not installed; run: $0 install"
      printf '%s\n' "$VENV/bin/python"
      ;;
    *)
      if declare -F cmd_more >/dev/null; then
        cmd_more "$sub" "$@" || rc=$?
      else
        rc=2
      fi
      if [ "$rc" -eq 2 ]; then
        usage
        die "unknown subcommand '$sub'"
      fi
      return "$rc"
      ;;
  esac
}
