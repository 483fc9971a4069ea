//! The backups influxd 1.6.7 made of the fixtures (`fixtures/*/backup-{portable,legacy}`,
//! by `fixtures/make_backups.sh`) read in place give what the server returned for the
//! directory they were taken from (`oracle_typed.jsonl`); damaged archives are errors
//! that name the archive and the offset, never a panic.

use std::path::{Path, PathBuf};

use influx_tsm_backup::{Backup, BackupFormat, ErrorKind, ManifestFault, ReadOptions, TarFault};
use influx_tsm_shard::shard::{Shard, ShardOptions};
use influx_tsm_shard::testkit::oracle::{Points, assert_same, collect_merged_view};

/// Every fixture with an oracle has both backups: a fixture added without them fails
/// here instead of going untested.
fn backups() -> Vec<(PathBuf, PathBuf, BackupFormat)> {
    let mut out = Vec::new();
    for fixture in influx_tsm_shard::testkit::oracle::fixture_dirs() {
        for (folder, format) in [
            ("backup-portable", BackupFormat::Portable),
            ("backup-legacy", BackupFormat::Legacy),
        ] {
            out.push((fixture.clone(), fixture.join(folder), format));
        }
    }
    out
}

/// Every row of every shard of the backup, through the merged view.
fn merged_view(backup: &Backup, options: &ReadOptions) -> Points {
    let mut points = Points::new();
    for shard in &backup.shards {
        let files = shard.files(options).expect("archive reads");
        let opened = Shard::open_located(
            &shard.location(),
            files,
            &ShardOptions::default().verify_crc(true),
        )
        .expect("open");
        collect_merged_view(&opened, 1000, &mut points);
    }
    points
}

#[test]
fn every_backup_equals_the_oracle_of_its_directory() {
    let backups = backups();
    assert!(
        backups.len() >= 6,
        "backups of small-a, small-b, hostile-names"
    );
    for (fixture, dir, format) in backups {
        assert_eq!(Backup::detect(&dir), Some(format), "{}", dir.display());
        let backup = Backup::open(&dir).expect("backup opens");
        assert!(backup.ignored.is_empty(), "{:?}", backup.ignored);
        let expected = influx_tsm_shard::testkit::oracle::load(&fixture);
        let got = merged_view(&backup, &ReadOptions::default());
        assert_same(&dir.display().to_string(), &expected, &got);
    }
}

#[test]
fn both_formats_list_the_same_shards() {
    let backups = backups();
    for pair in backups.chunks(2) {
        let [(_, portable, _), (_, legacy, _)] = pair else {
            panic!("pairs")
        };
        let ids = |dir: &Path| -> Vec<(String, String, u64)> {
            Backup::open(dir)
                .expect("opens")
                .shards
                .iter()
                .map(|s| (s.database.clone(), s.retention_policy.clone(), s.id))
                .collect()
        };
        assert_eq!(ids(portable), ids(legacy), "{}", portable.display());
    }
}

#[test]
fn members_beyond_the_memory_budget_go_to_unlinked_temporary_files() {
    let dir = fixture_backup("small-a", "backup-portable");
    let backup = Backup::open(&dir).expect("opens");
    let spill = tempfile::tempdir().expect("temp dir");
    let options = ReadOptions {
        memory_budget: 10_000,
        spill_dir: Some(spill.path().to_path_buf()),
        ..ReadOptions::default()
    };
    let in_memory = merged_view(&backup, &ReadOptions::default());
    let spilled = merged_view(&backup, &options);
    assert_same("spilled", &in_memory, &spilled);
    // Unlinked at once: nothing is left behind, even while the maps were alive.
    assert_eq!(std::fs::read_dir(spill.path()).expect("list").count(), 0);
}

fn fixture_backup(fixture: &str, folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(fixture)
        .join(folder)
}

/// A copy of a fixture backup in a temporary folder, to damage.
fn copy(folder: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let to = tmp.path().join(folder);
    std::fs::create_dir(&to).expect("mkdir");
    for entry in std::fs::read_dir(fixture_backup("small-a", folder)).expect("list") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
    (tmp, to)
}

fn with_suffix(dir: &Path, suffix: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found.into_iter().next().expect("a file with the suffix")
}

/// Reads every shard; the first error.
fn read_all(dir: &Path) -> influx_tsm_backup::Result<()> {
    let backup = Backup::open(dir)?;
    for shard in &backup.shards {
        shard.files(&ReadOptions::default())?;
    }
    Ok(())
}

