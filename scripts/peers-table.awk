#!/usr/bin/awk -f
# Turns `go test -bench .` output of bench/peers (PEERS_ROUNDS rounds) into the
# markdown table of BENCHMARKS.md (g): per trusted-set size and chain, the
# median ns/op of the rounds for each implementation and its ratio to
# realip's median (above 1: slower than realip), then allocs/op per chain.
function median(key,   n, i, j, t, a) {
	n = cnt[key]
	for (i = 1; i <= n; i++) a[i] = ns[key, i]
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function commas(s,   out) {
	s = s ""
	while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
	return s out
}
function fmtns(x) {
	if (x >= 100) return commas(sprintf("%d", x + 0.5))
	return sprintf("%.1f", x)
}
function fmtratio(x) {
	if (x >= 100) return commas(sprintf("%d", x + 0.5)) "x"
	if (x >= 10) return sprintf("%.0fx", x)
	return sprintf("%.1fx", x)
}
/^BenchmarkPeers\// {
	split($1, p, "/")
	sub(/-[0-9]+$/, "", p[5])
	row = p[2] "/" p[3]
	if (!(row in seenrow)) { seenrow[row] = 1; rows[++nrows] = row }
	if (!(p[5] in seenimpl)) { seenimpl[p[5]] = 1; impls[++nimpls] = p[5] }
	key = row SUBSEP p[5]
	ns[key, ++cnt[key]] = $3
	for (i = 4; i < NF; i++) if ($(i + 1) == "allocs/op") allocs[key] = $i
}
END {
	if (nrows == 0) exit 1
	hdr = "| CIDRs | hops | " impls[1] " ns/op |"; sep = "|---:|---:|---:|"
	for (k = 2; k <= nimpls; k++) { hdr = hdr " " impls[k] " ns/op (x " impls[1] ") |"; sep = sep "---:|" }
	print hdr; print sep
	for (r = 1; r <= nrows; r++) {
		split(rows[r], rc, "/"); sub(/cidrs=/, "", rc[1]); sub(/hops=/, "", rc[2])
		line = "| " commas(rc[1]) " | " rc[2] " |"
		base = median(rows[r] SUBSEP impls[1])
		line = line " " fmtns(base) " |"
		for (k = 2; k <= nimpls; k++) {
			m = median(rows[r] SUBSEP impls[k])
			line = line " " fmtns(m) " (" fmtratio(m / base) ") |"
		}
		print line
		# allocs/op per chain, and whether it ever changes with the set size
		for (k = 1; k <= nimpls; k++) {
			a = allocs[rows[r] SUBSEP impls[k]]; ak = rc[2] SUBSEP impls[k]
			if (!(ak in lo) || a + 0 < lo[ak]) lo[ak] = a + 0
			if (!(ak in hi) || a + 0 > hi[ak]) hi[ak] = a + 0
			if (!(rc[2] in seenhops)) { seenhops[rc[2]] = 1; hops[++nhops] = rc[2] }
		}
	}
	printf "\n| hops |"; for (k = 1; k <= nimpls; k++) printf " %s |", impls[k]
	printf "\n|---:|"; for (k = 1; k <= nimpls; k++) printf "---:|"
	printf "\n"
	for (h = 1; h <= nhops; h++) {
		printf "| %s |", hops[h]
		for (k = 1; k <= nimpls; k++) {
			ak = hops[h] SUBSEP impls[k]
			printf " %s |", lo[ak] == hi[ak] ? lo[ak] : lo[ak] "-" hi[ak]
		}
		printf "\n"
	}
	printf "\nallocs/op above, at every set size; rounds per benchmark: %d\n", cnt[rows[1] SUBSEP impls[1]]
}
