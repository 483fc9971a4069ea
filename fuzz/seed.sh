#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the real fixtures in ../fixtures: whole TSM files,
# tombstones and WAL segments, every block and every block section, every key, and small
# shards (TSM + tombstone + WAL packed the way fuzz_targets/shard.rs unpacks them).
# The corpora are not committed (see .gitignore); only corpus/*/regressions/ is.
set -euo pipefail
cd "$(dirname "$0")"
exec python3 - "$@" <<'PY'
import glob, hashlib, os, struct

FIX = "../fixtures"
def put(target, data, cap=None):
    if cap is not None and len(data) > cap:
        return
    d = f"corpus/{target}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/{hashlib.sha1(data).hexdigest()}", "wb") as f:
        f.write(data)

def uvarint(b, i):
    x = s = 0
    while True:
        c = b[i]; i += 1
        x |= (c & 0x7F) << s; s += 7
        if c < 0x80:
            return x, i

SECTION = {1: "float", 2: "integer", 3: "boolean", 4: "string", 5: "unsigned"}
tsms = sorted(glob.glob(f"{FIX}/*/influxdb/data/*/*/*/*.tsm"))
for path in tsms:
    data = open(path, "rb").read()
    put("file", data, cap=64 << 10)
    if len(data) < 13:
        continue
    (index_at,) = struct.unpack(">Q", data[-8:])
    i = index_at
    while i < len(data) - 8:
        (klen,) = struct.unpack(">H", data[i:i + 2]); i += 2
        key = data[i:i + klen]; i += klen
        put("key", key)
        typ, count = struct.unpack(">BH", data[i:i + 3]); i += 3
        for _ in range(count):
            _mn, _mx, off, size = struct.unpack(">qqQI", data[i:i + 28]); i += 28
            block = data[off + 4:off + size]
            put("block", block)
            ts_len, j = uvarint(block, 1)
            put("timestamp", block[j:j + ts_len])
            put("simple8b", block[j + 9:j + ts_len])
            put(SECTION.get(block[0], "float"), block[j + ts_len:])
            if block[0] == 2:
                put("simple8b", block[j + ts_len + 1:])
for path in sorted(glob.glob(f"{FIX}/*/influxdb/data/*/*/*/*.tombstone")):
    put("tombstone", open(path, "rb").read())
for path in sorted(glob.glob(f"{FIX}/*/influxdb/wal/*/*/*/*.wal")):
    data = open(path, "rb").read()
    if data:
        put("wal", data, cap=256 << 10)
        put("wal_split", bytes([len(data) % 251]) + data, cap=256 << 10)
# Shards: [u16 BE tsm_len][u8 tombstone_len] tsm tombstone wal, with the shard's first
# WAL segment, for TSM files small enough to fit.
for path in tsms:
    data = open(path, "rb").read()
    if len(data) > 0xFFFF:
        continue
    stone = path[:-4] + ".tombstone"
    tomb = open(stone, "rb").read() if os.path.exists(stone) else b""
    if len(tomb) > 255:
        tomb = b""
    shard_dir = os.path.dirname(path).replace("/data/", "/wal/", 1)
    wals = sorted(w for w in glob.glob(f"{shard_dir}/*.wal") if os.path.getsize(w))
    wal = open(wals[0], "rb").read()[:16 << 10] if wals else b""
    put("shard", struct.pack(">HB", len(data), len(tomb)) + data + tomb + wal)
for target in ["roundtrip"]:
    for n in range(8):
        put(target, bytes([n]) + bytes(range(n * 8, n * 8 + 64)))
for d in sorted(os.listdir("corpus")):
    print(d, len(os.listdir(f"corpus/{d}")))
PY