#[test]
fn a_truncated_tar_gz_is_an_error_naming_the_archive() {
    let (_tmp, dir) = copy("backup-portable");
    let archive = with_suffix(&dir, ".s1.tar.gz");
    let bytes = std::fs::read(&archive).expect("read");
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 4] {
        std::fs::write(&archive, &bytes[..cut]).expect("write");
        let err = read_all(&dir).expect_err("cut short");
        assert_eq!(err.path(), Some(archive.as_path()), "cut {cut}: {err}");
        assert!(err.is_corruption(), "cut {cut}: {err}");
        assert!(err.offset().is_some(), "cut {cut}: {err}");
    }
}

#[test]
fn a_damaged_gzip_stream_is_an_error() {
    let (_tmp, dir) = copy("backup-portable");
    let archive = with_suffix(&dir, ".s1.tar.gz");
    let bytes = std::fs::read(&archive).expect("read");
    // A flipped byte in the deflate data, and one in the trailer's CRC-32.
    for at in [bytes.len() / 2, bytes.len() - 6] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x55;
        std::fs::write(&archive, &damaged).expect("write");
        let err = read_all(&dir).expect_err("damaged");
        assert_eq!(err.path(), Some(archive.as_path()), "byte {at}: {err}");
        assert!(err.is_corruption(), "byte {at}: {err}");
    }
}

