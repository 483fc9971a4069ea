//! An export SIGKILLed at several moments: no partial file is ever visible under a final
//! name (every `*.parquet` reads back whole), and `--resume` finishes with exactly the
//! files of an uninterrupted run, with the same contents.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{assert_code, fixture, run};
use crate::end_to_end::{parquet_files, read_parquet};

fn relative_parquet(root: &Path) -> Vec<PathBuf> {
    parquet_files(root)
        .into_iter()
        .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
        .collect()
}

#[test]
fn killed_exports_resume_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture();
    let whole = dir.path().join("whole");
    let output = run(&[&"export", &input, &"--out", &whole, &"--threads", &"1"]);
    assert_code(&output, 0);
    let expected = relative_parquet(&whole);

    // Kill points spread over the run (a debug build takes about a second), in an order
    // fixed by a seed so a failure can be replayed.
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut delays: Vec<u64> = (0..6)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            i * 150 + seed % 150
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
        let output = run(&[
            &"export",
            &input,
            &"--out",
            &out,
            &"--resume",
            &"--threads",
            &"2",
        ]);
        assert_code(&output, 0);
        assert_eq!(relative_parquet(&out), expected, "killed after {delay} ms");
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
