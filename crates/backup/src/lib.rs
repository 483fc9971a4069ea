//! Reads the backups `influxd backup` writes, in place: no restore, no server, nothing
//! extracted next to them. A backup's shards come out as [`influx_tsm_shard::source::ShardFiles`], so
//! they open, merge and export like the shards of a live directory.
//!
//! Two formats (as influxd 1.6.7 writes them; see the README's "Backups"):
//!
//! * **portable** (`influxd backup -portable`): `<ts>.manifest` (JSON: the catalogue file
//!   and one entry per shard: database, retention policy, shard id, file name),
//!   `<ts>.meta` (protobuf `PortableData` around the `meta.db` bytes, see
//!   [`influx_tsm_shard::meta::decode_portable_backup_meta`]) and one gzip-compressed tar per shard,
//!   `<ts>.s<id>.tar.gz`. Archives are decompressed as a stream, one shard at a time;
//!   members go to memory up to [`ReadOptions::memory_budget`] bytes per shard, the rest
//!   to unlinked temporary files that are mapped.
//! * **legacy** (`influxd backup -database DB`): `meta.NN` (magic, length, `meta.db`
//!   bytes, `node.json`; see [`influx_tsm_shard::meta::decode_legacy_backup_meta`]) and a plain tar per
//!   shard and increment, `<db>.<rp>.<id:05>.<NN>`. The archives are mapped and their
//!   members' bytes used where they lie, without a copy. Their names are not trusted
//!   (1.6.7 formats them with the database name as a format string, so a `%` garbles
//!   them): a shard's database, retention policy and id come from the member paths.
//!
//! Members are `<db>/<rp>/<id>/<file>`: `*.tsm` and their `*.tombstone` are used, the rest
//! (`fields.idx`, a TSI `index/`) is derived data and passed over. A backup has no WAL:
//! influxd snapshots each shard's WAL to TSM before copying it.
//!
//! ```
//! use influx_tsm_shard::shard::{Shard, ShardOptions};
//! use influx_tsm_backup::{Backup, BackupFormat, ReadOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::path::Path::new("../../fixtures/small-a/backup-portable");
//! assert_eq!(Backup::detect(dir), Some(BackupFormat::Portable));
//! let backup = Backup::open(dir)?;
//! let shard = &backup.shards[0];
//! let files = shard.files(&ReadOptions::default())?;
//! let opened = Shard::open_from(files, &ShardOptions::default())?;
//! assert!(!opened.measurements().is_empty());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod error;
pub mod tar;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use influx_tsm_shard::layout::{ShardLocation, parse_tsm_name};
use influx_tsm_shard::meta::{Meta, decode_legacy_backup_meta, decode_portable_backup_meta};
use influx_tsm_shard::mmap::MappedFile;
use influx_tsm_shard::source::{FileSource, ShardFiles, TsmSource};

pub use crate::error::{Error, ErrorKind, ManifestFault, Result, TarFault};
use serde::Deserialize;

use crate::tar::{Input, Member, MemberKind, Stream, TarReader};

/// The two layouts `influxd backup` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupFormat {
    /// `influxd backup -portable`: manifest, `.meta`, a `.tar.gz` per shard.
    Portable,
    /// `influxd backup` (legacy): `meta.NN`, a plain tar per shard and increment.
    Legacy,
}

/// A backup folder: its catalogue and shards.
#[derive(Debug)]
pub struct Backup {
    /// The folder.
    pub dir: PathBuf,
    /// Which layout.
    pub format: BackupFormat,
    /// The catalogue file used (the newest).
    pub meta_file: PathBuf,
    /// The server's catalogue at backup time.
    pub meta: Meta,
    /// Shards in (database, retention policy, id) order.
    pub shards: Vec<BackupShard>,
    /// Files passed over, with the reason.
    pub ignored: Vec<(PathBuf, String)>,
}

/// One shard of a backup.
#[derive(Clone, Debug)]
pub struct BackupShard {
    /// Database.
    pub database: String,
    /// Retention policy.
    pub retention_policy: String,
    /// Shard id.
    pub id: u64,
    /// Its archives, in the order they apply: a member replaces a same-named member of
    /// an earlier archive (legacy increments `.00`, `.01`, ...). A portable shard has one.
    pub archives: Vec<Archive>,
}

