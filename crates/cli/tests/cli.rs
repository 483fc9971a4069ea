//! The binary's arguments, exit statuses and output-directory rules; none of these need
//! shard data.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::common::{
    assert_code, copy_tree, describe, empty_influxdb, files, fixture, run, snapshot,
};

#[test]
fn bad_arguments_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let input = empty_influxdb(dir.path());
    let out = dir.path().join("out");
    let cases: &[&[&str]] = &[
        &[],
        &["export"],
        &["export", "--out", "x"],
        &["frobnicate"],
        &["export", "--bogus"],
        &["export", "IN", "--out", "OUT", "--threads", "0"],
        &["export", "IN", "--out", "OUT", "--threads", "many"],
        &["export", "IN", "--out", "OUT", "--compression", "gzip"],
        &["export", "IN", "--out", "OUT", "--compression", "zstd(23)"],
        &["export", "IN", "--out", "OUT", "--start", "yesterday"],
        &[
            "export",
            "IN",
            "--out",
            "OUT",
            "--end",
            "2024-03-04T00:00:00",
        ],
        &["export", "IN", "--out", "OUT", "--shard", "-1"],
        &["export", "IN", "--out", "OUT", "--row-group-size", "0"],
        &["export", "IN", "--out", "OUT", "--batch-bytes", "lots"],
        &[
            "export",
            "IN",
            "--out",
            "OUT",
            "--measurement",
            "cpu[",
            "--dry-run",
        ],
        &["export", "IN", "--out", "OUT", "--resume", "--overwrite"],
        // Valid syntax, rejected by validation.
        &[
            "export",
            "IN",
            "--out",
            "OUT",
            "--start",
            "2024-03-05T00:00:00Z",
            "--end",
            "2024-03-04T00:00:00Z",
        ],
        &["export", "IN", "--out", "OUT", "--start", "5", "--end", "5"],
        &["export", "NOWHERE", "--out", "OUT"],
        &["export", "--data-dir", "NOWHERE", "--out", "OUT"],
        &["export", "IN", "--wal-dir", "NOWHERE", "--out", "OUT"],
    ];
    for case in cases {
        let args: Vec<String> = case
            .iter()
            .map(|a| match *a {
                "IN" => input.display().to_string(),
                "OUT" => out.display().to_string(),
                "NOWHERE" => dir.path().join("nowhere").display().to_string(),
                other => other.to_string(),
            })
            .collect();
        let refs: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
        let output = run(&refs);
        assert_eq!(
            output.status.code(),
            Some(64),
            "{case:?}\n{}",
            describe(&output)
        );
        assert!(!output.stderr.is_empty(), "{case:?}: no message");
        assert!(output.stdout.is_empty(), "{case:?}: wrote to stdout");
        assert!(!out.exists(), "{case:?}: created --out");
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["export", "--help"],
        &["help", "export"],
    ] {
        let refs: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
        let output = run(&refs);
        assert_code(&output, 0);
        assert!(!output.stdout.is_empty());
    }
}

#[test]
fn non_empty_out_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = empty_influxdb(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("precious.txt"), "keep me").unwrap();
    let before = snapshot(&out);
    for extra in [&[][..], &["--dry-run"], &["--overwrite"], &["--resume"]] {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"export", &input, &"--out", &out];
        args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        let output = run(&args);
        assert_code(&output, 64);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("not empty"), "{extra:?}: {stderr}");
        assert_eq!(snapshot(&out), before, "{extra:?} changed --out");
    }
}

#[test]
fn out_inside_the_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = empty_influxdb(dir.path());
    let before = snapshot(&input);
    for out in [
        input.join("data/exported"),
        input.join("parquet"),
        input.clone(),
        dir.path().to_path_buf(),
    ] {
        let output = run(&[&"export", &input, &"--out", &out]);
        assert_code(&output, 64);
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("inside"),
            "{}",
            describe(&output)
        );
        assert_eq!(snapshot(&input), before);
    }
    // Also through `..` and a data folder given on its own.
    let sneaky = input.join("wal/../data/../x");
    let output = run(&[
        &"export",
        &"--data-dir",
        &input.join("data"),
        &"--out",
        &sneaky,
    ]);
    assert_code(&output, 0);
    let output = run(&[&"export", &input, &"--out", &sneaky]);
    assert_code(&output, 64);
}

