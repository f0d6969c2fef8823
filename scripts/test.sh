#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, then an optimised build and an
# AddressSanitizer + UndefinedBehaviorSanitizer build, each running every ctest test, a
# ThreadSanitizer build of the thread tests, then every libFuzzer target for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
JOBS=$(nproc)
FUZZ_SECONDS=${AM_FUZZ_SECONDS:-20}

echo "== Release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$JOBS"
(cd build && ctest --output-on-failure -j"$JOBS")
echo "-- native ISA: $(./build/automodel --version | sed -n 's/^cpu: //p')"

echo "== Model fixtures, generation, seq2seq, quantization and device_map again at AVX2 (AM_MAX_ISA=avx2, ONEDNN_MAX_CPU_ISA=AVX2)"
# the paths a CPU without AVX-512 / bf16 units takes: AVX2 GEMV, float32 copies of bf16 weights
echo "-- capped ISA: $(AM_MAX_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 ./build/automodel --version | sed -n 's/^cpu: //p')"
(cd build && AM_MAX_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 ctest --output-on-failure -j"$JOBS" -R '^(model_|test_generate$|test_seq2seq$|test_kernels$|test_quant$|test_device_map$)')

echo "== ASan + UBSan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAM_SANITIZE=ON -DAM_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$JOBS"
(cd build-asan && ctest --output-on-failure -j"$JOBS")

echo "== ThreadSanitizer: test_threads (4 application threads share each model; clang -fsanitize=thread)"
# Only the library and test_threads are built (about a minute on 2 cores; the test runs in seconds).
CC=clang CXX=clang++ cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DAM_TSAN=ON -DAM_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan -j"$JOBS" --target test_threads
(cd build-tsan && ctest --output-on-failure -R '^test_threads')

echo "== libFuzzer targets (${FUZZ_SECONDS}s each)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DAM_FUZZ=ON -DAM_BUILD_BENCH=OFF -DAM_BUILD_TESTS=ON >/dev/null
cmake --build build-fuzz -j"$JOBS" --target am_fuzzers
for f in build-fuzz/tests/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus="tests/fuzz/corpus/${name#fuzz_}"
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  echo "-- $name"
  # artifacts (the failing input) go to the work folder; on failure print the report and the input
  if ! "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$work/" "$work" >"$work.log" 2>&1; then
    tail -n 60 "$work.log"
    for a in "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-*; do
      [ -f "$a" ] && { echo "-- failing input $(basename "$a") (base64):"; head -c 4096 "$a" | base64; }
    done
    exit 1
  fi
  tail -n 2 "$work.log"
  rm -rf "$work" "$work.log"
done
echo "all test stages passed"
