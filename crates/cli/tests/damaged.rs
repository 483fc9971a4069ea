//! Damaged copies of small-a, one damage at a time, exported with and without
//! `--skip-corrupt`: no panic, no hang (every run has a deadline), no temporary file
//! left; an error naming the file (exit 1), or the damaged part listed and every
//! undamaged shard exported exactly as from the intact copy (exit 2); a torn WAL tail
//! is dropped with a warning, as influxd drops it (exit 0).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{copy_tree, describe, files, fixture};
use crate::end_to_end::{Points, assert_same_points, exported_except};

/// The damaged shard of every case (fleet_ops/autogen/17 unless a case says otherwise).
const SHARD: u64 = 17;
const SHARD_DIR: &str = "data/fleet_ops/autogen/17";
const TSM: &str = "data/fleet_ops/autogen/17/000000002-000000001.tsm";
const TOMBSTONE: &str = "data/fleet_ops/autogen/17/000000002-000000001.tombstone";
const WAL: &str = "wal/fleet_ops/autogen/17/_00005.wal";

/// What a run must end with.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Exit 1, stderr names the damaged file and a byte offset.
    Error,
    /// Exit 2, the damaged file listed in `skipped`.
    Skipped,
    /// Exit 0 with a warning naming the file; undamaged shards equal the intact export.
    Warning,
    /// Exit 0; the whole export equals the intact export.
    Clean,
    /// Any of exit 0, 1, 2 (damage no checksum can see, e.g. a renamed key).
    Survives,
    /// Exit 0 without comparing data (the damage touches every shard).
    Completes,
    /// [`Expect::Error`], or exit 0 with the export equal to the intact one (the damaged
    /// bytes were never needed: a block wholly deleted or overwritten is not decoded).
    ErrorOrIntact,
    /// [`Expect::Skipped`], or exit 0 with the export equal to the intact one.
    SkippedOrIntact,
}

/// Runs the binary with a deadline (a run past it is killed and fails the test) and 4 GiB
/// of address space (an allocation sized by a length claim aborts instead of swapping).
fn run_deadline(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -v 4194304 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_influx-tsm"))
        .args(args.iter().map(|a| a.as_ref()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("influx-tsm hung: {:?}", child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Every point of the intact fixture, exported once.
fn intact() -> &'static Points {
    static POINTS: OnceLock<Points> = OnceLock::new();
    POINTS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let output = run_deadline(&[&"export", &fixture(), &"--out", &out, &"--file-per-shard"]);
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        exported_except(&out, &|_| false)
    })
}

/// Points exported outside shard 17 (got) and the same from the intact copy (want).
fn without_shard(out: &Path) -> (Points, Points) {
    static SHARD_POINTS: OnceLock<Points> = OnceLock::new();
    let shard_points = SHARD_POINTS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let shard = SHARD.to_string();
        let output = run_deadline(&[
            &"export",
            &fixture(),
            &"--out",
            &out,
            &"--shard",
            &shard,
            &"--file-per-shard",
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        exported_except(&out, &|_| false)
    });
    let got = exported_except(out, &|s| s == SHARD);
    let want: Points = intact()
        .iter()
        .filter(|(k, _)| !shard_points.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (got, want)
}

/// Damages a fresh copy with `damage`, exports it both ways and checks the outcomes.
fn check(name: &str, damage: &dyn Fn(&Path) -> PathBuf, strict: Expect, skip: Expect) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("influxdb");
    copy_tree(&fixture(), &input);
    let damaged = damage(&input);
    let file_name = damaged.file_name().unwrap().to_string_lossy().into_owned();
    for (mode, expect) in [("strict", strict), ("skip", skip)] {
        let out = dir.path().join(mode);
        // One file per shard: the damaged shard's files are told apart from the others'
        // (grouped files are checked against the oracle in end_to_end.rs).
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"export",
            &input,
            &"--out",
            &out,
            &"--json",
            &"--file-per-shard",
        ];
        if mode == "skip" {
            args.push(&"--skip-corrupt");
        }
        let output = run_deadline(&args);
        let context = format!("case {name} ({mode}): {}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{context}");
        assert!(
            files(&out).iter().all(|f| !f.ends_with(".tmp")),
            "{context}"
        );
        let code = output.status.code();
        let expect = match expect {
            Expect::ErrorOrIntact | Expect::SkippedOrIntact if code == Some(0) => Expect::Clean,
            Expect::ErrorOrIntact => Expect::Error,
            Expect::SkippedOrIntact => Expect::Skipped,
            other => other,
        };
        match expect {
            Expect::Error => {
                assert_eq!(code, Some(1), "{context}");
                assert!(stderr.contains(&file_name), "{context}");
                assert!(stderr.contains("byte"), "{context}");
            }
            Expect::Skipped => {
                assert_eq!(code, Some(2), "{context}");
                let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
                let listed = summary["skipped"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["path"].as_str().is_some_and(|p| p.ends_with(&file_name)));
                assert!(listed, "{context}");
            }
            Expect::Warning => {
                assert_eq!(code, Some(0), "{context}");
                assert!(stderr.contains("warning"), "{context}");
                assert!(stderr.contains(&file_name), "{context}");
            }
            Expect::Clean | Expect::Completes => assert_eq!(code, Some(0), "{context}"),
            Expect::Survives => assert!(matches!(code, Some(0..=2)), "{context}"),
            Expect::ErrorOrIntact | Expect::SkippedOrIntact => unreachable!(),
        }
        if matches!(expect, Expect::Skipped | Expect::Warning | Expect::Survives) && code != Some(1)
        {
            // Everything outside the damaged shard is exported as from the intact copy.
            let (got, want) = without_shard(&out);
            assert_same_points(&got, &want);
        }
        if expect == Expect::Clean {
            assert_same_points(&exported_except(&out, &|_| false), intact());
        }
    }
}