/// One archive file.
#[derive(Clone, Debug)]
pub struct Archive {
    /// Path of the archive.
    pub path: PathBuf,
    /// Whether it is gzip-compressed (portable) or a plain tar (legacy).
    pub compressed: bool,
    /// Its size on disk.
    pub bytes: u64,
}

/// How shard archives are read.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Bytes of a compressed archive's members held in memory per shard; members beyond
    /// go to unlinked temporary files, which are mapped. Default 64 MiB.
    pub memory_budget: u64,
    /// Where those temporary files go (default: the system's temporary folder).
    pub spill_dir: Option<PathBuf>,
    /// The largest member of a compressed archive accepted (default 16 GiB; influxd
    /// writes TSM files of 2 GiB at most): a larger claim is damage or a bomb, and would
    /// otherwise fill the temporary folder.
    pub max_member_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            memory_budget: 64 << 20,
            spill_dir: None,
            max_member_bytes: 16 << 30,
        }
    }
}

impl Backup {
    /// Which backup layout `dir` holds, if any: a `*.manifest` file makes it portable,
    /// a `meta.NN` file legacy.
    pub fn detect(dir: &Path) -> Option<BackupFormat> {
        let names = plain_files(dir).ok()?;
        if names.iter().any(|(n, _)| n.ends_with(".manifest")) {
            Some(BackupFormat::Portable)
        } else if names.iter().any(|(n, _)| legacy_meta_name(n)) {
            Some(BackupFormat::Legacy)
        } else {
            None
        }
    }

    /// Reads the backup's catalogue and lists its shards. Portable archives are not
    /// opened yet; legacy ones are mapped and their headers read (their names do not say
    /// which shard they hold).
    ///
    /// # Errors
    /// When `dir` is no backup, its catalogue is missing or damaged, a manifest does not
    /// parse, or a legacy archive's headers are damaged.
    pub fn open(dir: &Path) -> Result<Backup> {
        match Backup::detect(dir) {
            Some(BackupFormat::Portable) => open_portable(dir),
            Some(BackupFormat::Legacy) => open_legacy(dir),
            None => Err(Error::manifest(ManifestFault::NotABackup).in_file(dir)),
        }
    }

    /// Bytes of all archives.
    pub fn bytes(&self) -> u64 {
        self.shards.iter().map(BackupShard::bytes).sum()
    }
}

impl BackupShard {
    /// The shard as the rest of the tool names it: database, retention policy, id; its
    /// "data directory" is its (last) archive, and it lists no files of its own.
    pub fn location(&self) -> ShardLocation {
        ShardLocation {
            database: self.database.clone(),
            retention_policy: self.retention_policy.clone(),
            id: self.id,
            data_dir: self
                .archives
                .last()
                .map(|a| a.path.clone())
                .unwrap_or_default(),
            wal_dir: None,
            tsm_files: Vec::new(),
            wal_segments: Vec::new(),
        }
    }

    /// Bytes of its archives on disk.
    pub fn bytes(&self) -> u64 {
        self.archives.iter().map(|a| a.bytes).sum()
    }

    /// Reads the shard's TSM and tombstone files out of its archives. Each file is named
    /// `<archive>/<member path>` in errors; offsets in archive errors are offsets in the
    /// (decompressed) tar stream.
    ///
    /// # Errors
    /// A damaged archive (bad header checksum, cut short, bad gzip data or checksum),
    /// I/O errors, a temporary file that cannot be written.
    pub fn files(&self, options: &ReadOptions) -> Result<ShardFiles> {
        let name = self.location().data_dir;
        let mut members: BTreeMap<String, FileSource> = BTreeMap::new();
        for archive in &self.archives {
            let (identity, found) = if archive.compressed {
                read_compressed(&archive.path, options)
            } else {
                read_mapped(&archive.path)
            }
            .map_err(|e| e.in_file(&archive.path))?;
            if let Some((db, rp, id)) = identity
                && (db != self.database || rp != self.retention_policy || id != self.id)
            {
                return Err(Error::manifest(ManifestFault::OtherShard {
                    found: format!("{db}/{rp}/{id}"),
                    listed: format!("{}/{}/{}", self.database, self.retention_policy, self.id),
                })
                .in_file(&archive.path));
            }
            members.extend(found);
        }
        Ok(shard_files(name, members))
    }

