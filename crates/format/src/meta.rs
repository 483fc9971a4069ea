//! `meta/meta.db`: the server's catalogue of databases, retention policies and shard
//! groups, one protobuf (proto2) message with no header.
//!
//! An export can live without it (names come from the directory tree), but it tells which
//! shard folders a running server would actually query: shards of deleted shard groups
//! and folders the catalogue does not list are never read by queries. It also holds the
//! retention policies' durations and each database's default policy, for DDL.
//!
//! Only the fields an exporter needs are decoded (schema: `services/meta/internal/meta.proto`
//! at v1.8.10); unknown fields are skipped as protobuf requires.
//!
//! # Why a hand-written protobuf reader
//!
//! Kept on purpose (the team's rule: a hand-written reader of a format says why):
//!
//! * **This crate stays pure and small.** The reader is the wire format only (`Fields`,
//!   about 100 lines: varint, 64-bit, length-delimited, 32-bit) and a function per
//!   message for the dozen fields used. A generated reader (prost) would need a `.proto`
//!   copied from influxd and a build script with `protoc`, or hand-kept derive structs,
//!   for the few messages read; neither `prost` nor a `protoc` is in the build
//!   today.
//! * **Limits on sizes read from the file.** Every length is checked against the bytes
//!   left before it is sliced, and nothing is allocated from a claimed length: strings
//!   are copied from bytes that are there. A damaged file is a [`MetaFault`] or
//!   [`ErrorKind::Truncated`](crate::ErrorKind::Truncated) at the byte offset of the field,
//!   rebased to file offsets for the backup wrappers.
//! * **Zero copy.** Nested messages are read in place, as sub-slices of the caller's bytes.

use crate::error::{Error, MetaFault, Result};

/// The decoded catalogue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// Every database, in stored order.
    pub databases: Vec<DatabaseMeta>,
}

/// A database (`DatabaseInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseMeta {
    /// The name (the folder under `data/`).
    pub name: String,
    /// The retention policy writes go to when none is named.
    pub default_retention_policy: String,
    /// The retention policies.
    pub retention_policies: Vec<RetentionPolicyMeta>,
}

/// A retention policy (`RetentionPolicyInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionPolicyMeta {
    /// The name (the folder under the database).
    pub name: String,
    /// How long data is kept, in nanoseconds; 0 means forever.
    pub duration: i64,
    /// The time span of one shard group, in nanoseconds.
    pub shard_group_duration: i64,
    /// Replication factor.
    pub replica_n: u32,
    /// The shard groups, deleted ones included.
    pub shard_groups: Vec<ShardGroupMeta>,
}

/// A shard group (`ShardGroupInfo`): the shards covering `[start_time, end_time)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardGroupMeta {
    /// The group id.
    pub id: u64,
    /// First nanosecond covered.
    pub start_time: i64,
    /// First nanosecond not covered.
    pub end_time: i64,
    /// When the group was dropped (nanoseconds), or 0 if it is live.
    pub deleted_at: i64,
    /// Shard ids (the folder names under the retention policy).
    pub shards: Vec<u64>,
}

/// What the catalogue says about a shard folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardStatus {
    /// Listed in a live shard group: queries read it.
    Live,
    /// Listed only in a deleted shard group: the server dropped it.
    Deleted,
    /// Not listed at all (or its database or retention policy is not): queries never read it.
    Unlisted,
}

impl Meta {
    /// What the catalogue says about shard `id` of `database`/`retention_policy`.
    pub fn shard_status(&self, database: &str, retention_policy: &str, id: u64) -> ShardStatus {
        self.shard(database, retention_policy, id).0
    }

    /// The start of the time span of shard `id` of `database`/`retention_policy` (of its
    /// live shard group, else of a deleted one); `None` when the catalogue does not list it.
    pub fn shard_start(&self, database: &str, retention_policy: &str, id: u64) -> Option<i64> {
        self.shard(database, retention_policy, id).1
    }

