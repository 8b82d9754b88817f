#!/usr/bin/env bash
# The main job end to end on embedded defaults: init, commit, serve a hub, push, clone, verify.
# Everything happens under ./demo (and a throwaway config dir there), so your own
# keys and settings are never touched. Run it again to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
top=$PWD
rm -rf demo && mkdir -p demo
export MUSE_CONFIG_DIR="$top/demo/config"
muse() { "$top/.venv/bin/muse" "$@"; }
step() { printf '\n\033[1m$ muse %s\033[0m\n' "$*"; muse "$@"; }

step keys generate
step config --global user.name "Demo Musician"
step config --global user.email demo@example.org

mkdir -p demo/session/stems demo/session/tracks && cd demo/session
step init
head -c 2000000 /dev/urandom > stems/drums.wav
printf 'MThd\0\0\0\6\0\1\0\2\1\340' > tracks/bass.mid
echo "*.tmp" > .museignore
step commit -m "First take: drums and bass"
head -c 500000 /dev/urandom > stems/vocals.wav
step commit -m "Add vocals"
step log --oneline
step verify

# A hub on loopback, embedded (SQLite + a folder under demo/hub), with one repository.
step hub user add demo --data "$top/demo/hub"
step hub repo create demo/session --data "$top/demo/hub"
printf '\n\033[1m$ muse hub token create --repo demo/session --scope write\033[0m\n'
MUSE_TOKEN=$(muse hub token create --repo demo/session --scope write --data "$top/demo/hub")
export MUSE_TOKEN
port=$("$top/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '\n\033[1m$ muse hub serve --data demo/hub --port %s &\033[0m\n' "$port"
# The binary itself, not the `muse` function: $! must be the server, not a subshell.
"$top/.venv/bin/muse" hub serve --data "$top/demo/hub" --host 127.0.0.1 --port "$port" \
  > "$top/demo/hub.log" 2>&1 &
hub_pid=$!
trap 'kill "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null || true' EXIT
"$top/.venv/bin/python" - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(200):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1)
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("the hub did not start; see demo/hub.log")
PY

step remote add origin "http://127.0.0.1:$port/demo/session"
step push -u origin main
cd "$top/demo"
step clone "http://127.0.0.1:$port/demo/session" copy
cd copy
step log --oneline
step verify
cmp stems/drums.wav ../session/stems/drums.wav
cmp stems/vocals.wav ../session/stems/vocals.wav
printf '\nDemo finished: the clone in demo/copy came through the hub, matches the session byte for byte and verifies.\n'
