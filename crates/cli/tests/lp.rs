//! `export --format lp`: the line protocol is parsed back (by a small parser following
//! InfluxDB's `models/points.go` rules) and compared with `oracle_typed.jsonl`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::common::{assert_code, describe, fixture, oracle_path, run};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Float(u64),
    Integer(i64),
    Unsigned(u64),
    String(String),
    Boolean(bool),
}

/// (database, retention policy, measurement, sorted tags, time) -> fields.
type Points =
    BTreeMap<(String, String, String, Vec<(String, String)>, i64), BTreeMap<String, Value>>;

fn oracle() -> Points {
    let text = std::fs::read_to_string(oracle_path()).unwrap();
    let mut points = Points::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| v[k].as_str().unwrap().to_string();
        let tags = v["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t[0].as_str().unwrap().into(), t[1].as_str().unwrap().into()))
            .collect();
        let fields = v["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let value = match f[1].as_str().unwrap() {
                    "float" => Value::Float(f[2].as_f64().unwrap().to_bits()),
                    "integer" => Value::Integer(f[2].as_i64().unwrap()),
                    "unsigned" => Value::Unsigned(f[2].as_u64().unwrap()),
                    "string" => Value::String(f[2].as_str().unwrap().into()),
                    "boolean" => Value::Boolean(f[2].as_bool().unwrap()),
                    other => panic!("type {other}"),
                };
                (f[0].as_str().unwrap().to_string(), value)
            })
            .collect();
        let key = (s("db"), s("rp"), s("m"), tags, v["time"].as_i64().unwrap());
        points.insert(key, fields);
    }
    points
}

/// Splits at unescaped `sep` outside double quotes (quotes count only when `quotes`).
fn split(s: &str, sep: char, quotes: bool) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.last_mut().unwrap().push(c);
            if let Some(n) = chars.next() {
                out.last_mut().unwrap().push(n);
            }
        } else if quotes && c == '"' {
            quoted = !quoted;
            out.last_mut().unwrap().push(c);
        } else if c == sep && !quoted {
            out.push(String::new());
        } else {
            out.last_mut().unwrap().push(c);
        }
    }
    out
}

fn unescape(s: &str, escaped: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(|n| escaped.contains(*n)) {
            out.push(chars.next().unwrap());
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_value(v: &str) -> Value {
    if let Some(s) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        return Value::String(unescape(s, "\"\\"));
    }
    match v {
        "true" => return Value::Boolean(true),
        "false" => return Value::Boolean(false),
        _ => {}
    }
    if let Some(i) = v.strip_suffix('i') {
        return Value::Integer(i.parse().unwrap());
    }
    if let Some(u) = v.strip_suffix('u') {
        return Value::Unsigned(u.parse().unwrap());
    }
    Value::Float(v.parse::<f64>().unwrap().to_bits())
}

/// Parses line protocol with `# CONTEXT-...` lines into points; logical lines may hold
/// raw newlines inside quoted strings.
fn parse_lp(text: &str, db: &str, rp: &str, points: &mut Points) -> usize {
    let (mut db, mut rp) = (db.to_string(), rp.to_string());
    let mut lines = 0;
    for line in split(text, '\n', true) {
        if let Some(d) = line.strip_prefix("# CONTEXT-DATABASE:") {
            db = d.to_string();
            continue;
        }
        if let Some(r) = line.strip_prefix("# CONTEXT-RETENTION-POLICY:") {
            rp = r.to_string();
            continue;
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with("CREATE ") {
            continue;
        }
        let parts = split(&line, ' ', true);
        assert_eq!(parts.len(), 3, "{line}");
        let mut key = split(&parts[0], ',', false).into_iter();
        let measurement = unescape(&key.next().unwrap(), ", ");
        let mut tags: Vec<(String, String)> = key
            .map(|t| {
                let kv = split(&t, '=', false);
                assert_eq!(kv.len(), 2, "{t}");
                (unescape(&kv[0], ", ="), unescape(&kv[1], ", ="))
            })
            .collect();
        tags.sort();
        let fields = split(&parts[1], ',', true)
            .into_iter()
            .map(|f| {
                let kv = split(&f, '=', true);
                assert_eq!(kv.len(), 2, "{f}");
                (unescape(&kv[0], ", =\""), parse_value(&kv[1]))
            })
            .collect();
        let time = parts[2].parse().unwrap();
        let old = points.insert((db.clone(), rp.clone(), measurement, tags, time), fields);
        assert!(old.is_none(), "point written twice: {line}");
        lines += 1;
    }
    lines
}

/// Every `.lp` / `.lp.gz` under `out`, parsed, db and rp taken from the path.
fn read_tree(out: &Path) -> Points {
    let mut points = Points::new();
    for entry in crate::common::files(out) {
        if entry.starts_with(".influx-tsm") || entry == "manifest.json" {
            continue;
        }
        let parts: Vec<&str> = entry.split('/').collect();
        let mut bytes = std::fs::read(out.join(&entry)).unwrap();
        if entry.ends_with(".gz") {
            let mut text = Vec::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut text)
                .unwrap();
            bytes = text;
        }
        let db = influx_tsm_export::naming::decode(parts[0]).unwrap();
        let rp = influx_tsm_export::naming::decode(parts[1]).unwrap();
        parse_lp(
            std::str::from_utf8(&bytes).unwrap(),
            std::str::from_utf8(&db).unwrap(),
            std::str::from_utf8(&rp).unwrap(),
            &mut points,
        );
    }
    points
}

/// The shards of small-a that hold WAL data only: exportable before the block decoders.
const WAL_ONLY: [&str; 6] = ["--shard", "25", "--shard", "26", "--shard", "27"];

/// Oracle points of airq/autogen from the first day of the exported points on (the
/// WAL-only shards are the last three daily shards).
fn oracle_from(points: &Points) -> Points {
    let first = points.keys().map(|k| k.4).min().unwrap();
    let day = 86_400_000_000_000i64;
    let start = first - first.rem_euclid(day);
    oracle()
        .into_iter()
        .filter(|(k, _)| k.0 == "airq" && k.1 == "autogen" && k.4 >= start)
        .collect()
}

#[test]
fn wal_only_shards_equal_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"export", &"--format", &"lp", &"--out", &out, &"-q"];
    let input = fixture();
    args.insert(1, &input);
    args.extend(WAL_ONLY.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
    let output = run(&args);
    assert_code(&output, 0);
    let got = read_tree(&out);
    assert!(got.len() > 200, "{}", got.len());
    let want = oracle_from(&got);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the export differs from oracle_typed.jsonl");
}

