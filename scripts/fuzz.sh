#!/usr/bin/env bash
# Fuzzes the body converters: each target runs for FUZZ_SECONDS (default 60).
#
# cargo-fuzz builds with nightly-only compiler flags (AddressSanitizer,
# SanitizerCoverage passes). The machines have one stable toolchain and can
# download no other, so on stable RUSTC_BOOTSTRAP=1 lets that compiler
# accept them; a nightly toolchain is used as it is.
#
# Exit status: 0 when no target found a crash; otherwise libFuzzer's, with the
# crashing input saved under fuzz/artifacts/<target>/.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
targets=(xml_to_json form_to_json)

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
if ! rustc --version | grep -q nightly; then
  export RUSTC_BOOTSTRAP=1
fi

dictionary() {
  case "$1" in
    xml_to_json) echo fuzz/xml.dict ;;
    form_to_json) echo fuzz/form.dict ;;
  esac
}

for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  echo "== fuzzing $target for ${seconds}s"
  # The first corpus directory collects new inputs; the seeds stay as committed.
  cargo fuzz run "$target" "$corpus" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" \
    -max_len=16384 \
    -rss_limit_mb=2048 \
    -timeout=10 \
    -dict="$(dictionary "$target")" \
    -print_final_stats=1
done
