//! `export --partition I/N`: N processes, each with its share of the plan, write into one
//! `--out` the same files as one process.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{assert_code, describe, snapshot};

fn input(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

/// `influx-tsm export INPUT --out OUT EXTRA...`, stdin closed.
fn export_command(input: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_influx-tsm"));
    command
        .arg("export")
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdin(Stdio::null());
    command
}

/// [`export_command`] run to its end.
fn export(input: &Path, out: &Path, extra: &[&str]) -> Output {
    export_command(input, out, extra)
        .output()
        .expect("run influx-tsm")
}

/// The shards `--dry-run --json` plans for `extra`.
fn planned(input: &Path, out: &Path, extra: &[&str]) -> Vec<(String, String, u64)> {
    let mut args = vec!["--dry-run", "--json"];
    args.extend(extra);
    let output = export(input, out, &args);
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
        let output = export(&input(name), &one, &["--format", format, "--quiet"]);
        assert_code(&output, 0);
        let shared = tmp.path().join(format!("{format}-shared"));
        let children: Vec<_> = (1..=3)
            .map(|i| {
                let partition = format!("{i}/3");
                let extra = [
                    "--quiet",
                    "--format",
                    format,
                    "--threads",
                    "1",
                    "--partition",
                    &partition,
                ];
                export_command(&input(name), &shared, &extra)
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
        let output = export(
            &input(name),
            &shared,
            &["--format", format, "--quiet", "--partition", "2/3"],
        );
        assert_code(&output, 0);
        assert_eq!(snapshot(&one), snapshot(&shared), "{name}: again");
    }
}

#[test]
fn partitions_must_share_their_options_and_never_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let fixture = input("small-a/influxdb");
    let output = export(&fixture, &out, &["--partition", "1/2", "--quiet"]);
    assert_code(&output, 0);
    let output = export(
        &fixture,
        &out,
        &["--partition", "2/2", "--database", "airq"],
    );
    assert_code(&output, 64);
    assert!(
        describe(&output).contains("other options"),
        "{}",
        describe(&output)
    );
    let output = export(&fixture, &out, &["--partition", "2/2", "--overwrite"]);
    assert_code(&output, 64);
    for bad in ["0/2", "3/2", "2", "a/b", "1/0"] {
        let output = export(&fixture, &out, &["--partition", bad]);
        assert_code(&output, 64);
    }
}
