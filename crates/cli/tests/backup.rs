//! `export BACKUP_DIR`: the real influxd 1.6.7 backups of the fixtures
//! (`fixtures/*/backup-{portable,legacy}`) export to the same files as the directory
//! they were taken from, with the same filters, and equal the server's answer for it.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::common::{assert_code, describe, run, snapshot};
use crate::end_to_end::{assert_same_points, exported, oracle_at};

const FIXTURES: [&str; 4] = ["small-a", "small-a-tsi", "small-b", "hostile-names"];
const FORMATS: [&str; 2] = ["backup-portable", "backup-legacy"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

/// Runs `export INPUT --out OUT ARGS...`, which must succeed.
fn export(input: &Path, out: &Path, extra: &[&str]) {
    let mut args: Vec<&dyn AsRef<OsStr>> = vec![&"export", &input, &"--out", &out, &"--quiet"];
    args.extend(extra.iter().map(|a| a as &dyn AsRef<OsStr>));
    let output = run(&args);
    assert_code(&output, 0);
}

/// The exported data files (`.parquet`, `.lp`) under `out` with their bytes; the
/// bookkeeping under `.influx-tsm/` names the input and is left out.
fn data_files(out: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    snapshot(out)
        .into_iter()
        .filter(|(p, _)| !p.starts_with(".influx-tsm") && out.join(p).is_file())
        .collect()
}

#[track_caller]
fn assert_same_files(expected: &Path, got: &Path) {
    let (expected, got) = (data_files(expected), data_files(got));
    assert!(!expected.is_empty());
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &expected {
        assert!(got[path] == *bytes, "{} differs", path.display());
    }
}

#[test]
fn every_backup_exports_the_files_of_its_directory_and_the_oracle() {
    let tmp = tempfile::tempdir().unwrap();
    for name in FIXTURES {
        let live = tmp.path().join(format!("{name}-live"));
        export(&fixture(name).join("influxdb"), &live, &[]);
        let oracle = oracle_at(&fixture(name).join("oracle_typed.jsonl"));
        for format in FORMATS {
            let input = fixture(name).join(format);
            let before = snapshot(&input);
            let out = tmp.path().join(format!("{name}-{format}"));
            export(&input, &out, &[]);
            assert_same_files(&live, &out);
            assert_same_points(&exported(&out), &oracle);
            assert_eq!(
                snapshot(&input),
                before,
                "{}: input changed",
                input.display()
            );
        }
    }
}

#[test]
fn line_protocol_and_filters_work_on_backups_as_on_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 3] = [
        &["--format", "lp", "--with-ddl"],
        &[
            "--database",
            "airq",
            "--retention-policy",
            "autogen",
            "--measurement",
            "a*",
            "--start",
            "2024-03-08T00:00:00Z",
            "--end",
            "2024-03-15T12:00:00Z",
        ],
        &["--shard", "17", "--shard", "3", "--threads", "1"],
    ];
    for (i, extra) in cases.iter().enumerate() {
        let live = tmp.path().join(format!("live-{i}"));
        export(&fixture("small-a").join("influxdb"), &live, extra);
        for format in FORMATS {
            let out = tmp.path().join(format!("{format}-{i}"));
            export(&fixture("small-a").join(format), &out, extra);
            assert_same_files(&live, &out);
        }
    }
}

