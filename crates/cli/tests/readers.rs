//! Real readers read each measurement folder as one table, with their default options:
//! DuckDB (`read_parquet` on the glob), Polars (`read_parquet` on the glob), pyarrow
//! (`dataset` on the folder) and DataFusion (`register_parquet` on the folder), through
//! the Python named by `INFLUX_TSM_PYTHON` (`tests/run.sh` makes one). For every fixture
//! and every measurement folder each reader must return the oracle's rows and, column by
//! column, exactly the oracle's values (time, series and value of every non-null cell);
//! every file of a folder must have the identical schema. Each fixture is exported twice:
//! grouped as by default (a retention policy's shards in one file per measurement) and
//! with a target small enough to make several groups (several files per folder). Conflicted fields: each stored
//! type's values are in the column the documentation names (`key` for the type InfluxQL
//! returns, which must be the type the server's own `SELECT *` returned, `key_type` for
//! the others).

use std::process::Command;

use crate::common::{assert_code, python, run};

const SCRIPT: &str = r#"
import glob, json, os, sys
import duckdb, polars, pyarrow as pa, pyarrow.dataset as ds, pyarrow.parquet as pq
import datafusion

out, fixture = sys.argv[1], sys.argv[2]
manifest = json.load(open(os.path.join(out, "manifest.json")))
assert manifest["format"] == "influx-tsm.export-manifest" and manifest["version"] == 2

points = {}
for line in open(os.path.join(fixture, "oracle_typed.jsonl"), encoding="utf-8"):
    p = json.loads(line)
    points.setdefault((p["db"], p["rp"], p["m"]), []).append(p)
server_types = {}
for line in open(os.path.join(fixture, "oracle.jsonl"), encoding="utf-8"):
    p = json.loads(line)
    for k, ty, _ in p["fields"]:
        server_types.setdefault((p["db"], p["rp"], p["m"], k), set()).add(ty)

def series(tags):
    return ",".join(f"{k}={v}" for k, v in sorted(tags) if v not in (None, ""))

def expected(table):
    pts = points.get((table["database"], table["retention_policy"], table["measurement"]), [])
    cols = {}
    for c in table["columns"]:
        cells = []
        for p in pts:
            s = series(p["tags"])
            if c["role"] == "time":
                cells.append((p["time"], s, p["time"]))
            elif c["role"] == "tag":
                v = dict(p["tags"]).get(c["key"])
                if v not in (None, ""):
                    cells.append((p["time"], s, v))
            else:
                for k, ty, v in p["fields"]:
                    if k == c["key"] and ty in c["stored_types"]:
                        cells.append((p["time"], s, v))
        cols[c["name"]] = sorted(cells, key=repr)
    return len(pts), cols

def got(t, table):
    t = t.set_column(t.schema.get_field_index("time"), "time", t.column("time").cast(pa.int64()))
    rows = t.to_pylist()
    tags = [c["name"] for c in table["columns"] if c["role"] == "tag"]
    keys = {c["name"]: c["key"] for c in table["columns"]}
    cols = {}
    for c in table["columns"]:
        cells = []
        for r in rows:
            v = r[c["name"]]
            if v is None or (c["role"] == "tag" and v == ""):
                continue
            s = series([(keys[n], r[n]) for n in tags])
            cells.append((r["time"], s, v))
        cols[c["name"]] = sorted(cells, key=repr)
    return len(rows), cols

def readers(folder):
    pattern = os.path.join(folder, "*.parquet")
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{pattern}')")
    yield "duckdb", rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
    yield "polars", polars.read_parquet(pattern).to_arrow()
    yield "pyarrow", ds.dataset(folder, format="parquet").to_table()
    ctx = datafusion.SessionContext()
    ctx.register_parquet("t", folder)
    yield "datafusion", ctx.sql("SELECT * FROM t").to_arrow_table()

report = {"tables": 0, "checks": 0, "problems": []}
def problem(text):
    report["problems"].append(text)