    /// The shard's TSM and tombstone files as [`BackupShard::files`] reads them, each
    /// with its bytes, for `verify`.
    ///
    /// # Errors
    /// As [`BackupShard::files`].
    pub fn members(&self, options: &ReadOptions) -> Result<Vec<FileSource>> {
        let files = self.files(options)?;
        let mut out = Vec::new();
        for tsm in files.tsm_files {
            out.push(tsm.file);
            out.extend(tsm.tombstone);
        }
        Ok(out)
    }
}

/// Pairs the TSM files with their tombstones; other files were passed over already.
fn shard_files(name: PathBuf, members: BTreeMap<String, FileSource>) -> ShardFiles {
    let mut files = ShardFiles::new(name);
    let mut tombstones: BTreeMap<String, FileSource> = BTreeMap::new();
    let mut tsm = Vec::new();
    for (file_name, source) in members {
        if let Some(stem) = file_name.strip_suffix(".tombstone") {
            tombstones.insert(stem.to_owned(), source);
        } else if let Some((generation, sequence)) = parse_tsm_name(&file_name) {
            tsm.push((file_name, source, generation, sequence));
        }
    }
    for (file_name, source, generation, sequence) in tsm {
        let mut t = TsmSource::new(source, generation, sequence);
        let stem = file_name.strip_suffix(".tsm").unwrap_or(&file_name);
        if let Some(tombstone) = tombstones.remove(stem) {
            t = t.with_tombstone(tombstone);
        }
        files = files.tsm(t);
    }
    files
}

/// `(db, rp, id, file name)` of a member directly in a shard folder; `None` for deeper
/// members (a TSI `index/`) and paths of another shape.
fn shard_member(path: &[u8]) -> Option<(String, String, u64, String)> {
    let path = std::str::from_utf8(path).ok()?;
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let [db, rp, id, file] = parts.as_slice() else {
        return None;
    };
    Some((
        (*db).to_owned(),
        (*rp).to_owned(),
        id.parse().ok()?,
        (*file).to_owned(),
    ))
}

/// Whether the member is one the shard is made of: a TSM or tombstone file.
fn wanted(file: &str) -> bool {
    parse_tsm_name(file).is_some() || file.ends_with(".tombstone")
}

