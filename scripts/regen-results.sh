#!/bin/sh
# Regenerates the reference results in results/ (shown in the README):
#   results/default/    `slicesim run` of the embedded default scenario (CSVs and charts)
#   results/reproduce/  `slicesim reproduce` (claims.csv, sizes.csv, runs.csv, claims chart)
# tests/results.rs regenerates the same files and fails if one differs by a single byte, so run
# this after any change that moves a number, and commit what it writes.
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet
rm -rf results/default results/reproduce
./target/release/slicesim run --out results/default --quiet
./target/release/slicesim reproduce --out results/reproduce --quiet
echo "regenerated:"
find results/default results/reproduce -type f | sort