rank = {"float": 0, "integer": 1, "unsigned": 2, "string": 3, "boolean": 4}
for table in manifest["measurements"]:
    folder = os.path.join(out, table["folder"])
    where = f'{table["folder"]}'
    files = sorted(glob.glob(os.path.join(folder, "*.parquet")))
    if not files:
        problem(f"{where}: no files")
        continue
    report["tables"] += 1
    schemas = {json.dumps([(f.name, str(f.type), sorted((f.metadata or {}).items()))
                           for f in pq.read_schema(p)], default=repr) for p in files}
    if len(schemas) != 1:
        problem(f"{where}: {len(schemas)} different schemas among {len(files)} files")
    want_rows, want = expected(table)
    for name, t in readers(folder):
        rows, cols = got(t, table)
        report["checks"] += 1
        if rows != want_rows:
            problem(f"{where} {name}: {rows} rows, the oracle has {want_rows}")
        if sorted(cols) != sorted(want):
            problem(f"{where} {name}: columns {sorted(cols)}, manifest {sorted(want)}")
            continue
        for col in want:
            if cols[col] != want[col]:
                problem(f"{where} {name}: column {col}: {len(cols[col])} cells differ from "
                        f"the oracle's {len(want[col])}: e.g. "
                        f"{[c for c in cols[col] if c not in want[col]][:2]} / "
                        f"{[c for c in want[col] if c not in cols[col]][:2]}")
    # Conflicts: the documented column of each stored type, and the server's own type.
    for c in table["columns"]:
        if c["role"] != "field":
            continue
        stored = sorted({t for col in table["columns"] if col["role"] == "field" and col["key"] == c["key"]
                         for t in col["stored_types"]}, key=rank.get)
        if len(stored) < 2:
            continue
        winner = stored[0]
        documented = c["key"] if c["type"] == winner else f'{c["key"]}_{c["type"]}'
        if c["name"] != documented or c["stored_types"] != [c["type"]]:
            problem(f"{where}: column {c['name']} holds {c['stored_types']}, documented {documented}")
        server = server_types.get((table["database"], table["retention_policy"], table["measurement"], c["key"]))
        if server is not None and server != {winner}:
            problem(f"{where}: field {c['key']}: the server returns {server}, the key's column is {winner}")
        report.setdefault("conflicted_columns", []).append(c["name"])
print(json.dumps(report))
"#;

#[test]
fn each_measurement_folder_reads_as_one_table_in_every_reader() {
    let python = python();
    let mut conflicted = Vec::new();
    let runs = influx_tsm_shard::testkit::oracle::fixture_dirs()
        .into_iter()
        .flat_map(|fixture| [(fixture.clone(), "1G"), (fixture, "16K")]);
    for (fixture, target) in runs {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let input = fixture.join("influxdb");
        assert_code(
            &run(&[
                &"export",
                &input,
                &"--out",
                &out,
                &"--quiet",
                &"--target-file-size",
                &target,
            ]),
            0,
        );
        let output = Command::new(&python)
            .arg("-c")
            .arg(SCRIPT)
            .arg(&out)
            .arg(&fixture)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: the readers failed: {}",
            fixture.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            report["problems"],
            serde_json::json!([]),
            "{}",
            fixture.display()
        );
        assert!(report["tables"].as_u64().unwrap() > 0, "{report}");
        assert_eq!(
            report["checks"].as_u64(),
            report["tables"].as_u64().map(|t| t * 4),
            "{report}"
        );
        if let Some(columns) = report["conflicted_columns"].as_array() {
            conflicted.extend(columns.iter().map(|c| c.as_str().unwrap().to_string()));
        }
    }
    // The conflicts fixture (fixtures/make_conflicts.sh) must be among them.
    for column in ["value", "value_integer", "value_string", "value_boolean"] {
        assert!(
            conflicted.iter().any(|c| c == column),
            "no conflicted column {column} was checked: {conflicted:?}"
        );
    }
}