#[test]
fn stdout_gzip_ddl_and_threads_agree() {
    let input = fixture();
    let plain = |threads: &str, extra: &[&str]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"export",
            &input,
            &"--format",
            &"lp",
            &"--out",
            &"-",
            &"-q",
            &"-j",
        ];
        args.push(&threads);
        args.extend(WAL_ONLY.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        let output = run(&args);
        assert_code(&output, 0);
        output.stdout
    };
    let one = plain("1", &[]);
    assert_eq!(one, plain("4", &[]), "threads 1 and 4 differ");
    let gz = plain("4", &["--compress", "gzip(1)"]);
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut text)
        .unwrap();
    assert_eq!(text, one);
    let ddl = String::from_utf8(plain("2", &["--with-ddl"])).unwrap();
    assert!(ddl.starts_with(
        "# DDL\nCREATE DATABASE \"airq\" WITH DURATION INF REPLICATION 1 NAME \"autogen\"\n# DML\n\
         # CONTEXT-DATABASE:airq\n# CONTEXT-RETENTION-POLICY:autogen\n"
    ));
    let mut points = Points::new();
    parse_lp(&ddl, "?", "?", &mut points);
    assert_eq!(points, oracle_from(&points));
}

#[test]
fn files_resume_and_bad_combinations() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let input = fixture();
    let export = |extra: &[&str]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
            vec![&"export", &input, &"--format", &"lp", &"--out", &out, &"-q"];
        args.extend(WAL_ONLY.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        run(&args)
    };
    assert_code(&export(&["--compress", "gzip"]), 0);
    let names: Vec<String> = crate::common::files(&out)
        .into_iter()
        .filter(|f| !f.starts_with(".influx-tsm"))
        .collect();
    // The three shards of airq/autogen are one group, one file.
    assert_eq!(names, ["airq/autogen/25-27.lp.gz", "manifest.json"]);
    // The manifest lists the line-protocol files with their sizes and time ranges.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["output"], "lp");
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed, &names[..1]);
    assert_eq!(
        manifest["files"][0]["shards"],
        serde_json::json!([25, 26, 27])
    );
    for f in manifest["files"].as_array().unwrap() {
        let path = out.join(f["path"].as_str().unwrap());
        assert_eq!(f["bytes"], std::fs::metadata(&path).unwrap().len());
        assert!(f["min_time"].as_i64().unwrap() <= f["max_time"].as_i64().unwrap());
    }
    assert_code(&export(&["--compress", "gzip", "--resume"]), 0);
    // Other options than the earlier run: refused.
    let again = export(&["--resume"]);
    assert_code(&again, 64);
    for bad in [
        &["--compression", "zstd"][..],
        &["--with-ddl", "--format", "parquet"][..],
    ] {
        assert_code(&export(bad), 64);
    }
    let to_stdout_json = run(&[
        &"export",
        &input,
        &"--format",
        &"lp",
        &"--out",
        &"-",
        &"--json",
    ]);
    assert_code(&to_stdout_json, 64);
    let parquet_stdout = run(&[&"export", &input, &"--out", &"-"]);
    assert!(
        String::from_utf8_lossy(&parquet_stdout.stderr).contains("--format lp"),
        "{}",
        describe(&parquet_stdout)
    );
}

#[test]
fn whole_fixture_equals_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let input = fixture();
    // Grouped as by default; in small groups whose every shard goes through a part file
    // (gzip members among them); one file per shard.
    let runs: [(&str, &[&str]); 4] = [
        ("1", &[]),
        ("4", &[]),
        (
            "2",
            &["--target-file-size", "24K", "--small-shard-bytes", "1K"],
        ),
        ("2", &["--file-per-shard", "--compress", "gzip"]),
    ];
    for (i, (threads, extra)) in runs.into_iter().enumerate() {
        let out = out.join(i.to_string());
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"export",
            &input,
            &"--format",
            &"lp",
            &"--out",
            &out,
            &"-q",
            &"-j",
            &threads,
        ];
        args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        let output = run(&args);
        assert_code(&output, 0);
        let got = read_tree(&out);
        assert!(
            got == oracle(),
            "the export differs from oracle_typed.jsonl"
        );
    }
}
