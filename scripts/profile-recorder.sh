#!/usr/bin/env bash
# Profiles the recorder (release build) recording N simulated 1080p 2 Mbit/s streams:
# perf's cpu-clock sampling (works without hardware counters), attached to `vigil serve`
# only, so the simulator's CPU is not in the profile.
# Usage: scripts/profile-recorder.sh [N=30] [SECONDS=30] [extra vigil.toml lines]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-30}; SECS=${2:-30}; EXTRA=${3:-}
command -v perf >/dev/null || apt-get install -y --no-install-recommends linux-perf
cargo build --release -p vigil
BIN=target/release/vigil
WORK=$(mktemp -d /tmp/vigil-profile.XXXX)
trap 'kill $SIM $REC 2>/dev/null || true; wait 2>/dev/null; rm -rf "$WORK"' EXIT
$BIN sim --source loop --cameras "$N" --width 1920 --height 1080 --fps 15 --bitrate 2000000 \
    --gop 30 --port 0 > "$WORK/sim.out" 2>/dev/null &
SIM=$!
for _ in $(seq 1 600); do grep -q READY "$WORK/sim.out" && break; sleep 0.1; done
BASE=$(sed -n 's/^READY //p' "$WORK/sim.out")
printf 'data_dir = "%s/data"\n%s\n' "$WORK" "$EXTRA" > "$WORK/vigil.toml"
for i in $(seq 1 "$N"); do
  $BIN camera add -c "$WORK/vigil.toml" "cam$i" --main "$BASE/cam$i/main" >/dev/null
done
VIGIL_LOG=warn $BIN serve -c "$WORK/vigil.toml" &
REC=$!
sleep 10
perf record -e cpu-clock -F 1999 -g -p "$REC" -o "$WORK/perf.data" -- sleep "$SECS" 2>/dev/null
cp "$WORK/perf.data" /tmp/vigil-perf.data
perf report -i "$WORK/perf.data" --stdio --no-children --sort dso,symbol 2>/dev/null \
  | grep -v '^$' | grep -E '^ +[0-9]' | head -40
