#!/usr/bin/env bash
# Redaction throughput next to ripgrep doing a plain 12-pattern
# substitution over the same generated log (issue: "faster than ripgrep").
#   benches/compare-ripgrep.sh          # 200 MB
#   BENCH_MB=50 benches/compare-ripgrep.sh
# Installs Debian's ripgrep when missing (needs root). Prints both rates.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${BENCH_MB:-200}
log=${TMPDIR:-/tmp}/sg-debug-bench-${mb}MB.log

if ! command -v rg >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "compare-ripgrep: install ripgrep first" >&2; exit 1; }
  apt-get install -y -qq ripgrep >/dev/null
fi

echo "== sg-debug redaction (cargo bench --bench redact_throughput)"
BENCH_MB=$mb BENCH_KEEP=1 BENCH_LOG=$log cargo bench --locked --bench redact_throughput
trap 'rm -f "$log"' EXIT

# Twelve literal-prefixed patterns of the kind the default rules cover.
patterns=(
  'ghp_[A-Za-z0-9]{36}' 'github_pat_[A-Za-z0-9_]{40,}' 'glpat-[A-Za-z0-9_-]{20}'
  'sgp_[0-9a-f]{16}_[0-9a-f]{40}' 'AKIA[0-9A-Z]{16}' 'AIza[0-9A-Za-z_-]{35}'
  'xox[abpr]-[0-9A-Za-z-]{10,}' 'npm_[A-Za-z0-9]{36}' 'sk-ant-[A-Za-z0-9_-]{20,}'
  'eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+'
  '(?i)password=[^ &"]+' '(?i)bearer [A-Za-z0-9._~+/-]+'
)
args=()
for p in "${patterns[@]}"; do args+=(-e "$p"); done
size=$(stat -c %s "$log")
echo
echo "== ripgrep $(rg --version | head -1 | cut -d' ' -f2): --passthru -r '[REDACTED]' with ${#patterns[@]} patterns, one file"
best=
for _ in 1 2 3; do
  start=$(date +%s.%N)
  rg --no-config --passthru -N -r '[REDACTED]' "${args[@]}" "$log" >/dev/null
  end=$(date +%s.%N)
  secs=$(echo "$end - $start" | bc -l)
  printf '  pass: %.2fs, %.0f MB/s\n' "$secs" "$(echo "$size / 1000000 / $secs" | bc -l)"
  if [ -z "$best" ] || [ "$(echo "$secs < $best" | bc -l)" = 1 ]; then best=$secs; fi
done
printf 'ripgrep, best of 3: %.0f MB/s\n' "$(echo "$size / 1000000 / $best" | bc -l)"
