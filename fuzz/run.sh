#!/usr/bin/env bash
# Fuzzes wf's parsers with libFuzzer (cargo fuzz):
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Builds every target once (nightly, coverage instrumentation, debug assertions, no sanitizer),
# then runs each given target (default: all) for SECONDS_PER_TARGET (default 60) on its corpus,
# fuzz/corpus/<target>/ (kept between runs), seeded from the repository's own files by
# fuzz/seeds.py. Prints each target's executions and coverage; a crash, a timeout or an input
# over the memory limit leaves its input in fuzz/artifacts/<target>/ and makes the exit code 1.
# Needs rustup with a nightly toolchain, and Python; installs cargo-fuzz if it is missing.
#
# Environment: WF_FUZZ_RSS_MB (memory limit, default 2048), WF_FUZZ_TIMEOUT (seconds one input
# may take, default 10), WF_FUZZ_TARGET_DIR (cargo's target folder, default fuzz/target).
set -euo pipefail
cd "$(dirname "$0")"
fuzz_dir=$PWD

all_targets=(spec lock manifest params)
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
case $seconds in
  '' | *[!0-9]*)
    echo "usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...] (targets: ${all_targets[*]})" >&2
    exit 2
    ;;
esac
for t in "${targets[@]}"; do
  if [[ " ${all_targets[*]} " != *" $t "* ]]; then
    echo "fuzz/run.sh: unknown target \`$t\` (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done
rss_mb=${WF_FUZZ_RSS_MB:-2048}
timeout=${WF_FUZZ_TIMEOUT:-10}
target_dir=${WF_FUZZ_TARGET_DIR:-$fuzz_dir/target}

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: installing cargo-fuzz" >&2
  cargo +nightly install cargo-fuzz --locked
fi

# No sanitizer: wf forbids unsafe code, so AddressSanitizer would look for nothing in it, and
# it slows both the build and every execution. Panics (debug assertions and overflow checks
# are on), timeouts and memory over the limit are what libFuzzer reports here.
build_start=$SECONDS
cargo +nightly fuzz build --sanitizer none --target-dir "$target_dir"
echo "fuzz/run.sh: build took $((SECONDS - build_start)) s"
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir=$target_dir/$host/release

scratch=$(mktemp -d "${TMPDIR:-/tmp}/wf-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
python3 "$fuzz_dir/seeds.py" "$scratch/seeds"
mkdir -p "$scratch/tmp"

dict_of() {
  case $1 in
    manifest) echo "$fuzz_dir/dict/json.dict" ;;
    *) echo "$fuzz_dir/dict/yaml.dict" ;;
  esac
}

failed=()
summary=()
for t in "${targets[@]}"; do
  corpus=$fuzz_dir/corpus/$t
  artifacts=$fuzz_dir/artifacts/$t
  log=$fuzz_dir/artifacts/$t.log
  mkdir -p "$corpus" "$artifacts"
  echo "== $t: ${seconds} s"
  status=0
  # The spec target writes params.yaml into a temporary folder: keep those in the scratch.
  TMPDIR=$scratch/tmp RUST_BACKTRACE=1 "$bin_dir/$t" \
    -max_total_time="$seconds" -rss_limit_mb="$rss_mb" \
    -timeout="$timeout" -dict="$(dict_of "$t")" -artifact_prefix="$artifacts/" \
    -print_final_stats=1 "$corpus" "$scratch/seeds/$t" >"$log" 2>&1 || status=$?
  # libFuzzer's last status line: `#<execs> DONE cov: … ft: … corp: … exec/s: … rss: …`.
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "$last"
  summary+=("$(printf '%-9s %6s s  %10s execs  %s' "$t" "$seconds" "${execs:-?}" \
    "$(grep -oE 'cov: [0-9]+ ft: [0-9]+|exec/s: [0-9]+|rss: [0-9]+Mb' <<<"$last" | paste -sd ' ')")")
  if [ "$status" -ne 0 ]; then
    failed+=("$t")
    echo "-- $t failed (exit $status); libFuzzer's report, from $log:"
    grep -E -A40 '^==[0-9]+== ERROR|panicked at|^thread .* panicked|ERROR: libFuzzer' "$log" | head -n 60 || tail -n 40 "$log"
    grep -E 'Test unit written to|artifact_prefix' "$log" || true
  fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz/run.sh: failed: ${failed[*]} (inputs in fuzz/artifacts/; replay one with" \
    "\`$bin_dir/<target> <file>\`)" >&2
  exit 1
fi
