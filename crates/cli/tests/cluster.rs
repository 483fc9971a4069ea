//! `export --node NAME`: the data nodes of a cluster, each with its own folder holding some
//! of the shards (replicated: every shard on two of three nodes), register, then export
//! into one `--out` at once; the result must be the files of one export of the whole
//! directory, with every shard written by exactly one node.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{assert_code, copy_tree, describe, digests, fixture, run, snapshot};

pub const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];

/// Copies the fixture's `meta/` and, of `data/` and `wal/`, the shard folders node
/// `index` holds: shard folder number `k` (in sorted order) is on every node but
/// `k % 3`. Returns the node's InfluxDB folder.
pub fn node_dir(from: &Path, root: &Path, index: usize) -> PathBuf {
    let to = root.join(NODES[index]);
    copy_tree(&from.join("meta"), &to.join("meta"));
    let mut shards: Vec<PathBuf> = Vec::new();
    for db in sorted_dirs(&from.join("data")) {
        for rp in sorted_dirs(&db)
            .into_iter()
            .filter(|p| !p.ends_with("_series"))
        {
            shards.extend(
                sorted_dirs(&rp)
                    .into_iter()
                    .filter(|p| !p.ends_with("_series")),
            );
        }
    }
    for (k, shard) in shards.iter().enumerate() {
        if k % 3 == index {
            continue;
        }
        let relative = shard.strip_prefix(from.join("data")).unwrap();
        copy_tree(shard, &to.join("data").join(relative));
        let wal = from.join("wal").join(relative);
        if wal.is_dir() {
            copy_tree(&wal, &to.join("wal").join(relative));
        }
    }
    to
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn node_command(dir: &Path, out: &Path, node: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_influx-tsm"));
    command
        .arg("export")
        .arg(dir)
        .arg("--out")
        .arg(out)
        .args(["--node", node, "--json", "--threads", "1"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn report(output: &Output) -> serde_json::Value {
    assert_code(output, 0);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", describe(output)))
}

/// The export's files and manifest (not its state folder, which holds the nodes'
/// registrations).
fn exported(root: &Path) -> BTreeMap<PathBuf, (usize, u64)> {
    digests(root)
        .into_iter()
        .filter(|(path, _)| !path.starts_with(".influx-tsm"))
        .collect()
}

#[test]
fn nodes_with_replicas_write_one_export_and_every_shard_once() {
    // small-a; and conflicts, whose field `value` has another type in each shard, so
    // that no node holds every column of the table.
    let conflicts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/conflicts/influxdb");
    for input in [fixture(), conflicts] {
        nodes_write_one_export(&input);
    }
}

fn nodes_write_one_export(input: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one");
    // A cluster export writes one file per shard (plan.rs, `Plan::regroup`).
    let output = run(&[
        &"export",
        &input,
        &"--out",
        &one,
        &"--quiet",
        &"--file-per-shard",
    ]);
    assert_code(&output, 0);

    let dirs: Vec<PathBuf> = (0..3).map(|i| node_dir(input, tmp.path(), i)).collect();
    let out = tmp.path().join("cluster");
    // Exporting before registering is refused, and writes no share of the export.
    let output = node_command(&dirs[0], &out, NODES[0], &[])
        .output()
        .unwrap();
    assert_code(&output, 64);
    assert!(
        describe(&output).contains("has not registered"),
        "{}",
        describe(&output)
    );

    let mut held = 0;
    for (dir, node) in dirs.iter().zip(NODES) {
        let registration = report(
            &node_command(dir, &out, node, &["--register"])
                .output()
                .unwrap(),
        );
        assert_eq!(registration["node"], node);
        held += registration["shards"].as_u64().unwrap();
    }
    // All three at once.
    let children: Vec<_> = dirs
        .iter()
        .zip(NODES)
        .map(|(dir, node)| node_command(dir, &out, node, &[]).spawn().unwrap())
        .collect();
    let reports: Vec<serde_json::Value> = children
        .into_iter()
        .map(|child| report(&child.wait_with_output().unwrap()))
        .collect();
    assert_eq!(exported(&one), exported(&out), "{}", input.display());
    assert!(out.join("manifest.json").is_file());

    // Every shard exactly once: what the nodes exported adds up to the directory's
    // shards, and every shard a node held but did not export is named as another's.
    let whole = report(&run(&[
        &"export",
        &input,
        &"--out",
        &tmp.path().join("dry"),
        &"--dry-run",
        &"--json",
    ]));
    let shards = whole["shards"].as_array().unwrap().len() as u64;
    let written: u64 = reports
        .iter()
        .map(|r| r["shards_exported"].as_u64().unwrap())
        .sum();
    let left: u64 = reports
        .iter()
        .map(|r| r["replicas_left"].as_array().unwrap().len() as u64)
        .sum();
    assert_eq!(written, shards);
    assert_eq!(held, 2 * shards, "every shard is on two nodes");
    assert_eq!(written + left, held);
    for (r, node) in reports.iter().zip(NODES) {
        for replica in r["replicas_left"].as_array().unwrap() {
            let by = replica["node"].as_str().unwrap();
            assert!(by != node && NODES.contains(&by), "{node}: {replica}");
        }
    }

    // A node run again writes nothing: its shards are complete in the output.
    let before = std::fs::metadata(out.join("manifest.json"))
        .unwrap()
        .modified()
        .unwrap();
    let again = report(
        &node_command(&dirs[1], &out, NODES[1], &[])
            .output()
            .unwrap(),
    );
    assert_eq!(again["shards_exported"], 0);
    assert_eq!(again["shards_resumed"], reports[1]["shards_exported"]);
    assert_eq!(exported(&one), exported(&out));
    let after = std::fs::metadata(out.join("manifest.json"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "the manifest was written again");

    // The shares are fixed: a node that registers now is refused.
    let late = node_command(&dirs[2], &out, "node-d", &["--register"])
        .output()
        .unwrap();
    assert_code(&late, 64);
    assert!(
        describe(&late).contains("has started"),
        "{}",
        describe(&late)
    );
    let output = node_command(&dirs[2], &out, "node-d", &[])
        .output()
        .unwrap();
    assert_code(&output, 64);
    assert!(
        describe(&output).contains("did not register"),
        "{}",
        describe(&output)
    );
}

#[test]
fn a_node_that_died_is_run_again_and_finishes_the_export() {
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one");
    assert_code(
        &run(&[
            &"export",
            &fixture(),
            &"--out",
            &one,
            &"--quiet",
            &"--file-per-shard",
        ]),
        0,
    );
    let dirs: Vec<PathBuf> = (0..3)
        .map(|i| node_dir(&fixture(), tmp.path(), i))
        .collect();
    let out = tmp.path().join("cluster");
    for (dir, node) in dirs.iter().zip(NODES) {
        report(
            &node_command(dir, &out, node, &["--register"])
                .output()
                .unwrap(),
        );
    }
    // node-b is killed as soon as it has finished one shard.
    let mut child = node_command(&dirs[1], &out, NODES[1], &[]).spawn().unwrap();
    let done = out.join(".influx-tsm/done");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while count_files(&done) == 0 && std::time::Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    for (dir, node) in dirs.iter().zip(NODES).filter(|(_, n)| *n != NODES[1]) {
        report(&node_command(dir, &out, node, &[]).output().unwrap());
    }
    // The manifest is written only once every shard is finished.
    let complete = count_files(&done) == count_files(&one.join(".influx-tsm/done"));
    assert_eq!(out.join("manifest.json").exists(), complete);
    // Run again, node-b writes what it had not finished; nothing unfinished is left.
    let rerun = report(
        &node_command(&dirs[1], &out, NODES[1], &[])
            .output()
            .unwrap(),
    );
    assert!(rerun["shards_resumed"].as_u64().unwrap() >= 1, "{rerun:#}");
    assert_eq!(exported(&one), exported(&out));
}

fn count_files(dir: &Path) -> usize {
    if !dir.is_dir() {
        return 0;
    }
    // Finished records only, not one being written (a hidden temporary name).
    snapshot(dir)
        .keys()
        .filter(|p| dir.join(p).is_file())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .count()
}
