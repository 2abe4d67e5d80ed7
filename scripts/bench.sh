#!/usr/bin/env bash
# Runs every benchmark BENCHMARKS.md reports, in its order, and prints the
# machine and date first. Output also goes to bench.out. Took 4 minutes
# on 2 quiet cores (longer under load); close other work first, the numbers share the CPUs.
# BENCH_PEERS=1 adds (i), the resolver against other projects' client-IP code:
# bench/peers is its own module and downloads and builds Caddy, Traefik, Echo
# and Gin first (several minutes and a few hundred MB the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
  echo "go: $($GO version)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "## (a) resolver against the linear scan"
  $GO test -run '^$' -bench 'Resolve' -benchmem -benchtime=200ms ./plugin/realip/
  echo "## (b) one access event over the plugin socket"
  $GO test -run '^$' -bench AccessEvent -benchtime=5000x ./pdkserver/pluginsrv/
  echo "## (b) the physical floor: one call's bytes between two processes, one write against go-pdk's framing"
  for run in 1 2 3; do $GO test -run '^$' -bench SocketRoundTrip -benchtime=50000x ./pdkserver/pluginsrv/; done
  echo "## (b) the handler's own cost, Kong played over net.Pipe"
  $GO test -run '^$' -bench Access -benchtime=20000x ./plugin/guard/
  echo "## (c) HTTP load through the front door"
  # Three separate runs (-count would repeat the sub-benchmarks' reports of
  # one interleaved measurement, not the measurement).
  for run in 1 2 3; do
    $GO test -run '^$' -bench GatewayLoad -benchtime=20000x -timeout 30m ./pdkserver/e2e/
  done | tee bench-load.out
  awk -f scripts/load-medians.awk bench-load.out
  echo "## (d) plugin-server memory after 100k and 1M events"
  $GO test -run '^$' -bench PluginServerMemory -benchtime=1000000x -timeout 30m ./pdkserver/pluginsrv/
  echo "## (e) lean instances: trusted-set build and lookups, StartInstance, an instance's first request"
  $GO test -run '^$' -bench 'TrustedBuild' -benchtime=5x ./plugin/realip/
  $GO test -run '^$' -bench 'TrustedContains' -benchtime=200ms ./plugin/realip/
  $GO test -run '^$' -bench 'StartInstance' -benchtime=5x -timeout 30m ./plugin/guardconf/
  $GO test -run '^$' -bench FirstRequest -benchtime=10x ./pdkserver/pluginsrv/
  echo "## (f) go-pdk single-write frames (docs/go-pdk-single-write.md) against the released go-pdk"
  alt=$(mktemp -d)
  PDK_ALT_MODFILE=$(scripts/gopdk-single-write.sh "$alt") \
    $GO test -run '^$' -bench AccessEvent -benchtime=5000x ./pdkserver/pluginsrv/
  rm -rf "$alt"
  echo "## (g) metrics counting"
  $GO test -run '^$' -bench Count -benchmem ./plugin/metrics/
  echo "## (h) kongconf report parsing"
  $GO test -run '^$' -bench Read ./kongconf/report/
  if [ "${BENCH_PEERS:-0}" = 1 ]; then
    echo "## (i) the resolver against peers' client-IP code"
    (cd bench/peers && PEERS_ROUNDS=${PEERS_ROUNDS:-5} $GO test -run '^$' -bench . -benchmem -benchtime=100ms -timeout 30m . | tee ../../bench-peers.out)
    awk -f scripts/peers-table.awk bench-peers.out
  fi
} 2>&1 | tee bench.out