#[test]
fn empty_input_exports_nothing_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let input = empty_influxdb(dir.path());
    let out = dir.path().join("out");
    let output = run(&[&"export", &input, &"--out", &out, &"--json"]);
    assert_code(&output, 0);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["shards"], 0);
    assert_eq!(summary["files"], 0);
    assert_eq!(summary["exit_code"], 0);
    assert!(String::from_utf8_lossy(&output.stderr).contains("exported 0 of 0 shards"));
    assert_eq!(
        files(&out),
        [
            ".influx-tsm/options.json",
            ".influx-tsm/tables.json",
            "manifest.json"
        ]
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["files"], serde_json::json!([]));
    assert_eq!(manifest["totals"]["rows"], 0);

    // Again without --resume: refused. With it and the same options: fine.
    assert_code(&run(&[&"export", &input, &"--out", &out]), 64);
    assert_code(
        &run(&[&"export", &input, &"--out", &out, &"--resume", &"--quiet"]),
        0,
    );
    // Options that change the contents: refused, naming the difference.
    let output = run(&[
        &"export",
        &input,
        &"--out",
        &out,
        &"--resume",
        &"--compression",
        &"snappy",
    ]);
    assert_code(&output, 64);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("compression"),
        "{}",
        describe(&output)
    );
    // Options that do not: fine.
    assert_code(
        &run(&[
            &"export",
            &input,
            &"--out",
            &out,
            &"--resume",
            &"--threads",
            &"1",
        ]),
        0,
    );
}

#[test]
fn overwrite_replaces_only_our_own_exports() {
    let dir = tempfile::tempdir().unwrap();
    let input = empty_influxdb(dir.path());
    let out = dir.path().join("out");
    assert_code(&run(&[&"export", &input, &"--out", &out, &"--quiet"]), 0);
    std::fs::create_dir_all(out.join("db/rp/m")).unwrap();
    std::fs::write(out.join("db/rp/m/1.parquet"), "old").unwrap();
    let output = run(&[
        &"export",
        &input,
        &"--out",
        &out,
        &"--overwrite",
        &"--compression",
        &"lz4",
    ]);
    assert_code(&output, 0);
    assert_eq!(
        files(&out),
        [
            ".influx-tsm/options.json",
            ".influx-tsm/tables.json",
            "manifest.json"
        ]
    );
    let options = std::fs::read_to_string(out.join(".influx-tsm/options.json")).unwrap();
    assert!(options.contains("lz4"), "{options}");
}

#[test]
fn dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = empty_influxdb(dir.path());
    let out = dir.path().join("out");
    let output = run(&[&"export", &input, &"--out", &out, &"--dry-run"]);
    assert_code(&output, 0);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("plan: 0 shards"),
        "{}",
        describe(&output)
    );
    assert!(!out.exists());

    let output = run(&[&"export", &input, &"--out", &out, &"--dry-run", &"--json"]);
    assert_code(&output, 0);
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["shard_count"], 0);
    assert!(!out.exists());
}

/// Whatever the export does with the fixture (the merged view may not exist yet), the
/// input is byte-for-byte the same afterwards.
#[test]
fn input_directory_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("influxdb");
    copy_tree(&fixture(), &input);
    let before = snapshot(&input);
    let out = dir.path().join("out");
    let _ = run(&[&"export", &input, &"--out", &out, &"--dry-run"]);
    let _ = run(&[&"export", &input, &"--out", &out, &"--threads", &"2"]);
    let _ = run(&[
        &"export",
        &input,
        &"--out",
        &out,
        &"--resume",
        &"--threads",
        &"2",
    ]);
    let _ = run(&[
        &"export",
        &input,
        &"--out",
        &out,
        &"--overwrite",
        &"--skip-corrupt",
    ]);
    assert_eq!(snapshot(&input), before);

    // And the fixture in the repository itself, read in place.
    let fixture_before = snapshot(&fixture());
    let out = dir.path().join("out2");
    let _ = run(&[&"export", &fixture(), &"--out", &out]);
    assert_eq!(snapshot(&fixture()), fixture_before);
}

#[test]
fn broken_pipe_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let input = empty_influxdb(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_influx-tsm"))
        .args(["export", "--out"])
        .arg(dir.path().join("out"))
        .arg(&input)
        .args(["--dry-run", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
}
