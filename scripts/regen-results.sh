#!/bin/sh
# Regenerates the reference results in results/ (shown in the README):
#   results/default/    `slicesim run` of the embedded default scenario (CSVs and charts)
#   results/reproduce/  `slicesim reproduce` (claims.csv, claims.md, sizes.csv, runs.csv, chart)
#   results/sweep-replicas/  the sweep of scenarios/sweep-replicas.yaml (sweep.csv, points/,
#                       charts; 24 runs, not compared by tests/it/results.rs: too slow for a debug
#                       build)
#   results/zones-compare/  `slicesim run scenarios/zones-compare.yaml` (the zones chart the
#                       README shows; not compared by tests/it/results.rs)
#   results/rollout-egress/  `slicesim run scenarios/rollout-egress.yaml` (the delays chart the
#                       README shows; not compared by tests/it/results.rs)
#   results/external-churn/  `slicesim run scenarios/external-churn.yaml` (the external chart
#                       the README shows; not compared by tests/it/results.rs)
# and pastes results/reproduce/claims.md into README.md between the claims markers.
# (results/default-report.png, the README's picture of report.html, comes from
# scripts/screenshot.sh, which needs Chromium.)
# tests/it/results.rs regenerates the same files and fails if one differs by a single byte, so run
# this after any change that moves a number, and commit what it writes.
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet
rm -rf results/default results/reproduce results/sweep-replicas results/rollout-egress results/zones-compare results/external-churn
./target/release/slicesim run --out results/default --quiet
./target/release/slicesim reproduce --out results/reproduce --quiet
./target/release/slicesim run scenarios/sweep-replicas.yaml --out results/sweep-replicas --quiet
./target/release/slicesim run scenarios/rollout-egress.yaml --out results/rollout-egress --quiet
./target/release/slicesim run scenarios/zones-compare.yaml --out results/zones-compare --quiet
./target/release/slicesim run scenarios/external-churn.yaml --out results/external-churn --quiet
awk -v table=results/reproduce/claims.md '
  /<!-- claims:end -->/ { while ((getline line < table) > 0) print line; skip = 0 }
  !skip { print }
  /<!-- claims:begin/ { skip = 1 }
' README.md > README.md.tmp && mv README.md.tmp README.md
echo "regenerated:"
find results/default results/reproduce results/sweep-replicas results/rollout-egress results/zones-compare results/external-churn -type f | sort | head -40
