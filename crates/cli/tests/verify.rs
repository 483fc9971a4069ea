//! `verify`, `inspect` and `dump` on the fixture and on damaged copies of its files.

use std::path::{Path, PathBuf};

use crate::common::{assert_code, copy_tree, describe, fixture, run};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A copy of small-a's data and WAL in a temporary folder.
fn copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("influxdb");
    copy_tree(&fixture(), &root);
    (dir, root)
}

fn first(root: &Path, ext: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = crate::common::files(root)
        .into_iter()
        .filter(|f| f.ends_with(ext))
        .map(|f| root.join(f))
        .collect();
    found.sort();
    found.remove(0)
}

#[test]
fn clean_fixture_passes_without_decoding() {
    let output = run(&[&"verify", &fixture(), &"--no-decode", &"-q"]);
    assert_code(&output, 0);
    assert!(
        stdout(&output).contains("verified 115 files (57 TSM, 33 tombstone, 25 WAL)"),
        "{}",
        describe(&output)
    );
}

#[test]
fn clean_fixture_passes_with_decoding() {
    let output = run(&[&"verify", &fixture()]);
    assert_code(&output, 0);
    assert!(stdout(&output).contains(": 0 errors"));
}

#[test]
fn flipped_block_byte_names_file_and_offset() {
    let (_dir, root) = copy();
    let tsm = first(&root, ".tsm");
    let mut bytes = std::fs::read(&tsm).unwrap();
    // Byte 20 lies inside the first block (blocks start at 5: CRC, then block bytes).
    bytes[20] ^= 0x40;
    std::fs::write(&tsm, &bytes).unwrap();
    let output = run(&[&"verify", &tsm, &"--no-decode"]);
    assert_code(&output, 1);
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "error: {} at byte 5: checksum mismatch",
            tsm.display()
        )) || text.contains(&format!("error: {} at byte 5: ", tsm.display())),
        "{}",
        describe(&output)
    );
    assert!(text.contains("DAMAGED"), "{text}");
    // The whole tree fails too, and JSON lists the problem with its offset.
    let output = run(&[&"verify", &root, &"--no-decode", &"--json"]);
    assert_code(&output, 1);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["errors"], 1);
    let problem = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["problems"].as_array().unwrap())
        .next()
        .unwrap();
    assert_eq!(problem["offset"], 5);
    assert!(problem["key"].as_str().is_some());
}

#[test]
fn truncated_files() {
    let (_dir, root) = copy();
    // A TSM file cut in its index: the footer no longer points at an index.
    let tsm = first(&root, ".tsm");
    let bytes = std::fs::read(&tsm).unwrap();
    std::fs::write(&tsm, &bytes[..bytes.len() - 3]).unwrap();
    let output = run(&[&"verify", &tsm]);
    assert_code(&output, 1);
    assert!(stdout(&output).contains(&tsm.display().to_string()));

    // A WAL segment cut inside its last entry: a torn tail, which influxd drops too.
    let wal = first(&root, ".wal");
    let bytes = std::fs::read(&wal).unwrap();
    std::fs::write(&wal, &bytes[..bytes.len() - 2]).unwrap();
    let output = run(&[&"verify", &wal]);
    assert_code(&output, 0);
    assert!(
        stdout(&output).contains("warning: ") && stdout(&output).contains("torn last entry"),
        "{}",
        describe(&output)
    );

    // A WAL entry whose snappy payload is damaged: an error at that entry's offset.
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes[5..9].copy_from_slice(&[0xff; 4]);
    std::fs::write(&wal, &bytes).unwrap();
    let output = run(&[&"verify", &wal]);
    assert_code(&output, 1);
    assert!(
        stdout(&output).contains(&format!("{} at byte 0:", wal.display())),
        "{}",
        describe(&output)
    );

    // A gzip tombstone cut short.
    let tombstone = first(&root, ".tombstone");
    let bytes = std::fs::read(&tombstone).unwrap();
    std::fs::write(&tombstone, &bytes[..bytes.len() / 2]).unwrap();
    let output = run(&[&"verify", &tombstone]);
    assert_code(&output, 1);
}

#[test]
fn not_a_storage_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "x").unwrap();
    assert_code(&run(&[&"verify", &file]), 64);
    assert_code(&run(&[&"dump", &file]), 64);
}

#[test]
fn inspect_counts_from_the_index() {
    let output = run(&[&"inspect", &fixture(), &"--json"]);
    assert_code(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let shards = report["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 27);
    assert_eq!(report["type_conflicts"].as_array().unwrap().len(), 0);
    let tsm: usize = shards
        .iter()
        .map(|s| s["tsm_files"].as_array().unwrap().len())
        .sum();
    assert_eq!(tsm, 57);
    // Every measurement's values add up from its fields.
    for s in shards {
        for m in s["measurements"].as_object().unwrap().values() {
            let sum: u64 = m["fields"]
                .as_object()
                .unwrap()
                .values()
                .map(|f| f["values"].as_u64().unwrap())
                .sum();
            assert_eq!(m["values"].as_u64().unwrap(), sum);
            assert!(m["series"].as_u64().unwrap() > 0);
        }
        assert!(s["problems"].as_array().unwrap().is_empty(), "{s}");
    }
    let text = run(&[&"inspect", &fixture()]);
    assert_code(&text, 0);
    assert!(stdout(&text).contains("database fleet_ops"));
    assert!(stdout(&text).contains("2 databases, 27 shards"));
}

#[test]
fn dump_each_kind() {
    let root = fixture();
    let tsm = first(&root, ".tsm");
    let output = run(&[&"dump", &tsm, &"--blocks"]);
    assert_code(&output, 0);
    let text = stdout(&output);
    assert!(text.starts_with("TSM file: "), "{text}");
    assert!(text.contains(" ok, type "), "{text}");
    let output = run(&[&"dump", &first(&root, ".wal"), &"--values"]);
    assert_code(&output, 0);
    assert!(stdout(&output).contains("[write] at 0:"));
    let output = run(&[&"dump", &first(&root, ".tombstone")]);
    assert_code(&output, 0);
    assert!(stdout(&output).starts_with("tombstone v"));
}

/// An export killed before its manifest: `verify OUT` says it did not finish and fails,
/// instead of verifying no input file and passing.
#[test]
fn an_unfinished_export_is_not_verified_as_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_code(&run(&[&"export", &fixture(), &"--out", &out, &"-q"]), 0);
    std::fs::remove_file(out.join("manifest.json")).unwrap();
    let output = run(&[&"verify", &out]);
    assert_code(&output, 1);
    let text = describe(&output);
    assert!(
        text.contains("did not finish") && text.contains("--resume"),
        "{text}"
    );
}
