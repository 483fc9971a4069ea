//! `export --partition I/N`: N processes, each with its share of the plan, write into one
//! `--out` the same files as one process.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{assert_code, describe, run, snapshot};

fn input(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

/// The shards `--dry-run --json` plans for `extra`.
fn planned(input: &Path, out: &Path, extra: &[&str]) -> Vec<(String, String, u64)> {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"export", &input, &"--out", &out, &"--dry-run", &"--json"];
    args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
    let output = run(&args);
    assert_code(&output, 0);
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    plan["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["database"].as_str().unwrap().to_owned(),
                s["retention_policy"].as_str().unwrap().to_owned(),
                s["shard"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_shares_of_a_plan_are_disjoint_and_cover_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    for name in ["small-a/influxdb", "small-b/backup-portable"] {
        let whole: BTreeSet<_> = planned(&input(name), &out, &[]).into_iter().collect();
        for n in [1, 2, 3, 5] {
            let mut seen = BTreeSet::new();
            for i in 1..=n {
                let share = planned(&input(name), &out, &["--partition", &format!("{i}/{n}")]);
                assert!(n == 1 || share.len() < whole.len(), "{name} {i}/{n}");
                for shard in share {
                    assert!(seen.insert(shard.clone()), "{shard:?} in two shares");
                }
            }
            assert_eq!(seen, whole, "{name}: {n} shares");
        }
    }
}

#[test]
fn concurrent_partitions_into_one_out_equal_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, format) in [
        ("small-a/influxdb", "parquet"),
        ("small-b/backup-legacy", "lp"),
    ] {
        let one = tmp.path().join(format!("{format}-one"));
        let output = run(&[
            &"export",
            &input(name),
            &"--out",
            &one,
            &"--format",
            &format,
            &"--quiet",
        ]);
        assert_code(&output, 0);
        let shared = tmp.path().join(format!("{format}-shared"));
        let children: Vec<_> = (1..=3)
            .map(|i| {
                Command::new(env!("CARGO_BIN_EXE_influx-tsm"))
                    .args(["export", "--quiet", "--format", format, "--threads", "1"])
                    .arg(input(name))
                    .arg("--out")
                    .arg(&shared)
                    .arg("--partition")
                    .arg(format!("{i}/3"))
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert_code(&output, 0);
        }
        assert_eq!(snapshot(&one), snapshot(&shared), "{name}");

        // A partition run again rewrites its own shards only, the others stay.
        let output = run(&[
            &"export",
            &input(name),
            &"--out",
            &shared,
            &"--format",
            &format,
            &"--quiet",
            &"--partition",
            &"2/3",
        ]);
        assert_code(&output, 0);
        assert_eq!(snapshot(&one), snapshot(&shared), "{name}: again");
    }
}

#[test]
fn partitions_must_share_their_options_and_never_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let fixture = input("small-a/influxdb");
    let output = run(&[
        &"export",
        &fixture,
        &"--out",
        &out,
        &"--partition",
        &"1/2",
        &"--quiet",
    ]);
    assert_code(&output, 0);
    let output = run(&[
        &"export",
        &fixture,
        &"--out",
        &out,
        &"--partition",
        &"2/2",
        &"--database",
        &"airq",
    ]);
    assert_code(&output, 64);
    assert!(
        describe(&output).contains("other options"),
        "{}",
        describe(&output)
    );
    let output = run(&[
        &"export",
        &fixture,
        &"--out",
        &out,
        &"--partition",
        &"2/2",
        &"--overwrite",
    ]);
    assert_code(&output, 64);
    for bad in ["0/2", "3/2", "2", "a/b", "1/0"] {
        let output = run(&[&"export", &fixture, &"--out", &out, &"--partition", &bad]);
        assert_code(&output, 64);
    }
}
