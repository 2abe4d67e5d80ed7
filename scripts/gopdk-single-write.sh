#!/usr/bin/env bash
# Prepares the go-pdk single-write proposal (docs/go-pdk-single-write.md)
# for measurement: copies the go-pdk release this module uses from the
# module cache into DIR (default: a new temporary directory), applies
# docs/go-pdk-single-write.patch to the copy, writes DIR/mod/go.mod (this
# module's go.mod plus a replace directive pointing at the copy) and prints
# its path, for PDK_ALT_MODFILE:
#
#   PDK_ALT_MODFILE=$(scripts/gopdk-single-write.sh) \
#     go test -run '^$' -bench AccessEvent -benchtime=5000x ./pdkserver/pluginsrv/
#
# Nothing is written inside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
DIR=${1:-$(mktemp -d)}
src=$($GO list -m -f '{{.Dir}}' github.com/Kong/go-pdk)
mkdir -p "$DIR"
rm -rf "$DIR/go-pdk" "$DIR/mod"
cp -r "$src" "$DIR/go-pdk"
chmod -R u+w "$DIR/go-pdk"
patch -s -d "$DIR/go-pdk" -p1 < docs/go-pdk-single-write.patch
mkdir -p "$DIR/mod"
cp go.mod go.sum "$DIR/mod/"
echo "replace github.com/Kong/go-pdk => $DIR/go-pdk" >> "$DIR/mod/go.mod"
echo "$DIR/mod/go.mod"
