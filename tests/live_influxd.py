"""Exports a running influxd's directory again and again while it is written to.

    live_influxd.py URL ROOT BIN SECONDS OUT

A writer sends a batch every 20 ms (200 hosts, one new point each, spread over six
one-hour shards, and new versions of five earlier points), noting every value it sends
before sending it and the moment each batch is acknowledged. Meanwhile influx-tsm
exports ROOT (the server's live folder) into OUT/<n>, Parquet and line protocol in
turn, and verifies ROOT. Every export that exits 0 must hold every point acknowledged
before it started, once, with a value that was sent for it and no older than the newest
version acknowledged before the export started; one that fails must say the shard kept
changing (counted, not a failure). verify must not call a replaced file damage.
Prints a JSON summary; exits 1 on any violation.
"""

import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

URL, ROOT, BIN, SECONDS, OUT = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
HOSTS = 200
STEP_NS = 12 * 10**9  # 300 batches an hour: six hours of data in 90 s of writes
START_NS = (time.time_ns() // 3600_000_000_000 - 12) * 3600_000_000_000


def query(q):
    data = urllib.parse.urlencode({"q": q}).encode()
    with urllib.request.urlopen(URL + "/query", data, timeout=30) as r:
        return json.load(r)


def write(lines):
    req = urllib.request.Request(
        URL + "/write?db=live&precision=ns", data="\n".join(lines).encode(), method="POST"
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status == 204


query('CREATE DATABASE "live" WITH DURATION INF SHARD DURATION 1h NAME "autogen"')

lock = threading.Lock()
sent = {}  # (host, time) -> every value sent, in order
acked = []  # (monotonic ack time, [(host, time, value)])
stop = threading.Event()
writer_error = []


def writer():
    rng = random.Random(7)
    n = 0
    try:
        while not stop.is_set():
            points = []
            t = START_NS + n * STEP_NS
            for h in range(HOSTS):
                points.append((f"h{h:02}", t, float(n * 1000 + 1)))
            for _ in range(5 if n > 10 else 0):
                old = rng.randrange(n)
                host = f"h{rng.randrange(HOSTS):02}"
                key = (host, START_NS + old * STEP_NS)
                with lock:
                    version = len(sent.get(key, [])) + 1
                points.append((host, key[1], float(old * 1000 + version)))
            with lock:
                for host, ts, value in points:
                    sent.setdefault((host, ts), []).append(value)
            if write([f"cpu,host={h} v={v!r} {ts}" for h, ts, v in points]):
                with lock:
                    acked.append((time.monotonic(), points))
            n += 1
            time.sleep(0.02)
    except Exception as err:  # noqa: BLE001 - reported and failed below
        writer_error.append(repr(err))


def exported_lp(out):
    got = {}
    for dirpath, _, files in os.walk(out):
        for name in files:
            if not name.endswith(".lp"):
                continue
            for line in open(os.path.join(dirpath, name), encoding="utf-8"):
                series, field, ts = line.split()
                host = series.split("host=")[1]
                got.setdefault((host, int(ts)), []).append(float(field.split("=")[1]))
    return got


def exported_parquet(out):
    import pyarrow.dataset as ds

    got = {}
    folder = os.path.join(out, "live", "autogen", "cpu")
    if not os.path.isdir(folder):
        return got
    table = ds.dataset(folder, format="parquet").to_table(columns=["time", "host", "v"])
    times = table.column("time").cast("int64").to_pylist()
    for host, ts, v in zip(table.column("host").to_pylist(), times, table.column("v").to_pylist()):
        got.setdefault((host, ts), []).append(v)
    return got


thread = threading.Thread(target=writer, daemon=True)
thread.start()
time.sleep(3)
summary = {
    "exports": 0, "ok": 0, "changing": 0, "verify": 0, "problems": [], "points_checked": 0,
    "relisted": 0, "vanished_in_scan": 0,
}
deadline = time.monotonic() + SECONDS
while time.monotonic() < deadline and not writer_error:
    i = summary["exports"]
    fmt = "parquet" if i % 2 == 0 else "lp"
    out = os.path.join(OUT, str(i))
    started = time.monotonic()
    with lock:
        before = {}
        for ack_time, points in acked:
            if ack_time < started:
                for host, ts, value in points:
                    before[(host, ts)] = value  # the newest acknowledged version
        written = {k: list(v) for k, v in sent.items()}
    run = subprocess.run(
        [BIN, "export", ROOT, "--out", out, "--format", fmt, "--threads", "2", "-q", "--json"],
        capture_output=True, text=True,
    )
    summary["exports"] += 1
    if run.returncode != 0:
        if "kept changing" in run.stderr:
            summary["changing"] += 1
            continue
        summary["problems"].append(f"export {i} ({fmt}) exit {run.returncode}: {run.stderr.strip()}")
        break
    report = json.loads(run.stdout)
    summary["relisted"] += report["shards_relisted"]
    summary["vanished_in_scan"] += sum(1 for x in report["ignored"] if "vanished" in x["reason"])
    got = exported_parquet(out) if fmt == "parquet" else exported_lp(out)
    with lock:
        written = {k: list(v) for k, v in sent.items()}
    missing = [k for k in before if k not in got]
    twice = [k for k, v in got.items() if len(v) > 1]
    never = [k for k, v in got.items() if k not in written or v[0] not in written[k]]
    stale = [
        k for k, v in before.items()
        if k in got and got[k][0] in written[k] and written[k].index(got[k][0]) < written[k].index(v)
    ]
    summary["points_checked"] += len(before)
    for what, keys in (("missing", missing), ("twice", twice), ("never written", never), ("stale", stale)):
        if keys:
            summary["problems"].append(f"export {i} ({fmt}): {len(keys)} points {what}, e.g. {keys[:3]}")
    if not (missing or twice or never or stale):
        summary["ok"] += 1
    if i % 4 == 3:
        verify = subprocess.run([BIN, "verify", ROOT, "-q"], capture_output=True, text=True)
        summary["verify"] += 1
        if verify.returncode != 0:
            summary["problems"].append(f"verify exit {verify.returncode}: {verify.stdout} {verify.stderr}")
    if summary["problems"]:
        break
stop.set()
thread.join()
summary["writer_error"] = writer_error
summary["batches_acknowledged"] = len(acked)
summary["shards"] = len(
    [d for d in os.listdir(os.path.join(ROOT, "data", "live", "autogen"))]
) if os.path.isdir(os.path.join(ROOT, "data", "live", "autogen")) else 0
print(json.dumps(summary, indent=1))
failed = summary["problems"] or writer_error or summary["ok"] < 5
sys.exit(1 if failed else 0)
