#!/usr/bin/env bash
# End-to-end run of `geoexfil detect` on growing inputs: wall time and peak resident memory.
#
# The input is the shipped ctu-botnet-4 sample (22,913 real flows over ten days) repeated
# COPIES times, each copy shifted by 12 days so that time keeps moving forward. Peak memory
# should not grow with the number of copies: reading is streaming and only open buckets,
# baselines and caches are held.
#
# Usage: benches/e2e.sh [COPIES...]   (default: 1 10 50)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/geoexfil
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
zcat fixtures/sample/ctu-botnet-4.conn.log.gz >"$work/one.log"
printf '%8s %12s %10s %12s\n' copies flows wall_s peak_rss_kb
for copies in "${@:-1 10 50}"; do
  for n in $copies; do
    awk -v n="$n" -F'\t' 'BEGIN { OFS = "\t" }
      FNR == 1 { copy++ }
      /^#/ { if (copy == 1) print; next }
      { $1 = sprintf("%.6f", $1 + (copy - 1) * 12 * 86400); print }' \
      $(for _ in $(seq "$n"); do echo "$work/one.log"; done) >"$work/input.log"
    flows=$(grep -vc '^#' "$work/input.log")
    /usr/bin/time -f '%e %M' -o "$work/time" "$bin" detect -q --alerts /dev/null \
      "$work/input.log" || true
    read -r wall rss <"$work/time"
    printf '%8s %12s %10s %12s\n' "$n" "$flows" "$wall" "$rss"
  done
done
