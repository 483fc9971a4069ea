//! An export SIGKILLed at several moments: no partial file is ever visible under a final
//! name (every `*.parquet` reads back whole), and `--resume` finishes with exactly the
//! files of an uninterrupted run, with the same contents.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{assert_code, copy_tree, fixture, run};
use crate::end_to_end::{parquet_files, read_parquet};

fn relative_parquet(root: &Path) -> Vec<PathBuf> {
    parquet_files(root)
        .into_iter()
        .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
        .collect()
}

#[test]
fn killed_exports_resume_to_the_uninterrupted_result() {
    killed_exports_resume(&fixture(), &[]);
}

/// Groups small enough that a retention policy has several: kills inside and between
/// groups, then `--resume`, give the files of an uninterrupted run.
#[test]
fn killed_exports_in_small_groups_resume_to_the_uninterrupted_result() {
    killed_exports_resume(&fixture(), &["--target-file-size", "24K"]);
}

/// The conflicts fixture: a resumed export of a measurement whose field has four types
/// ends with the files (and the one schema) of an uninterrupted run.
#[test]
fn killed_exports_with_type_conflicts_resume_to_one_schema() {
    killed_exports_resume(&conflicts_fixture(), &[]);
}

fn conflicts_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/conflicts/influxdb")
}

fn killed_exports_resume(input: &Path, options: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let started = std::time::Instant::now();
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"export", &input, &"--out", &whole, &"--threads", &"1"];
    args.extend(options.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
    let output = run(&args);
    assert_code(&output, 0);
    let expected = relative_parquet(&whole);

    // Kill points spread over the length of an uninterrupted run, one in each sixth, at
    // places fixed by a seed so a failure can be replayed.
    let sixth = (started.elapsed().as_millis() as u64 / 6).max(1);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut delays: Vec<u64> = (0..6)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            i * sixth + seed % sixth
        })
        .collect();
    delays.push(0);
    let mut killed_mid_run = 0;
    for delay in delays {
        let out = dir.path().join(format!("cut-{delay}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_influx-tsm"))
            .args([
                "export".as_ref(),
                input.as_os_str(),
                "--out".as_ref(),
                out.as_os_str(),
            ])
            .args(["--threads", "1", "--quiet"])
            .args(options)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed_mid_run += 1;
        }
        // Whatever is visible under a final name is a whole, readable file.
        if out.exists() {
            for path in parquet_files(&out) {
                read_parquet(&path);
            }
        }
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"export",
            &input,
            &"--out",
            &out,
            &"--resume",
            &"--threads",
            &"2",
        ];
        args.extend(options.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        let output = run(&args);
        assert_code(&output, 0);
        assert_eq!(relative_parquet(&out), expected, "killed after {delay} ms");
        assert_eq!(
            std::fs::read(out.join("manifest.json")).unwrap(),
            std::fs::read(whole.join("manifest.json")).unwrap(),
            "killed after {delay} ms: manifest.json"
        );
        let leftovers: Vec<String> = crate::common::files(&out)
            .into_iter()
            .filter(|f| f.ends_with(".tmp"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "killed after {delay} ms: {leftovers:?}"
        );
        for relative in &expected {
            let a = read_parquet(&whole.join(relative));
            let b = read_parquet(&out.join(relative));
            assert_eq!(a.kv, b.kv, "killed after {delay} ms: {relative:?}");
            assert_eq!(
                a.batches, b.batches,
                "killed after {delay} ms: {relative:?}"
            );
        }
    }
    assert!(
        killed_mid_run >= 3,
        "only {killed_mid_run} runs were cut short"
    );
}

/// Shards left unfinished by an earlier run are written with the schema that run saved;
/// an input that grew a type since then is refused, not exported with a second schema.
#[test]
fn resume_keeps_the_first_runs_tables_and_refuses_a_changed_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = conflicts_fixture();
    let whole = dir.path().join("whole");
    // One file (and record) per shard, to stop the run between shards.
    let per_shard = "--file-per-shard";
    assert_code(
        &run(&[&"export", &input, &"--out", &whole, &"-q", &per_shard]),
        0,
    );

    // As if the run had stopped after shards 1 and 2 of conf/autogen.
    let cut = dir.path().join("cut");
    copy_tree(&whole, &cut);
    for shard in [3, 4, 7] {
        std::fs::remove_file(cut.join(format!(".influx-tsm/done/conf/autogen/{shard}.json")))
            .unwrap();
        let _ = std::fs::remove_file(cut.join(format!("conf/autogen/reading/{shard}.parquet")));
    }
    std::fs::remove_file(cut.join("manifest.json")).unwrap();
    assert_code(
        &run(&[
            &"export",
            &input,
            &"--out",
            &cut,
            &"--resume",
            &"-q",
            &per_shard,
        ]),
        0,
    );
    assert_eq!(relative_parquet(&cut), relative_parquet(&whole));
    for relative in relative_parquet(&whole) {
        let a = read_parquet(&whole.join(&relative));
        let b = read_parquet(&cut.join(&relative));
        assert_eq!(a.batches, b.batches, "{relative:?}");
    }
    assert_eq!(
        std::fs::read(cut.join("manifest.json")).unwrap(),
        std::fs::read(whole.join("manifest.json")).unwrap()
    );

    // The first run's tables did not know `value` as a boolean: shard 4 no longer fits.
    let tables_path = cut.join(".influx-tsm/tables.json");
    let tables = std::fs::read_to_string(&tables_path).unwrap();
    let mut saved: serde_json::Value = serde_json::from_str(&tables).unwrap();
    let value_hex = "76616c7565"; // "value"
    for table in saved["tables"].as_array_mut().unwrap() {
        table["fields"]
            .as_array_mut()
            .unwrap()
            .retain(|f| !(f[0] == value_hex && f[1] == "boolean"));
    }
    std::fs::write(&tables_path, saved.to_string()).unwrap();
    std::fs::remove_file(cut.join(".influx-tsm/done/conf/autogen/4.json")).unwrap();
    let output = run(&[&"export", &input, &"--out", &cut, &"--resume", &per_shard]);
    assert_code(&output, 64);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("input changed") && stderr.contains("\"value\" of type boolean"),
        "{stderr}"
    );
}