/// A member's bytes inside a mapped archive.
struct MemberBytes {
    map: Arc<MappedFile>,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for MemberBytes {
    fn as_ref(&self) -> &[u8] {
        // Checked when the member was listed; the map's bytes do not change.
        self.map.bytes().get(self.start..self.end).unwrap_or(&[])
    }
}

type Identity = Option<(String, String, u64)>;

/// Maps a plain tar and lists its shard's TSM and tombstone members (zero-copy), with
/// the shard they belong to.
fn read_mapped(path: &Path) -> Result<(Identity, BTreeMap<String, FileSource>)> {
    let map = Arc::new(MappedFile::open(path)?);
    let bytes = map.bytes();
    let mut reader = TarReader::new(bytes);
    let mut identity: Identity = None;
    let mut found = BTreeMap::new();
    while let Some(member) = reader.next_member()? {
        let Some(file) = member_of(&member, &mut identity)? else {
            continue;
        };
        let range = usize::try_from(member.data_offset)
            .ok()
            .zip(
                member
                    .data_offset
                    .checked_add(member.size)
                    .and_then(|e| usize::try_from(e).ok()),
            )
            .filter(|&(_, end)| end <= bytes.len())
            .ok_or_else(|| {
                influx_tsm_shard::Error::truncated(
                    member.data_offset,
                    member.size,
                    bytes.len() as u64,
                )
            })?;
        let source = FileSource::shared(
            path.join(&file),
            Arc::new(MemberBytes {
                map: Arc::clone(&map),
                start: range.0,
                end: range.1,
            }),
        );
        found.insert(file, source);
    }
    Ok((identity, found))
}

/// The file name of a wanted member, checking that every member of the archive belongs
/// to one shard (`identity`, set by the first).
fn member_of(member: &Member, identity: &mut Identity) -> Result<Option<String>> {
    if member.kind != MemberKind::File {
        return Ok(None);
    }
    let Some((db, rp, id, file)) = shard_member(&member.path) else {
        return Ok(None);
    };
    match identity {
        None => *identity = Some((db, rp, id)),
        Some(known) if *known != (db.clone(), rp.clone(), id) => {
            return Err(Error::manifest(ManifestFault::MemberOfOtherShard {
                member: format!("{db}/{rp}/{id}/{file}"),
                shard: format!("{}/{}/{}", known.0, known.1, known.2),
            })
            .at(member.header_offset));
        }
        Some(_) => {}
    }
    Ok(wanted(&file).then_some(file))
}

/// Streams a `.tar.gz`: members into memory while the budget lasts, then into unlinked
/// temporary files; reads the gzip stream to its end so its checksum is checked.
fn read_compressed(
    path: &Path,
    options: &ReadOptions,
) -> Result<(Identity, BTreeMap<String, FileSource>)> {
    let file = File::open(path)?;
    let decoder = flate2::bufread::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file));
    let mut reader = TarReader::new(Stream(decoder));
    let mut identity: Identity = None;
    let mut found = BTreeMap::new();
    let mut budget = options.memory_budget;
    let mut buf = vec![0u8; 1 << 16];
    while let Some(member) = reader.next_member()? {
        let Some(file) = member_of(&member, &mut identity)? else {
            continue;
        };
        if member.size > options.max_member_bytes {
            return Err(influx_tsm_shard::Error::limit(
                member.header_offset,
                "backup archive member",
                member.size,
                options.max_member_bytes,
            )
            .into());
        }
        let name = path.join(&file);
        let source = if member.size <= budget {
            budget -= member.size;
            // Within the budget: the claimed size is bounded, and the data must be there.
            let mut data = Vec::with_capacity(usize::try_from(member.size).unwrap_or(0));
            copy_member(&mut reader, &mut buf, &mut data)?;
            FileSource::new(name, data)
        } else {
            let spill = match &options.spill_dir {
                Some(dir) => tempfile::tempfile_in(dir),
                None => tempfile::tempfile(),
            }?;
            let mut writer = BufWriter::with_capacity(1 << 16, spill);
            copy_member(&mut reader, &mut buf, &mut writer)?;
            let spill = writer
                .into_inner()
                .map_err(|e| Error::from(e.into_error()))?;
            FileSource::new(name.clone(), MappedFile::map_file(&spill, &name)?)
        };
        found.insert(file, source);
    }
    let at = reader.position();
    let mut rest = reader.into_inner();
    rest.skip(u64::MAX).map_err(|e| tar::stream_error(e, at))?;
    Ok((identity, found))
}

fn copy_member<I: Input>(
    reader: &mut TarReader<I>,
    buf: &mut [u8],
    out: &mut impl Write,
) -> Result<()> {
    loop {
        let n = reader.read_data(buf)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n])?;
    }
}

/// The regular files directly in `dir`, as (name, path); names that are not UTF-8 are
/// left out.
fn plain_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if let Some(name) = entry.file_name().to_str()
            && path.is_file()
        {
            out.push((name.to_owned(), path));
        }
    }
    out.sort();
    Ok(out)
}

