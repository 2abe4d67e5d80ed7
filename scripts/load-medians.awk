#!/usr/bin/awk -f
# Reads the output of N runs of `go test -bench GatewayLoad` (BENCHMARKS.md (c)) and
# prints, per configuration, the median of the N runs' req/s, p50 and p99,
# and the median of each run's throughput ratios (each ratio is taken within
# one interleaved run, then the median across runs).
function median(key,   n, i, j, t, a) {
	n = cnt[key]
	for (i = 1; i <= n; i++) a[i] = val[key, i]
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(key, v) { cnt[key]++; val[key, cnt[key]] = v; if (!(key in seen)) { seen[key] = 1; order[++nkeys] = key } }
/^BenchmarkGatewayLoad\// {
	name = $1; sub(/^BenchmarkGatewayLoad\//, "", name); sub(/-[0-9]+$/, "", name)
	if (name == "interleaved") next
	for (i = 3; i < NF; i += 2) {
		unit = $(i + 1)
		if (name == "ratios") { if (unit != "ns/op") add("ratio " unit, $i) }
		else if (unit == "req/s" || unit == "p50-µs" || unit == "p99-µs") add(name " " unit, $i)
	}
}
END {
	if (nkeys == 0) { print "no GatewayLoad results" > "/dev/stderr"; exit 1 }
	printf "medians of %d runs\n", cnt[order[1]]
	for (k = 1; k <= nkeys; k++) printf "  %-32s %s\n", order[k], median(order[k])
}