#[test]
fn a_damaged_archive_stops_the_export_or_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("backup");
    std::fs::create_dir(&input).unwrap();
    let mut archive = None;
    for entry in std::fs::read_dir(fixture("small-a").join("backup-portable")).unwrap() {
        let entry = entry.unwrap();
        let to = input.join(entry.file_name());
        std::fs::copy(entry.path(), &to).unwrap();
        if to.to_string_lossy().ends_with(".s5.tar.gz") {
            archive = Some(to);
        }
    }
    let archive = archive.expect("shard 5's archive");
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();

    let out = tmp.path().join("out");
    let output = run(&[&"export", &input, &"--out", &out, &"--quiet"]);
    assert_code(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&*archive.to_string_lossy()),
        "{}",
        describe(&output)
    );

    let out = tmp.path().join("out-skip");
    let output = run(&[
        &"export",
        &input,
        &"--out",
        &out,
        &"--skip-corrupt",
        &"--quiet",
        &"--file-per-shard",
    ]);
    assert_code(&output, 2);
    // Every other shard is there (one file per shard: a group's files would also name
    // the shard left out).
    let live = tmp.path().join("live");
    export(
        &fixture("small-a").join("influxdb"),
        &live,
        &["--shard", "1", "--shard", "6", "--file-per-shard"],
    );
    let got = data_files(&out);
    // The data files; the manifests differ (this one lists what was skipped).
    for (path, bytes) in data_files(&live) {
        if path == Path::new("manifest.json") {
            continue;
        }
        assert!(got.get(&path) == Some(&bytes), "{}", path.display());
    }
    assert!(!got.keys().any(|p| p.ends_with("5.parquet")));
}

/// `inspect --json`'s shards: (database, retention policy, id) -> measurement ->
/// (series, field keys), and every problem.
fn inspected(input: &Path) -> (BTreeMap<String, serde_json::Value>, Vec<String>) {
    let output = run(&[&"inspect", &input, &"--json"]);
    assert_code(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut shards = BTreeMap::new();
    let mut problems = Vec::new();
    for shard in report["shards"].as_array().unwrap() {
        let id = format!(
            "{}/{}/{}",
            shard["database"], shard["retention_policy"], shard["id"]
        );
        let measurements: serde_json::Map<String, serde_json::Value> = shard["measurements"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(m, info)| {
                let fields: Vec<&String> = info["fields"].as_object().unwrap().keys().collect();
                (m.clone(), serde_json::json!([info["series"], fields]))
            })
            .collect();
        assert_eq!(shard["catalogue"], "live", "{id}");
        shards.insert(id, serde_json::Value::Object(measurements));
        problems.extend(
            shard["problems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.to_string()),
        );
    }
    (shards, problems)
}

#[test]
fn inspect_and_verify_read_backups() {
    for name in FIXTURES {
        let (live, _) = inspected(&fixture(name).join("influxdb"));
        for format in FORMATS {
            let input = fixture(name).join(format);
            let (shards, problems) = inspected(&input);
            assert_eq!(shards, live, "{}", input.display());
            assert!(problems.is_empty(), "{problems:?}");
            let output = run(&[&"verify", &input, &"--json"]);
            assert_code(&output, 0);
            let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            let kinds: Vec<&str> = report["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["kind"].as_str().unwrap())
                .collect();
            assert_eq!(
                kinds.iter().filter(|k| **k == "archive").count(),
                shards.len(),
                "one archive per shard in {}",
                input.display()
            );
            assert!(kinds.contains(&"tsm"));
        }
    }
}

#[test]
fn verify_names_a_damaged_archive() {
    let tmp = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let input = tmp.path().join(format);
        std::fs::create_dir(&input).unwrap();
        let mut archives = Vec::new();
        for entry in std::fs::read_dir(fixture("small-a").join(format)).unwrap() {
            let entry = entry.unwrap();
            let to = input.join(entry.file_name());
            std::fs::copy(entry.path(), &to).unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tar.gz") || name.starts_with("airq.") {
                archives.push(to);
            }
        }
        archives.sort();
        let archive = &archives[0];
        let mut bytes = std::fs::read(archive).unwrap();
        // In the deflate data (portable); in the first block of the TSM file after the
        // tombstone file and its two headers (legacy), whose CRC then fails.
        let at = if format == "backup-portable" {
            700
        } else {
            1536 + 100
        };
        bytes[at] ^= 0x10;
        std::fs::write(archive, &bytes).unwrap();
        let output = run(&[&"verify", &input, &"--quiet"]);
        assert_code(&output, 1);
        assert!(
            String::from_utf8_lossy(&output.stdout).contains(&*archive.to_string_lossy()),
            "{}",
            describe(&output)
        );
    }
}