/// `meta.00`, `meta.01`, ...: the legacy catalogue files.
fn legacy_meta_name(name: &str) -> bool {
    name.strip_prefix("meta.")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// One `*.manifest` file.
#[derive(Deserialize)]
struct Manifest {
    meta: ManifestMeta,
    #[serde(default)]
    files: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestMeta {
    #[serde(rename = "fileName")]
    file_name: String,
}

#[derive(Deserialize)]
struct ManifestEntry {
    database: String,
    policy: String,
    #[serde(rename = "shardID")]
    shard_id: u64,
    #[serde(rename = "fileName")]
    file_name: String,
    #[serde(rename = "lastModified", default)]
    last_modified: i64,
}

/// A file name from a manifest, as a path in `dir`: a plain name, never a way out.
fn in_dir(dir: &Path, name: &str, manifest: &Path) -> Result<PathBuf> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\\');
    if !plain {
        return Err(Error::manifest(ManifestFault::NotAFileName {
            name: name.to_owned(),
        })
        .in_file(manifest));
    }
    Ok(dir.join(name))
}

/// Like `influxd restore -portable`: the newest manifest (by name, the timestamp) gives
/// the catalogue; each shard comes from the entry with the latest `lastModified` whose
/// archive exists (the newest manifest's on a tie).
fn open_portable(dir: &Path) -> Result<Backup> {
    let names = plain_files(dir).map_err(|e| Error::from(e).in_file(dir))?;
    let mut manifests: Vec<&(String, PathBuf)> = names
        .iter()
        .filter(|(n, _)| n.ends_with(".manifest"))
        .collect();
    manifests.reverse();
    let mut meta_file = None;
    let mut chosen: BTreeMap<u64, (ManifestEntry, PathBuf)> = BTreeMap::new();
    let mut ignored = Vec::new();
    for (_, manifest_path) in manifests {
        let bytes =
            std::fs::read(manifest_path).map_err(|e| Error::from(e).in_file(manifest_path))?;
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            Error::manifest(ManifestFault::Unparsable(e.to_string())).in_file(manifest_path)
        })?;
        if meta_file.is_none() {
            meta_file = Some(in_dir(dir, &manifest.meta.file_name, manifest_path)?);
        }
        for entry in manifest.files {
            let path = in_dir(dir, &entry.file_name, manifest_path)?;
            if !path.is_file() {
                ignored.push((
                    path,
                    format!("listed in {} but missing", manifest_path.display()),
                ));
                continue;
            }
            let newer = chosen
                .get(&entry.shard_id)
                .is_none_or(|(e, _)| entry.last_modified > e.last_modified);
            if newer {
                chosen.insert(entry.shard_id, (entry, path));
            }
        }
    }
    let meta_file =
        meta_file.ok_or_else(|| Error::manifest(ManifestFault::NoManifest).in_file(dir))?;
    let meta_bytes = std::fs::read(&meta_file).map_err(|e| Error::from(e).in_file(&meta_file))?;
    let meta = decode_portable_backup_meta(&meta_bytes).map_err(|e| e.in_file(&meta_file))?;
    let mut shards = Vec::new();
    for (id, (entry, path)) in chosen {
        let bytes = std::fs::metadata(&path)
            .map_err(|e| Error::from(e).in_file(&path))?
            .len();
        shards.push(BackupShard {
            database: entry.database,
            retention_policy: entry.policy,
            id,
            archives: vec![Archive {
                path,
                compressed: true,
                bytes,
            }],
        });
    }
    shards.sort_by(|a, b| {
        (&a.database, &a.retention_policy, a.id).cmp(&(&b.database, &b.retention_policy, b.id))
    });
    Ok(Backup {
        dir: dir.to_path_buf(),
        format: BackupFormat::Portable,
        meta_file,
        meta,
        shards,
        ignored,
    })
}

/// Like `influxd restore` (legacy): the last `meta.NN` by name is the catalogue; every
/// other file is a shard archive, applied in name order.
fn open_legacy(dir: &Path) -> Result<Backup> {
    let names = plain_files(dir).map_err(|e| Error::from(e).in_file(dir))?;
    let meta_file = names
        .iter()
        .rfind(|(n, _)| legacy_meta_name(n))
        .map(|(_, p)| p.clone())
        .ok_or_else(|| Error::manifest(ManifestFault::NoMetaFile).in_file(dir))?;
    let meta_bytes = std::fs::read(&meta_file).map_err(|e| Error::from(e).in_file(&meta_file))?;
    let meta = decode_legacy_backup_meta(&meta_bytes).map_err(|e| e.in_file(&meta_file))?;
    let mut shards: BTreeMap<(String, String, u64), BackupShard> = BTreeMap::new();
    let mut ignored = Vec::new();
    for (name, path) in &names {
        if legacy_meta_name(name) {
            continue;
        }
        if name.ends_with(".pending") {
            ignored.push((path.clone(), "an unfinished download (.pending)".into()));
            continue;
        }
        let (identity, _) = read_mapped(path).map_err(|e| e.in_file(path))?;
        let Some((database, retention_policy, id)) = identity else {
            ignored.push((path.clone(), "holds no shard file".into()));
            continue;
        };
        let bytes = std::fs::metadata(path)
            .map_err(|e| Error::from(e).in_file(path))?
            .len();
        shards
            .entry((database.clone(), retention_policy.clone(), id))
            .or_insert_with(|| BackupShard {
                database,
                retention_policy,
                id,
                archives: Vec::new(),
            })
            .archives
            .push(Archive {
                path: path.clone(),
                compressed: false,
                bytes,
            });
    }
    Ok(Backup {
        dir: dir.to_path_buf(),
        format: BackupFormat::Legacy,
        meta_file,
        meta,
        shards: shards.into_values().collect(),
        ignored,
    })
}
