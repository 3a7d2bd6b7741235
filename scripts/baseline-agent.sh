#!/bin/sh
# Builds giif-agent at an earlier commit (release) for giif-bench's
# baseline column and prints the binary's path. Built once per commit,
# under target/baseline/, from a temporary git worktree.
set -eu
commit=$(git rev-parse --short "$1^{commit}")
root=$(pwd)
out="$root/target/baseline/$commit"
if [ ! -x "$out/giif-agent" ]; then
	tree=$(mktemp -d)
	git worktree add --detach "$tree" "$commit" >&2
	(cd "$tree" && CARGO_TARGET_DIR="$root/target/baseline/build" cargo build --release -p giif-agent --bin giif-agent >&2)
	mkdir -p "$out"
	cp "$root/target/baseline/build/release/giif-agent" "$out/"
	git worktree remove --force "$tree"
fi
echo "$out/giif-agent"
