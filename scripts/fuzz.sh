#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz, libFuzzer, on the stable toolchain with `-s none`) of the
# scenario reader (and, for small scenarios, the whole simulation), the trace reader, and the
# `size` readers (where the fast size path must also equal the reference encoders).
#   scripts/fuzz.sh [MINUTES] [TARGET...]     default: 10 minutes each; targets scenario trace size
# Needs `cargo install cargo-fuzz` once. The seed corpus is built fresh from the scenario library,
# the upstream fixtures, a trace exported from the quickstart run and fuzz/seeds/ (the bad cases of
# tests/it/bad_inputs.rs); what the fuzzer adds stays in fuzz/corpus/ (not committed). A crash is
# saved in fuzz/artifacts/TARGET/ and makes this script exit 1: turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
case "$minutes" in *[!0-9]*|"") echo "MINUTES is a whole number, got $minutes" >&2; exit 2 ;; esac
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(scenario trace size)
command -v cargo-fuzz >/dev/null || { echo "fuzz.sh needs cargo-fuzz: cargo install cargo-fuzz" >&2; exit 1; }

cargo build --release --quiet
seed() {
  mkdir -p "fuzz/corpus/$1"
  shift
  for f in "$@"; do
    if [ -f "$f" ]; then cp "$f" "fuzz/corpus/${target}/seed-$(echo "$f" | tr / _)"; fi
  done
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./target/release/slicesim run scenarios/quickstart.yaml --quiet --no-charts --out "$tmp/qs" \
  --export-trace "$tmp/quickstart-trace.csv" --export-objects "$tmp/objects"

status=0
for target in "${targets[@]}"; do
  case "$target" in
    scenario) seed "$target" scenarios/*.yaml scenarios/reproduce/*.yaml fuzz/seeds/scenario/* ;;
    trace) seed "$target" "$tmp/quickstart-trace.csv" fuzz/seeds/trace/* ;;
    size) seed "$target" tests/data/*.yaml tests/data/*.json "$tmp"/objects/*.yaml fuzz/seeds/size/* ;;
    *) echo "unknown target $target (scenario, trace, size)" >&2; exit 2 ;;
  esac
  echo "== fuzzing $target for $minutes min ($(ls "fuzz/corpus/$target" | wc -l) inputs in the corpus)"
  (cd fuzz && cargo fuzz run -s none -O "$target" "corpus/$target" -- \
      -max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
      -print_final_stats=1) 2>&1 | tee "$tmp/$target.log" | grep -E '^#[0-9]+.*(pulse|DONE)|stat::|ERROR|panicked|SUMMARY' || true
  if grep -qE 'ERROR: libFuzzer|panicked|deadly signal' "$tmp/$target.log"; then
    echo "== $target: CRASH, see fuzz/artifacts/$target/" >&2
    status=1
  else
    echo "== $target: no crash"
  fi
done
exit $status