    /// [`Meta::shard_status`] and [`Meta::shard_start`] of one shard, from one look
    /// through the catalogue: a live group wins over deleted ones.
    pub fn shard(
        &self,
        database: &str,
        retention_policy: &str,
        id: u64,
    ) -> (ShardStatus, Option<i64>) {
        let mut found = (ShardStatus::Unlisted, None);
        for group in self.groups_of(database, retention_policy, id) {
            if group.deleted_at == 0 {
                return (ShardStatus::Live, Some(group.start_time));
            }
            found = (ShardStatus::Deleted, found.1.or(Some(group.start_time)));
        }
        found
    }

    /// The shard groups (live and deleted) of `database`/`retention_policy` that list
    /// shard `id`.
    fn groups_of<'a>(
        &'a self,
        database: &'a str,
        retention_policy: &'a str,
        id: u64,
    ) -> impl Iterator<Item = &'a ShardGroupMeta> {
        self.databases
            .iter()
            .filter(move |d| d.name == database)
            .flat_map(|d| &d.retention_policies)
            .filter(move |rp| rp.name == retention_policy)
            .flat_map(|rp| &rp.shard_groups)
            .filter(move |g| g.shards.contains(&id))
    }

    /// The database named `name`.
    pub fn database(&self, name: &str) -> Option<&DatabaseMeta> {
        self.databases.iter().find(|d| d.name == name)
    }
}

/// Decodes `meta.db`.
///
/// # Errors
/// A truncated or malformed protobuf; offsets are file offsets.
///
/// ```
/// // Data { Databases(5): { Name(1): "db" } }
/// let meta = influx_tsm_format::meta::decode_meta(&[0x2A, 0x04, 0x0A, 0x02, b'd', b'b']).unwrap();
/// assert_eq!(meta.databases[0].name, "db");
/// ```
pub fn decode_meta(data: &[u8]) -> Result<Meta> {
    let mut meta = Meta::default();
    for field in Fields::new(data, 0) {
        let (number, value) = field?;
        if number == 5 {
            meta.databases.push(database(value.message()?)?);
        }
    }
    Ok(meta)
}

/// `BackupMagicHeader` of influxd's snapshotter: the first 8 bytes (big-endian) of a
/// legacy backup's `meta.NN` file.
pub const LEGACY_BACKUP_MAGIC: u64 = 0x5959_0101;

/// Decodes the catalogue in a legacy backup's `meta.NN` file (`influxd backup` without
/// `-portable`): the magic [`LEGACY_BACKUP_MAGIC`], the length of the `meta.db` bytes
/// (u64 big-endian), those bytes, then the node's `node.json` (ignored here).
///
/// # Errors
/// A wrong magic, a length past the end of the file, or a malformed catalogue; offsets
/// are file offsets.
///
/// ```
/// let mut file = 0x5959_0101u64.to_be_bytes().to_vec();
/// file.extend(6u64.to_be_bytes());
/// file.extend([0x2A, 0x04, 0x0A, 0x02, b'd', b'b']);
/// file.extend(5u64.to_be_bytes());
/// file.extend(b"null\n");
/// assert_eq!(influx_tsm_format::meta::decode_legacy_backup_meta(&file).unwrap().databases[0].name, "db");
/// ```
pub fn decode_legacy_backup_meta(file: &[u8]) -> Result<Meta> {
    let mut cursor = crate::cursor::Cursor::new(file, 0);
    let magic = cursor.u64_be()?;
    if magic != LEGACY_BACKUP_MAGIC {
        return Err(Error::meta(
            0,
            MetaFault::NotLegacyBackup {
                magic,
                expected: LEGACY_BACKUP_MAGIC,
            },
        ));
    }
    let at = cursor.offset();
    let len = cursor.u64_be()?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= cursor.remaining())
        .ok_or_else(|| Error::truncated(at, len, cursor.remaining() as u64))?;
    let start = cursor.offset();
    let data = cursor.bytes(len)?;
    decode_meta(data).map_err(|e| e.rebase(start))
}

