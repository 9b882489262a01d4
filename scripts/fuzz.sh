#!/usr/bin/env bash
# Runs kubeshard's cargo-fuzz targets (fuzz/fuzz_targets/) one at a time, each for a given
# time or number of runs, and prints per target the executions done and whether it crashed
# (with the artifact to reproduce it). Exits non-zero if any target crashed.
#
# Not run in CI: fuzzing needs the nightly toolchain and takes as long as you give it.
#
#   scripts/fuzz.sh [target|all] [--time SECONDS | --runs N] [-- LIBFUZZER_ARGS...]
#
# Default: all targets, 60 s each. Builds go to fuzz/target (never the main target dir); the
# working corpus is fuzz/corpus/<target> (the committed seeds in fuzz/seeds/<target> are
# copied into it first), crashes land in fuzz/artifacts/<target>/. Reproduce a crash with
#   cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<crash-file>
# and minimise it with
#   cargo +nightly fuzz tmin <target> fuzz/artifacts/<target>/<crash-file>
# (both from the repository root, with CARGO_TARGET_DIR=fuzz/target).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

usage() {
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
}

which_target="all"
limit=(-max_total_time=60)
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time) [ $# -ge 2 ] || usage; limit=(-max_total_time="$2"); shift 2 ;;
        --runs) [ $# -ge 2 ] || usage; limit=(-runs="$2"); shift 2 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) usage ;;
        -*) usage ;;
        *) which_target="$1"; shift ;;
    esac
done

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

export CARGO_TARGET_DIR="$root/fuzz/target"

# Every fuzz target, in the order they run (gen_seeds is the seed generator, not a target).
all_targets=()
while IFS= read -r t; do
    [ "$t" = "gen_seeds" ] || all_targets+=("$t")
done < <(cargo +nightly fuzz list)

if [ "$which_target" = "all" ]; then
    targets=("${all_targets[@]}")
else
    found=0
    for t in "${all_targets[@]}"; do [ "$t" = "$which_target" ] && found=1; done
    if [ "$found" = 0 ]; then
        echo "fuzz.sh: no fuzz target '$which_target' (have: ${all_targets[*]})" >&2
        exit 2
    fi
    targets=("$which_target")
fi

echo "== building ${targets[*]}"
if [ "$which_target" = "all" ]; then
    cargo +nightly fuzz build --target-dir "$CARGO_TARGET_DIR"
else
    cargo +nightly fuzz build --target-dir "$CARGO_TARGET_DIR" "$which_target"
fi

logs="$root/fuzz/artifacts/logs"
mkdir -p "$logs"
summary=()
crashed=0
for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    seeds="fuzz/seeds/$t"
    artifacts="fuzz/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$seeds" ]; then
        cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
    fi
    log="$logs/$t.log"
    echo "== fuzzing $t (${limit[*]}), log in ${log#"$root"/}"
    set +e
    # One process on one core: libFuzzer's own -jobs=N (even 1) forks workers that log to
    # fuzz-<n>.log instead, so it is not used; targets run one after another.
    seed_dirs=()
    [ -d "$seeds" ] && seed_dirs=("$seeds")
    cargo +nightly fuzz run --target-dir "$CARGO_TARGET_DIR" "$t" "$corpus" "${seed_dirs[@]}" -- \
        "${limit[@]}" -print_final_stats=1 -artifact_prefix="$artifacts/" "${extra[@]}" \
        >"$log" 2>&1
    rc=$?
    set -e
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)"
    if [ -z "$execs" ]; then
        execs="$(grep -oE 'Done [0-9]+ runs' "$log" | tail -1 | grep -oE '[0-9]+' || true)"
    fi
    if [ -z "$execs" ]; then
        # A crash ends the run before the final stats: the last status line's count.
        execs="$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)"
    fi
    artifact="$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //' || true)"
    if [ "$rc" -ne 0 ] || [ -n "$artifact" ]; then
        crashed=1
        what="$(grep -m1 -E "panicked at|ERROR: AddressSanitizer|ERROR: libFuzzer|SUMMARY:" "$log" || echo "exit $rc")"
        summary+=("$(printf '%-16s %12s execs  CRASH  %s\n%18s%s' "$t" "${execs:-?}" "${artifact:-(no artifact)}" "" "$what")")
    else
        summary+=("$(printf '%-16s %12s execs  ok' "$t" "${execs:-?}")")
    fi
done

echo
echo "== summary"
for line in "${summary[@]}"; do
    echo "$line"
done
exit "$crashed"
