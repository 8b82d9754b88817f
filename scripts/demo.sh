#!/usr/bin/env bash
# The main job end to end on embedded defaults: init, commit, push, clone, verify.
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

step init --bare "$top/demo/remote"
step remote add origin "$top/demo/remote"
step push -u origin main
cd "$top/demo"
step clone "$top/demo/remote" copy
cd copy
step log --oneline
step verify
cmp stems/drums.wav ../session/stems/drums.wav
cmp stems/vocals.wav ../session/stems/vocals.wav
printf '\nDemo finished: the clone in demo/copy matches the session byte for byte and verifies.\n'
