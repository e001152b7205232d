#!/usr/bin/env bash
# Run the whole test suite N times in a row on a clean clone of HEAD (default 10) and
# print one line per run: exit code, wall seconds, pytest's summary. Used to check that
# the suite has no flaky test; the record of a run goes in tools/results/.
set -u
n=${1:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/repo" && cd "$work/repo" || exit 1
echo "commit $(git rev-parse --short HEAD)"
for i in $(seq 1 "$n"); do
  start=$(date +%s.%N)
  python3 -m pytest -q -p no:cacheprovider > "$work/run.log" 2>&1
  rc=$?
  end=$(date +%s.%N)
  printf 'run %d rc=%d wall=%.1f %s\n' "$i" "$rc" "$(python3 -c "print($end - $start)")" "$(tail -1 "$work/run.log")"
done