#[test]
fn a_bad_tar_header_checksum_is_an_error_at_that_header() {
    let (_tmp, dir) = copy("backup-legacy");
    let archive = with_suffix(&dir, "airq.autogen.00001.00");
    let mut bytes = std::fs::read(&archive).expect("read");
    // The second member's header: after the first header and its padded data.
    let first_size =
        usize::from_str_radix(std::str::from_utf8(&bytes[124..135]).expect("octal"), 8)
            .expect("size");
    let second = 512 + first_size.div_ceil(512) * 512;
    bytes[second + 20] ^= 0x01;
    std::fs::write(&archive, &bytes).expect("write");
    let err = read_all(&dir).expect_err("bad checksum");
    assert_eq!(err.path(), Some(archive.as_path()), "{err}");
    assert_eq!(err.offset(), Some(second as u64), "{err}");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Tar(TarFault::ChecksumMismatch { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[test]
fn a_truncated_legacy_tar_is_an_error() {
    let (_tmp, dir) = copy("backup-legacy");
    let archive = with_suffix(&dir, "airq.autogen.00001.00");
    let bytes = std::fs::read(&archive).expect("read");
    for cut in [100, 512, 1000, bytes.len() - 1024] {
        std::fs::write(&archive, &bytes[..cut]).expect("write");
        let err = read_all(&dir).expect_err("cut short");
        assert_eq!(err.path(), Some(archive.as_path()), "cut {cut}: {err}");
    }
}

#[test]
fn a_missing_or_damaged_catalogue_is_an_error() {
    let (_tmp, dir) = copy("backup-portable");
    let meta = with_suffix(&dir, ".meta");
    let bytes = std::fs::read(&meta).expect("read");
    std::fs::write(&meta, &bytes[..bytes.len() / 2]).expect("write");
    let err = Backup::open(&dir).expect_err("cut catalogue");
    assert_eq!(err.path(), Some(meta.as_path()), "{err}");
    std::fs::remove_file(&meta).expect("remove");
    let err = Backup::open(&dir).expect_err("no catalogue");
    assert_eq!(err.path(), Some(meta.as_path()), "{err}");

    let (_tmp, dir) = copy("backup-legacy");
    let meta = with_suffix(&dir, "meta.01");
    let mut bytes = std::fs::read(&meta).expect("read");
    bytes[7] ^= 1;
    std::fs::write(&meta, &bytes).expect("write");
    let err = Backup::open(&dir).expect_err("bad magic");
    assert_eq!(err.path(), Some(meta.as_path()), "{err}");
    assert_eq!(err.offset(), Some(0), "{err}");
}

#[test]
fn a_manifest_cannot_point_outside_the_backup() {
    let (_tmp, dir) = copy("backup-portable");
    let manifest = with_suffix(&dir, ".manifest");
    let text = std::fs::read_to_string(&manifest).expect("read");
    let first = text.find(".s1.tar.gz").expect("entry");
    let start = text[..first].rfind('"').expect("quote") + 1;
    let end = first + ".s1.tar.gz".len();
    let damaged = format!("{}../../etc/passwd{}", &text[..start], &text[end..]);
    std::fs::write(&manifest, damaged).expect("write");
    let err = Backup::open(&dir).expect_err("escape");
    assert_eq!(err.path(), Some(manifest.as_path()), "{err}");
    std::fs::write(&manifest, "{").expect("write");
    assert!(Backup::open(&dir).is_err());
}

#[test]
fn several_portable_backups_combine_as_restore_does() {
    let (_tmp, dir) = copy("backup-portable");
    let manifest = with_suffix(&dir, ".manifest");
    let stem = manifest
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".manifest"))
        .expect("stem")
        .to_owned();
    // A later backup of shard 1 only: its archive is another file, its catalogue a copy.
    let later = "29991231T000000Z";
    std::fs::copy(
        dir.join(format!("{stem}.s1.tar.gz")),
        dir.join(format!("{later}.s1.tar.gz")),
    )
    .expect("copy");
    std::fs::copy(
        dir.join(format!("{stem}.meta")),
        dir.join(format!("{later}.meta")),
    )
    .expect("copy");
    let entry = |modified: i64| {
        format!(
            r#"{{"meta":{{"fileName":"{later}.meta","size":1}},"limited":true,"files":[{{"database":"airq","policy":"autogen","shardID":1,"fileName":"{later}.s1.tar.gz","size":1,"lastModified":{modified}}}]}}"#
        )
    };
    let later_manifest = dir.join(format!("{later}.manifest"));
    std::fs::write(&later_manifest, entry(0)).expect("write");
    let backup = Backup::open(&dir).expect("opens");
    assert_eq!(backup.meta_file, dir.join(format!("{later}.meta")));
    assert_eq!(backup.shards.len(), 27);
    let shard1 = backup.shards.iter().find(|s| s.id == 1).expect("shard 1");
    // Equal lastModified: the newest manifest's entry.
    assert_eq!(
        shard1.archives[0].path,
        dir.join(format!("{later}.s1.tar.gz"))
    );
    let expected = influx_tsm_shard::testkit::oracle::load(&fixture_backup("small-a", ""));
    assert_same(
        "combined",
        &expected,
        &merged_view(&backup, &ReadOptions::default()),
    );

    // A listed archive that is missing is passed over, and said so.
    std::fs::remove_file(dir.join(format!("{later}.s1.tar.gz"))).expect("remove");
    let backup = Backup::open(&dir).expect("opens");
    let shard1 = backup.shards.iter().find(|s| s.id == 1).expect("shard 1");
    assert_eq!(
        shard1.archives[0].path,
        dir.join(format!("{stem}.s1.tar.gz"))
    );
    assert_eq!(backup.ignored.len(), 1, "{:?}", backup.ignored);
}

#[test]
fn legacy_increments_of_a_shard_are_one_shard() {
    let (_tmp, dir) = copy("backup-legacy");
    std::fs::copy(
        dir.join("airq.autogen.00001.00"),
        dir.join("airq.autogen.00001.01"),
    )
    .expect("copy");
    let backup = Backup::open(&dir).expect("opens");
    let shard1 = backup.shards.iter().find(|s| s.id == 1).expect("shard 1");
    let names: Vec<_> = shard1.archives.iter().map(|a| a.path.clone()).collect();
    assert_eq!(
        names,
        [
            dir.join("airq.autogen.00001.00"),
            dir.join("airq.autogen.00001.01")
        ]
    );
    // The second copy's files replace the first's: no file is read twice.
    let files = shard1.files(&ReadOptions::default()).expect("reads");
    assert_eq!(files.tsm_files.len(), 3);
    assert!(
        files
            .tsm_files
            .iter()
            .all(|t| t.file.name().starts_with(&names[1]))
    );
    let expected = influx_tsm_shard::testkit::oracle::load(&fixture_backup("small-a", ""));
    assert_same(
        "increments",
        &expected,
        &merged_view(&backup, &ReadOptions::default()),
    );
}

#[test]
fn an_archive_of_another_shard_is_an_error() {
    let (_tmp, dir) = copy("backup-portable");
    let manifest = with_suffix(&dir, ".manifest");
    let text = std::fs::read_to_string(&manifest).expect("read");
    std::fs::write(&manifest, text.replacen(".s1.tar.gz", ".s2.tar.gz", 1)).expect("write");
    let backup = Backup::open(&dir).expect("opens");
    let shard1 = backup.shards.iter().find(|s| s.id == 1).expect("shard 1");
    let err = shard1
        .files(&ReadOptions::default())
        .expect_err("shard 2's archive");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Manifest(ManifestFault::OtherShard { found, .. }) if found == "airq/autogen/2"
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("holds shard airq/autogen/2"),
        "{err}"
    );
    assert_eq!(err.path(), Some(shard1.archives[0].path.as_path()));
}

#[test]
fn a_member_past_the_size_limit_is_an_error() {
    let dir = fixture_backup("small-a", "backup-portable");
    let backup = Backup::open(&dir).expect("opens");
    let options = ReadOptions {
        max_member_bytes: 1000,
        ..ReadOptions::default()
    };
    let err = backup.shards[0]
        .files(&options)
        .expect_err("members of more than 1000 bytes");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Shard(e) if matches!(e.kind(), influx_tsm_shard::ErrorKind::LimitExceeded { .. })
        ),
        "{err}"
    );
    assert_eq!(
        err.path(),
        Some(backup.shards[0].archives[0].path.as_path())
    );
}