/// Decodes the catalogue in a portable backup's `<timestamp>.meta` file (`influxd backup
/// -portable`): a protobuf `PortableData { bytes Data = 1; uint64 MaxNodeID = 2; }` whose
/// `Data` holds the `meta.db` bytes.
///
/// # Errors
/// A malformed protobuf, a missing `Data` field, or a malformed catalogue; offsets are
/// file offsets.
///
/// ```
/// let file = [0x0A, 0x06, 0x2A, 0x04, 0x0A, 0x02, b'd', b'b', 0x10, 0x00];
/// assert_eq!(influx_tsm_format::meta::decode_portable_backup_meta(&file).unwrap().databases[0].name, "db");
/// ```
pub fn decode_portable_backup_meta(file: &[u8]) -> Result<Meta> {
    let mut data = None;
    for field in Fields::new(file, 0) {
        if let (1, value) = field? {
            data = Some(value.bytes()?);
        }
    }
    let (data, start) = data.ok_or_else(|| Error::meta(0, MetaFault::MissingData))?;
    decode_meta(data).map_err(|e| e.rebase(start))
}

fn database(fields: Fields<'_>) -> Result<DatabaseMeta> {
    let mut db = DatabaseMeta::default();
    for field in fields {
        match field? {
            (1, v) => db.name = v.string()?,
            (2, v) => db.default_retention_policy = v.string()?,
            (3, v) => db.retention_policies.push(retention_policy(v.message()?)?),
            _ => {}
        }
    }
    Ok(db)
}

fn retention_policy(fields: Fields<'_>) -> Result<RetentionPolicyMeta> {
    let mut rp = RetentionPolicyMeta::default();
    for field in fields {
        match field? {
            (1, v) => rp.name = v.string()?,
            (2, v) => rp.duration = v.varint()? as i64,
            (3, v) => rp.shard_group_duration = v.varint()? as i64,
            (4, v) => rp.replica_n = v.varint()? as u32,
            (5, v) => rp.shard_groups.push(shard_group(v.message()?)?),
            _ => {}
        }
    }
    Ok(rp)
}