fn rewrite(path: &Path, f: &dyn Fn(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

fn index_start(tsm: &[u8]) -> usize {
    let footer: [u8; 8] = tsm[tsm.len() - 8..].try_into().unwrap();
    usize::try_from(u64::from_be_bytes(footer)).unwrap()
}

#[test]
fn truncated_tsm_at_many_offsets() {
    let len = std::fs::read(fixture().join(TSM)).unwrap().len();
    let index = index_start(&std::fs::read(fixture().join(TSM)).unwrap());
    for cut in [
        0,
        3,
        5,
        9,
        40,
        len / 2,
        index - 1,
        index + 3,
        len - 9,
        len - 1,
    ] {
        let damage = |root: &Path| {
            let path = root.join(TSM);
            rewrite(&path, &|b| b.truncate(cut));
            path
        };
        check(
            &format!("TSM cut at {cut}"),
            &damage,
            Expect::Error,
            Expect::Skipped,
        );
    }
}

#[test]
fn flipped_bits_in_block_index_and_footer() {
    let tsm = std::fs::read(fixture().join(TSM)).unwrap();
    let index = index_start(&tsm);
    let flip = |at: usize, bit: u8| {
        move |root: &Path| {
            let path = root.join(TSM);
            rewrite(&path, &|b| b[at] ^= 1 << bit);
            path
        }
    };
    // A block's bytes are covered by its CRC.
    for at in [5, 4 + 1 + 4 + 3, index / 2, index - 2] {
        check(
            &format!("block byte {at}"),
            &flip(at, 3),
            Expect::ErrorOrIntact,
            Expect::SkippedOrIntact,
        );
    }
    // The index has no checksum: a flipped key byte renames a series, a flipped offset or
    // count may point anywhere. No panic, no hang, nothing wrong in other shards.
    for at in [
        index + 1,
        index + 4,
        index + 30,
        tsm.len() - 12,
        tsm.len() - 20,
    ] {
        check(
            &format!("index byte {at}"),
            &flip(at, 0),
            Expect::Survives,
            Expect::Survives,
        );
    }
    // The footer pointing outside the file, or into the header.
    for footer in [tsm.len() as u64 + 100, u64::MAX, 0, 2] {
        let damage = move |root: &Path| {
            let path = root.join(TSM);
            rewrite(&path, &|b| {
                let n = b.len();
                b[n - 8..].copy_from_slice(&footer.to_be_bytes());
            });
            path
        };
        check(
            &format!("footer -> {footer}"),
            &damage,
            Expect::Error,
            Expect::Skipped,
        );
    }
}

#[test]
fn empty_garbage_and_bad_magic_tsm_files() {
    let add = |bytes: Vec<u8>| {
        move |root: &Path| {
            let path = root.join(SHARD_DIR).join("000000009-000000001.tsm");
            std::fs::write(&path, &bytes).unwrap();
            path
        }
    };
    check(
        "0-byte TSM",
        &add(Vec::new()),
        Expect::Error,
        Expect::Skipped,
    );
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    check("garbage TSM", &add(garbage), Expect::Error, Expect::Skipped);
    let bad_magic = |root: &Path| {
        let path = root.join(TSM);
        rewrite(&path, &|b| b[..4].copy_from_slice(b"JUNK"));
        path
    };
    check("bad magic", &bad_magic, Expect::Error, Expect::Skipped);
    // What influxd renamed or never finished is not read at all.
    let sidelined = |root: &Path| {
        for name in ["000000009-000000001.tsm.bad", "000000009-000000002.tsm.tmp"] {
            std::fs::write(root.join(SHARD_DIR).join(name), b"garbage").unwrap();
        }
        root.join(SHARD_DIR).join("000000009-000000001.tsm.bad")
    };
    check(
        ".tsm.bad and .tsm.tmp",
        &sidelined,
        Expect::Clean,
        Expect::Clean,
    );
}

#[test]
fn damaged_wal_segments() {
    // A length field claiming 4 GiB: a torn entry, dropped from there on as influxd does.
    let huge = |root: &Path| {
        let path = root.join(WAL);
        rewrite(&path, &|b| {
            b[1..5].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes())
        });
        path
    };
    check("WAL length 4 GiB", &huge, Expect::Warning, Expect::Warning);
    let len = std::fs::read(fixture().join(WAL)).unwrap().len();
    for cut in [1, 4, 5, 6, len / 2, len - 1] {
        let damage = move |root: &Path| {
            let path = root.join(WAL);
            rewrite(&path, &|b| b.truncate(cut));
            path
        };
        check(
            &format!("WAL cut at {cut}"),
            &damage,
            Expect::Warning,
            Expect::Warning,
        );
    }
}

#[test]
fn damaged_tombstones() {
    let truncated = |root: &Path| {
        let path = root.join(TOMBSTONE);
        rewrite(&path, &|b| b.truncate(b.len() / 2));
        path
    };
    check(
        "tombstone cut in half",
        &truncated,
        Expect::Error,
        Expect::Skipped,
    );
    // A v4 header followed by bytes that are not gzip.
    let garbage = |root: &Path| {
        let path = root.join(TOMBSTONE);
        rewrite(&path, &|b| {
            b.truncate(4);
            b.extend((0..200u32).map(|i| (i * 37 % 251) as u8));
        });
        path
    };
    check(
        "garbage tombstone",
        &garbage,
        Expect::Error,
        Expect::Skipped,
    );
}

#[test]
fn unreadable_files_and_odd_trees() {
    use std::os::unix::fs::PermissionsExt;
    let unreadable = |root: &Path| {
        let path = root.join(TSM);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        path
    };
    // Root (as in CI) reads the file anyway; then the export is clean.
    let probe = tempfile::NamedTempFile::new().unwrap();
    std::fs::set_permissions(probe.path(), std::fs::Permissions::from_mode(0o000)).unwrap();
    let root_reads = std::fs::read(probe.path()).is_ok();
    if root_reads {
        check(
            "unreadable TSM (as root)",
            &unreadable,
            Expect::Clean,
            Expect::Clean,
        );
    } else {
        check("unreadable TSM", &unreadable, Expect::Error, Expect::Error);
    }
    // A shard folder that is a file is ignored like any stray file.
    let shard_is_file = |root: &Path| {
        let path = root.join(SHARD_DIR);
        std::fs::remove_dir_all(&path).unwrap();
        std::fs::write(&path, b"not a folder").unwrap();
        path
    };
    check(
        "shard folder is a file",
        &shard_is_file,
        Expect::Survives,
        Expect::Survives,
    );
    // No wal/ at all: the TSM data is still exported.
    let no_wal = |root: &Path| {
        std::fs::remove_dir_all(root.join("wal")).unwrap();
        root.join("wal")
    };
    check(
        "missing wal/",
        &no_wal,
        Expect::Completes,
        Expect::Completes,
    );
}

/// A case name, its damage, and the exit codes without and with `--skip-corrupt`.
type LpCase<'a> = (&'a str, &'a dyn Fn(&Path), Option<i32>, Option<i32>);

/// The line-protocol export takes the same damage the same way.
#[test]
fn line_protocol_export_of_damaged_copies() {
    let cases: [LpCase<'_>; 3] = [
        (
            "TSM cut in half",
            &|root| rewrite(&root.join(TSM), &|b| b.truncate(b.len() / 2)),
            Some(1),
            Some(2),
        ),
        (
            "tombstone cut",
            &|root| rewrite(&root.join(TOMBSTONE), &|b| b.truncate(b.len() / 2)),
            Some(1),
            Some(2),
        ),
        (
            "WAL cut",
            &|root| rewrite(&root.join(WAL), &|b| b.truncate(b.len() - 1)),
            Some(0),
            Some(0),
        ),
    ];
    for (name, damage, strict, skip) in cases {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("influxdb");
        copy_tree(&fixture(), &input);
        damage(&input);
        for (mode, code) in [("strict", strict), ("skip", skip)] {
            let out = dir.path().join(mode);
            let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
                vec![&"export", &input, &"--out", &out, &"--format", &"lp"];
            if mode == "skip" {
                args.push(&"--skip-corrupt");
            }
            let output = run_deadline(&args);
            let context = format!("LP, {name} ({mode}): {}", describe(&output));
            assert_eq!(output.status.code(), code, "{context}");
            assert!(
                !String::from_utf8_lossy(&output.stderr).contains("panicked"),
                "{context}"
            );
            assert!(
                files(&out).iter().all(|f| !f.ends_with(".tmp")),
                "{context}"
            );
        }
    }
}

/// With `--skip-corrupt` a damaged block costs only its own values: the rest of its
/// measurement, in the same shard, is exported as from the intact copy.
#[test]
fn a_damaged_block_is_skipped_alone() {
    use influx_tsm_shard::file::TsmFile;
    use influx_tsm_shard::key::{SeriesKey, split_composite};

    // The shard's newest TSM file: it has no tombstones, so its blocks are needed.
    const NEWEST: &str = "data/fleet_ops/autogen/17/000000003-000000001.tsm";
    let tsm_bytes = std::fs::read(fixture().join(NEWEST)).unwrap();
    let file = TsmFile::parse(&tsm_bytes).unwrap();
    let entry = file.index().next().unwrap().unwrap();
    let block = entry.blocks().next().unwrap();
    let (series, field) = split_composite(entry.key).unwrap();
    let series = SeriesKey::parse(series);
    let measurement = String::from_utf8(series.measurement_unescaped()).unwrap();
    let tags: Vec<(String, String)> = series
        .tags_unescaped()
        .into_iter()
        .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
        .collect();
    let field = String::from_utf8(field.to_vec()).unwrap();
    let in_block = |k: &crate::end_to_end::PointKey| {
        k.2 == measurement && k.3 == tags && (block.min_time..=block.max_time).contains(&k.4)
    };

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("influxdb");
    copy_tree(&fixture(), &input);
    // The block's last byte: inside the values, covered by the CRC.
    let at = (block.offset + u64::from(block.size) - 1) as usize;
    rewrite(&input.join(NEWEST), &|b| b[at] ^= 0x10);
    let out = dir.path().join("out");
    let output = run_deadline(&[
        &"export",
        &input,
        &"--out",
        &out,
        &"--json",
        &"--skip-corrupt",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let skipped = summary["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{}", describe(&output));
    assert_eq!(skipped[0]["block"], true);
    assert_eq!(skipped[0]["offset"], block.offset);
    assert!(
        skipped[0]["path"]
            .as_str()
            .unwrap()
            .ends_with(NEWEST.rsplit('/').next().unwrap())
    );

    // Every field value outside the damaged block is exported exactly as from the intact
    // copy; inside it, only the damaged field may differ (an older file's value may show
    // through, or none).
    let got = exported_except(&out, &|_| false);
    let mut differing = 0;
    for (key, fields) in intact() {
        for (name, value) in fields {
            let now = got.get(key).and_then(|f| f.get(name));
            if in_block(key) && *name == field {
                differing += usize::from(now != Some(value));
                continue;
            }
            assert_eq!(now, Some(value), "{key:?} {name}");
        }
    }
    for (key, fields) in &got {
        for name in fields.keys() {
            let was = intact().get(key).and_then(|f| f.get(name));
            assert!(
                was.is_some() || (in_block(key) && *name == field),
                "extra {key:?} {name}"
            );
        }
    }
    assert!(
        differing > 0,
        "the damaged block's values were needed by the export"
    );
}
