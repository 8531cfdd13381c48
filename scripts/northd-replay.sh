#!/usr/bin/env bash
# Replays a kept Northbound database through `ovnkit northd --once` on two `ovnkit ovsdb-server`s
# (the NB server on a copy of NB_DB, a fresh SB), in a temp dir removed at the end; prints the
# daemon's log and the CPU of each process. NB_DB comes from a harness run kept with
# NORTHD_VS_REAL_KEEP=DIR (DIR/ovnkit/nb.db). WRAP="perf record -F 499 -o P.data --" profiles.
# Usage: scripts/northd-replay.sh OVNKIT_BIN NB_DB OUT_LOG
set -euo pipefail
BIN=$1; NBDB=$2; OUT=$3
D=$(mktemp -d /tmp/northd-replay.XXXX)
NBP=""; SBP=""
cleanup() { [ -n "$NBP" ] && kill "$NBP" 2>/dev/null; [ -n "$SBP" ] && kill "$SBP" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
cp "$NBDB" "$D/nb.db"
"$BIN" ovsdb-tool create "$D/sb.db" /usr/share/ovn/ovn-sb.ovsschema
"$BIN" ovsdb-server --remote="punix:$D/nb.sock" --log-file="$D/nb.log" "$D/nb.db" >"$D/nb.out" 2>&1 &
NBP=$!
"$BIN" ovsdb-server --remote="punix:$D/sb.sock" --log-file="$D/sb.log" "$D/sb.db" >"$D/sb.out" 2>&1 &
SBP=$!
while [ ! -S "$D/nb.sock" ] || [ ! -S "$D/sb.sock" ]; do sleep 0.1; done
sleep 1
cpu() { awk '{print ($14+$15)*10}' "/proc/$1/stat"; }
NB0=$(cpu $NBP); SB0=$(cpu $SBP)
T0=$(date +%s.%N)
RUST_LOG=${RUST_LOG:-ovnkit=debug} ${WRAP:-} /usr/bin/time -f "northd: %e s wall %U user %S sys %M KiB" \
  "$BIN" northd --once --ovnnb-db "unix:$D/nb.sock" --ovnsb-db "unix:$D/sb.sock" >"$OUT" 2>&1
T1=$(date +%s.%N)
echo "wall $(echo "$T1 - $T0" | bc) s; NB server $(( $(cpu $NBP) - NB0 )) ms; SB server $(( $(cpu $SBP) - SB0 )) ms CPU" >>"$OUT"
