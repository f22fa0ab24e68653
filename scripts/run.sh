#!/usr/bin/env bash
# The main job on a fresh Debian machine: install mpv and ffmpeg if needed,
# build watchium-tui into ./bin, then run it. With no arguments it starts the
# embedded realtime server; any arguments go to watchium-tui instead
# (e.g. ./scripts/run.sh join movie --media movie.mkv --host).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
go build -o bin/watchium-tui ./cmd/watchium-tui
if [ $# -eq 0 ]; then
  set -- serve
fi
exec ./bin/watchium-tui "$@"
