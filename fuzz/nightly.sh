#!/usr/bin/env bash
# Nightly fuzzing: seeds the corpora from vectors/, builds every target, runs each for
# FUZZ_SECONDS, minimizes any crash into fuzz/regressions/<target>/ (which `cargo test`
# replays), and prints one summary line per target. Exits non-zero if any target crashed.
#
#   fuzz/nightly.sh                         every target, 600 s each, AddressSanitizer if it works
#   FUZZ_SECONDS=30 FUZZ_SANITIZER=none fuzz/nightly.sh   the CI smoke
#   FUZZ_TARGETS="parse dag" fuzz/nightly.sh              some targets only
#
# Environment: FUZZ_SECONDS (default 600), FUZZ_SANITIZER (`address`, the default when a test
# build succeeds, or `none`), FUZZ_TARGETS (default: every target in fuzz/Cargo.toml),
# FUZZ_TIMEOUT (seconds one input may take, default 30).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
fuzz="$root/fuzz"
seconds=${FUZZ_SECONDS:-600}
timeout=${FUZZ_TIMEOUT:-30}
targets=${FUZZ_TARGETS:-"parse verify_bytes verify_structured dag http_header"}
logs="$fuzz/artifacts/logs"
mkdir -p "$logs"

# --- cargo-fuzz ---------------------------------------------------------------------------------
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
echo "== $(cargo fuzz --version)"

# --- seed corpora -------------------------------------------------------------------------------
echo "== seeding fuzz/corpus from vectors/ and vectors/draft-01/ (both profiles)"
cargo run --quiet --example seed_corpora -- "$root/vectors" "$fuzz/corpus"

# --- build --------------------------------------------------------------------------------------
# AddressSanitizer needs nightly flags; RUSTC_BOOTSTRAP=1 allows them on the stable toolchain.
# Safe Rust rarely needs it, but the dependencies' unsafe code and C code may.
sanitizer=${FUZZ_SANITIZER:-address}
fuzz_cmd() {
    (cd "$fuzz" && if [ "$sanitizer" = address ]; then
        RUSTC_BOOTSTRAP=1 cargo fuzz "$@"
    else
        cargo fuzz "$@"
    fi)
}

if [ "$sanitizer" = address ]; then
    echo "== building with AddressSanitizer (RUSTC_BOOTSTRAP=1)"
    if ! fuzz_cmd build --sanitizer address >"$logs/build.log" 2>&1; then
        echo "   AddressSanitizer build failed (see $logs/build.log); using --sanitizer none"
        sanitizer=none
    fi
fi
if [ "$sanitizer" != address ]; then
    echo "== building with --sanitizer none"
    fuzz_cmd build --sanitizer none
fi

# --- run ----------------------------------------------------------------------------------------
# With -print_final_stats=1 libFuzzer ends (also on a crash) with lines such as
#   stat::number_of_executed_units: 176512
#   stat::average_exec_per_sec:     8405
# and its status lines look like
#   #176512  DONE   cov: 1499 ft: 2438 corp: 321/323Kb lim: 65537 exec/s: 8405 rss: 49Mb
final_stat() { # final_stat NAME LOGFILE: the number after "stat::NAME:", or nothing
    grep -E "^stat::$1:" "$2" | tail -n1 | grep -oE '[0-9]+$' || true
}

summary=()
crashed=0
for target in $targets; do
    log="$logs/$target.log"
    artifacts="$fuzz/artifacts/$target"
    mkdir -p "$artifacts" "$fuzz/corpus/$target" "$fuzz/regressions/$target"
    before=$(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | sort)
    echo "== $target: ${seconds}s (log: $log)"
    start=$(date +%s)
    status=0
    fuzz_cmd run --sanitizer "$sanitizer" "$target" -- \
        -max_total_time="$seconds" -timeout="$timeout" -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    elapsed=$(( $(date +%s) - start ))

    runs=$(final_stat number_of_executed_units "$log")
    [ -n "$runs" ] || runs=$(grep -oE '^#[0-9]+' "$log" | tail -n1 | tr -d '#' || true)
    runs=${runs:-0}
    rate=$(final_stat average_exec_per_sec "$log")
    [ -n "$rate" ] || rate=$(( runs / (elapsed > 0 ? elapsed : 1) ))
    corpus=$(find "$fuzz/corpus/$target" -maxdepth 1 -type f | wc -l)

    after=$(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | sort)
    new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d' || true)
    crashes=0
    for artifact in $new; do
        crashes=$((crashes + 1))
        name=$(basename "$artifact")
        echo "   finding: $artifact"
        grep -m1 -A4 'panicked at' "$log" | sed 's/^/   | /' || true
        # Minimize; keep the original if minimization fails.
        minimized="$artifacts/minimized-from-$name"
        if fuzz_cmd tmin --sanitizer "$sanitizer" "$target" "$artifact" -- -runs=2000 \
            >"$logs/$target-tmin-$name.log" 2>&1; then
            found=$(grep -oE "artifacts/$target/minimized-from-[0-9a-f]+" "$logs/$target-tmin-$name.log" | tail -n1 || true)
            [ -n "$found" ] && minimized="$fuzz/$found"
        fi
        [ -f "$minimized" ] || minimized="$artifact"
        cp "$minimized" "$fuzz/regressions/$target/$name"
        echo "   regression input: fuzz/regressions/$target/$name ($(wc -c <"$minimized") bytes)"
    done
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        echo "   libFuzzer exited with $status without an artifact (see $log)"
        crashes=1
    fi
    [ "$crashes" -eq 0 ] || crashed=$((crashed + 1))
    summary+=("$(printf '%-18s %12s executions  %8s exec/s  corpus %6s  crashes %s  (%ss, sanitizer %s)' \
        "$target" "$runs" "$rate" "$corpus" "$crashes" "$elapsed" "$sanitizer")")
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
total=$(echo "$targets" | wc -w)
echo "fuzz: $((total - crashed)) passed, $crashed failed"
if [ "$crashed" -gt 0 ]; then
    echo "Findings were copied to fuzz/regressions/<target>/: reproduce with"
    echo "  cargo test --test conformance fuzz_replay   (or: cd fuzz && cargo fuzz run <target> <file>)"
    exit 1
fi