fn shard_group(fields: Fields<'_>) -> Result<ShardGroupMeta> {
    let mut group = ShardGroupMeta::default();
    for field in fields {
        match field? {
            (1, v) => group.id = v.varint()?,
            (2, v) => group.start_time = v.varint()? as i64,
            (3, v) => group.end_time = v.varint()? as i64,
            (4, v) => group.deleted_at = v.varint()? as i64,
            (5, v) => {
                for shard_field in v.message()? {
                    if let (1, id) = shard_field? {
                        group.shards.push(id.varint()?);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(group)
}

/// One field's value, with the file offset of its start for error messages.
enum FieldValue<'a> {
    Varint(u64, u64),
    Bytes(&'a [u8], u64),
    Fixed(u64),
}

impl<'a> FieldValue<'a> {
    fn varint(&self) -> Result<u64> {
        match *self {
            FieldValue::Varint(v, _) => Ok(v),
            FieldValue::Bytes(_, at) | FieldValue::Fixed(at) => Err(Error::meta(
                at,
                MetaFault::WrongWireType {
                    expected: "a varint",
                },
            )),
        }
    }

    fn bytes(&self) -> Result<(&'a [u8], u64)> {
        match *self {
            FieldValue::Bytes(b, at) => Ok((b, at)),
            FieldValue::Varint(_, at) | FieldValue::Fixed(at) => Err(Error::meta(
                at,
                MetaFault::WrongWireType {
                    expected: "a length-delimited",
                },
            )),
        }
    }

    fn string(&self) -> Result<String> {
        Ok(String::from_utf8_lossy(self.bytes()?.0).into_owned())
    }

    fn message(&self) -> Result<Fields<'a>> {
        let (bytes, at) = self.bytes()?;
        Ok(Fields::new(bytes, at))
    }
}

/// Iterates the (field number, value) pairs of one protobuf message; stops after an error.
struct Fields<'a> {
    cursor: crate::cursor::Cursor<'a>,
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(data: &'a [u8], base: u64) -> Fields<'a> {
        Fields {
            cursor: crate::cursor::Cursor::new(data, base),
            failed: false,
        }
    }

    fn read(&mut self) -> Result<(u64, FieldValue<'a>)> {
        let at = self.cursor.offset();
        let key = self.cursor.uvarint()?;
        let value = match key & 7 {
            0 => FieldValue::Varint(self.cursor.uvarint()?, at),
            1 => {
                self.cursor.bytes(8)?;
                FieldValue::Fixed(at)
            }
            2 => {
                let len = self.cursor.uvarint()?;
                let start = self.cursor.offset();
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&l| l <= self.cursor.remaining())
                    .ok_or_else(|| Error::truncated(start, len, self.cursor.remaining() as u64))?;
                FieldValue::Bytes(self.cursor.bytes(len)?, start)
            }
            5 => {
                self.cursor.bytes(4)?;
                FieldValue::Fixed(at)
            }
            other => {
                return Err(Error::meta(at, MetaFault::UnknownWireType(other)));
            }
        };
        Ok((key >> 3, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, FieldValue<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.cursor.is_empty() {
            return None;
        }
        let item = self.read();
        self.failed = item.is_err();
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::varint::encode_uvarint;

    fn field(number: u64, wire: u64, out: &mut Vec<u8>) {
        encode_uvarint(number << 3 | wire, out);
    }

    fn bytes_field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
        field(number, 2, out);
        encode_uvarint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    fn varint_field(number: u64, v: u64, out: &mut Vec<u8>) {
        field(number, 0, out);
        encode_uvarint(v, out);
    }

    fn group(id: u64, deleted_at: i64, shards: &[u64]) -> Vec<u8> {
        let mut g = Vec::new();
        varint_field(1, id, &mut g);
        varint_field(2, (-5i64) as u64, &mut g); // negative times are 10-byte varints
        varint_field(4, deleted_at as u64, &mut g);
        for &s in shards {
            let mut shard = Vec::new();
            varint_field(1, s, &mut shard);
            bytes_field(3, b"owners are skipped", &mut shard);
            bytes_field(5, &shard, &mut g);
        }
        g
    }

    fn sample() -> Vec<u8> {
        let mut rp = Vec::new();
        bytes_field(1, b"autogen", &mut rp);
        varint_field(3, 86_400_000_000_000, &mut rp);
        bytes_field(5, &group(1, 0, &[1, 2]), &mut rp);
        bytes_field(5, &group(2, 99, &[3]), &mut rp);
        let mut db = Vec::new();
        bytes_field(1, b"airq", &mut db);
        bytes_field(2, b"autogen", &mut db);
        bytes_field(3, &rp, &mut db);
        let mut data = Vec::new();
        varint_field(1, 7, &mut data); // Term: skipped
        field(9, 1, &mut data); // an unknown fixed64 field: skipped
        data.extend_from_slice(&[0; 8]);
        bytes_field(5, &db, &mut data);
        data
    }

    #[test]
    fn decodes_databases_policies_groups_and_shards() {
        let meta = decode_meta(&sample()).unwrap();
        let db = meta.database("airq").unwrap();
        assert_eq!(db.default_retention_policy, "autogen");
        let rp = &db.retention_policies[0];
        assert_eq!(
            (rp.name.as_str(), rp.duration, rp.shard_group_duration),
            ("autogen", 0, 86_400_000_000_000)
        );
        assert_eq!(rp.shard_groups[0].start_time, -5);
        assert_eq!(rp.shard_groups[0].shards, vec![1, 2]);
        assert_eq!(meta.shard_status("airq", "autogen", 2), ShardStatus::Live);
        assert_eq!(meta.shard_start("airq", "autogen", 2), Some(-5));
        assert_eq!(meta.shard_start("airq", "autogen", 99), None);
        assert_eq!(
            meta.shard_status("airq", "autogen", 3),
            ShardStatus::Deleted
        );
        assert_eq!(
            meta.shard_status("airq", "autogen", 4),
            ShardStatus::Unlisted
        );
        assert_eq!(meta.shard_status("airq", "other", 1), ShardStatus::Unlisted);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let data = sample();
        for cut in 1..data.len() {
            // A cut may land between fields (a shorter, valid message) or inside one.
            let _ = decode_meta(&data[..cut]);
        }
        let err = decode_meta(&data[..data.len() - 1]).unwrap_err();
        assert!(err.offset().is_some());
        assert!(decode_meta(&[0x2A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]).is_err());
    }
}
