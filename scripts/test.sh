#!/usr/bin/env bash
# Runs every check a commit must pass, installing what the tests need first:
# gofmt, go vet, the race-enabled test suite (real mpv, real WebSockets, the
# real @supabase/realtime-js), and short fuzz runs of the frame decoder and the signature check.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh --test
unformatted=$(gofmt -l . | grep -v '^test/conformance/node_modules/' || true)
if [ -n "$unformatted" ]; then
  echo "gofmt: these files need formatting:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 -timeout 15m ./...
# Short fuzz runs of what reads untrusted bytes: the frame decoder and the
# host-signature check.
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 15s ./phx/
go test -run '^$' -fuzz '^FuzzVerifyEnvelope$' -fuzztime 15s ./room/
