#!/usr/bin/env bash
# Installs what watchium-tui and its tests need on Debian/Ubuntu, only what
# is missing: mpv and ffmpeg from apt; with --test also tmux, PostgreSQL,
# Node.js and the pinned @supabase/realtime-js in test/conformance/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

want=()
command -v mpv >/dev/null || want+=(mpv)
command -v ffmpeg >/dev/null || want+=(ffmpeg)
if [ "${1:-}" = "--test" ]; then
  command -v tmux >/dev/null || want+=(tmux)
  command -v node >/dev/null || want+=(nodejs npm)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
fi
if [ ${#want[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${want[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${want[@]}" >/dev/null
fi
if ! command -v go >/dev/null; then
  echo "Go is not installed: get Go 1.26 or newer from https://go.dev/dl/ (or apt-get install golang)" >&2
  exit 1
fi
if [ "${1:-}" = "--test" ] && [ ! -f test/conformance/node_modules/@supabase/realtime-js/package.json ]; then
  (cd test/conformance && npm ci --no-audit --no-fund --loglevel=error)
fi
