#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME (default 30s).
#
# Go 1.26's fuzzing coordinator can fail a target with a bare "context
# deadline exceeded" at the -fuzztime boundary when a worker is still
# mid-input on a loaded machine: no failing input is written and nothing
# was found (golang/go#75804, fixed in Go 1.27). Such a run is retried
# once; a run that writes a failing input, panics or reports a test error
# fails at once, and so does a second deadline.
set -uo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

flake() {
  grep -q 'context deadline exceeded' "$out" &&
    ! grep -qE 'Failing input written|panic:|Error Trace|fuzz_test\.go:[0-9]+:' "$out"
}

for pkg in $($GO list ./...); do
  for f in $($GO test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz'); do
    for attempt in 1 2; do
      echo "fuzz $pkg $f ($FUZZTIME)"
      if $GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | tee "$out"; then
        break
      fi
      if [ "$attempt" = 1 ] && flake; then
        echo "fuzz $pkg $f: the coordinator's deadline race (golang/go#75804), no failing input: running it again"
        continue
      fi
      exit 1
    done
  done
done
