//! The WAL replayed into memory, as influxd's cache holds it at start-up.
//!
//! # What influxd does
//!
//! Checked against InfluxDB v1.8.10 (`engine.go` `Open`/`reloadCache`, `cache.go`
//! `CacheLoader.Load`, `Cache.WriteMulti`, `Cache.Delete`, `Cache.DeleteRange`,
//! `entry.add`, `entry.filter`, `newEntryValues`, `valueType`; `ring.go`
//! `partition.write`; `encoding.gen.go` `Values.Deduplicate`, `Values.Exclude`):
//!
//! * Start-up opens the TSM files first, then replays every `_*.wal` segment of the shard
//!   into an empty cache, in the order of their **file names** (`sort.Strings`; IDs are
//!   zero-padded to five digits, so this is ID order below 100,000). Empty segments are
//!   skipped. The caller of [`Replay`] chooses the order.
//! * Write entry: each key's points are appended to that key's cached list in arrival
//!   order. The entry is a Go map, so a key repeated inside one damaged entry counts once,
//!   with its last copy; [`Replay`] does the same.
//! * Delete-range entry (`Cache.DeleteRange`): for each listed key **present in the
//!   cache**, drop the cached points with `min <= t <= max` (the entry is deduplicated
//!   first, then `Values.Exclude`); a key left with no points is removed from the cache.
//!   `min = i64::MIN, max = i64::MAX` removes the key outright. `min > max` drops
//!   nothing. Keys match by byte equality, never by prefix.
//! * Delete entry (`Cache.Delete`) is `DeleteRange(keys, i64::MIN, i64::MAX)`.
//! * Neither delete reaches anything but the points replayed before it: the loader only
//!   calls the cache's methods, never the file store. TSM data was handled when the
//!   delete ran: `Engine.deleteSeriesRange` first writes tombstones into every TSM file
//!   overlapping the keys and the time range, then deletes from the cache, then logs the
//!   delete-range entry with only the keys that were in the cache. A write replayed after
//!   a delete survives it.
//! * Reading a segment stops at its first bad entry (torn header or payload, snappy error,
//!   unknown type, malformed payload): influxd truncates the file after the last good
//!   entry, keeps what it loaded, and goes on with the next segment. [`Replay`] records a
//!   [`ReplayProblem`] instead of truncating; the data is the same.
//! * The cache's memory limit is switched off while loading (`reloadCache`), so replay
//!   never drops points for size.
//! * Reading the cache (`Cache.Values`, and every snapshot) sorts a key's points by time
//!   with a stable sort and keeps the **last arrival** of each timestamp
//!   (`Values.Deduplicate`). [`Replay::finish`] does that for every key.
//! * Types: a key holds one value type. A write whose type differs from the key's cached
//!   type fails with `ErrFieldTypeConflict`; influxd drops that key's points from the
//!   write, still applies the entry's other keys, then aborts the whole replay, so the
//!   engine and the shard fail to open. One quirk: `valueType` has no code for unsigned,
//!   so a key whose first cached values are unsigned accepts any later type. The write
//!   path rejects conflicting types before they reach the WAL, so a conflict means the
//!   files were altered. [`Replay`] keeps the first type's points, drops the conflicting
//!   write for that key (unsigned-first keys included), records a
//!   [`ReplayProblemKind::TypeConflict`] and goes on, so a caller can report and still
//!   export.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::Error;
use crate::limits::Limits;
use crate::values::{FieldType, Strings, Values};
use crate::wal::{WalEntry, WalSegmentReader, WalWrite};

/// One key's cached points.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheEntry {
    /// Timestamps, strictly ascending once replay has finished.
    pub timestamps: Vec<i64>,
    /// One value per timestamp.
    pub values: Values,
}

impl CacheEntry {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether there are no points (never true for an entry of a finished [`Cache`]).
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// The type of the values.
    pub fn field_type(&self) -> FieldType {
        self.values.field_type()
    }
}

/// Keys and their points from a key on; see [`Cache::range_from`].
#[derive(Clone, Debug)]
pub struct CacheRange<'a>(std::collections::btree_map::Range<'a, Vec<u8>, CacheEntry>);

impl<'a> Iterator for CacheRange<'a> {
    type Item = (&'a [u8], &'a CacheEntry);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, e)| (k.as_slice(), e))
    }
}

/// A shard's WAL replayed: per key, points sorted by time with one value per timestamp.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cache {
    entries: BTreeMap<Vec<u8>, CacheEntry>,
}

impl Cache {
    /// Replays `segments` (whole segment files, in the order influxd would use) into a
    /// cache. Never fails: damaged entries and type conflicts become problems.
    ///
    /// ```
    /// use influx_tsm_shard::Limits;
    /// use influx_tsm_shard::cache::Cache;
    ///
    /// let (cache, problems) = Cache::replay([&[][..]], &Limits::default());
    /// assert!(cache.is_empty() && problems.is_empty());
    /// ```
    pub fn replay<'a>(
        segments: impl IntoIterator<Item = &'a [u8]>,
        limits: &Limits,
    ) -> (Cache, Vec<ReplayProblem>) {
        let mut replay = Replay::new(limits);
        for segment in segments {
            replay.segment(segment);
        }
        replay.finish()
    }

    /// Keys in ascending byte order.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.entries.keys().map(Vec::as_slice)
    }

    /// Keys and their points, in ascending key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &CacheEntry)> + '_ {
        self.entries.iter().map(|(k, e)| (k.as_slice(), e))
    }

    /// Keys and their points from the first key at or after `key`, in ascending key order.
    pub fn range_from(&self, key: &[u8]) -> CacheRange<'_> {
        CacheRange(
            self.entries
                .range::<[u8], _>((std::ops::Bound::Included(key), std::ops::Bound::Unbounded)),
        )
    }

    /// The points of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&CacheEntry> {
        self.entries.get(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key has a point.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of points over all keys.
    pub fn value_count(&self) -> usize {
        self.entries.values().map(CacheEntry::len).sum()
    }

    /// Takes the map apart.
    pub fn into_entries(self) -> BTreeMap<Vec<u8>, CacheEntry> {
        self.entries
    }
}

/// Something replay could not use.
#[derive(Debug)]
pub struct ReplayProblem {
    /// Position of the segment in the sequence given to the replay, from 0.
    pub segment: usize,
    /// Segment offset of the entry concerned.
    pub offset: u64,
    /// What happened.
    pub kind: ReplayProblemKind,
}

/// What a [`ReplayProblem`] is about.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReplayProblemKind {
    /// The entry could not be decoded; the rest of the segment was ignored, as influxd
    /// ignores (and truncates) a torn tail.
    Unreadable(Error),
    /// A write of `written` values to a key already holding `cached` values; that key's
    /// part of the write was dropped (influxd would refuse to open the shard).
    TypeConflict {
        /// The composite key.
        key: Vec<u8>,
        /// The type of the points already cached.
        cached: FieldType,
        /// The type of the dropped write.
        written: FieldType,
        /// Points dropped.
        points: usize,
    },
}

impl ReplayProblem {
    /// The problem as a crate [`Error`] at the segment offset (the caller adds the path).
    pub fn into_error(self) -> Error {
        match self.kind {
            ReplayProblemKind::Unreadable(err) => err,
            ReplayProblemKind::TypeConflict {
                key,
                cached,
                written,
                points,
            } => Error::new(crate::ErrorKind::TypeConflict {
                found: written,
                kept: cached,
                with: crate::ConflictWith::WalWrite { points },
            })
            .at(self.offset)
            .for_key(&key),
        }
    }
}

impl fmt::Display for ReplayProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WAL segment {}: ", self.segment)?;
        match &self.kind {
            ReplayProblemKind::Unreadable(err) => {
                write!(f, "{err}; ignoring the segment from byte {}", self.offset)
            }
            ReplayProblemKind::TypeConflict {
                key,
                cached,
                written,
                points,
            } => write!(
                f,
                "at byte {}: {points} {written} points for key {:?}, which holds {cached} \
                 values; dropped",
                self.offset,
                String::from_utf8_lossy(key)
            ),
        }
    }
}

/// A replay in progress: feed segments in order, then [`Replay::finish`].
#[derive(Debug)]
pub struct Replay {
    limits: Limits,
    /// Points in arrival order; sorted and deduplicated only by `finish`.
    entries: HashMap<Vec<u8>, CacheEntry>,
    problems: Vec<ReplayProblem>,
    segments: usize,
}

impl Replay {
    /// An empty cache.
    pub fn new(limits: &Limits) -> Replay {
        Replay {
            limits: *limits,
            entries: HashMap::new(),
            problems: Vec::new(),
            segments: 0,
        }
    }

    /// Applies one whole segment file. Its index in problems is the number of segments
    /// applied before it.
    pub fn segment(&mut self, data: &[u8]) {
        let index = self.segments;
        self.segments += 1;
        let mut reader = WalSegmentReader::new(data, self.limits);
        loop {
            let offset = reader.offset();
            match reader.next_entry() {
                Ok(Some(entry)) => self.apply(entry, index, offset),
                Ok(None) => break,
                Err(err) => {
                    let kind = ReplayProblemKind::Unreadable(err);
                    self.problems.push(ReplayProblem {
                        segment: index,
                        offset,
                        kind,
                    });
                    break;
                }
            }
        }
    }

    /// Applies one decoded entry, as if read at `offset` of segment `segment`.
    pub fn apply(&mut self, entry: WalEntry, segment: usize, offset: u64) {
        match entry {
            WalEntry::Write(writes) => self.write(writes, segment, offset),
            WalEntry::Delete { keys } => {
                for key in keys {
                    self.entries.remove(&key);
                }
            }
            WalEntry::DeleteRange {
                min_time,
                max_time,
                keys,
            } => {
                for key in keys {
                    let Some(entry) = self.entries.get_mut(&key) else {
                        continue;
                    };
                    retain(entry, |t| t < min_time || t > max_time);
                    if entry.is_empty() {
                        self.entries.remove(&key);
                    }
                }
            }
        }
    }

    fn write(&mut self, writes: Vec<WalWrite>, segment: usize, offset: u64) {
        // Go decodes the entry into a map: a repeated key keeps its last copy only.
        let mut last: HashMap<&[u8], usize> = HashMap::new();
        for (i, w) in writes.iter().enumerate() {
            last.insert(&w.key, i);
        }
        let keep: Vec<bool> = (0..writes.len())
            .map(|i| last.get(&writes[i].key[..]) == Some(&i))
            .collect();
        drop(last);
        for (w, keep) in writes.into_iter().zip(keep) {
            if !keep || w.timestamps.is_empty() {
                continue;
            }
            let Some(entry) = self.entries.get_mut(&w.key) else {
                let entry = CacheEntry {
                    timestamps: w.timestamps,
                    values: w.values,
                };
                self.entries.insert(w.key, entry);
                continue;
            };
            let (cached, written) = (entry.field_type(), w.values.field_type());
            if cached != written {
                let points = w.timestamps.len();
                let kind = ReplayProblemKind::TypeConflict {
                    key: w.key,
                    cached,
                    written,
                    points,
                };
                self.problems.push(ReplayProblem {
                    segment,
                    offset,
                    kind,
                });
                continue;
            }
            entry.timestamps.extend_from_slice(&w.timestamps);
            append(&mut entry.values, w.values);
        }
    }

    /// Sorts every key's points by time and keeps the last arrival of each timestamp.
    pub fn finish(self) -> (Cache, Vec<ReplayProblem>) {
        let entries = self
            .entries
            .into_iter()
            .map(|(key, mut entry)| {
                sort_dedup(&mut entry);
                (key, entry)
            })
            .collect();
        (Cache { entries }, self.problems)
    }
}

/// Appends `src` to `dst`; both have the same type (checked by the caller).
fn append(dst: &mut Values, src: Values) {
    match (dst, src) {
        (Values::Float(a), Values::Float(b)) => a.extend(b),
        (Values::Integer(a), Values::Integer(b)) => a.extend(b),
        (Values::Unsigned(a), Values::Unsigned(b)) => a.extend(b),
        (Values::Boolean(a), Values::Boolean(b)) => a.extend(b),
        (Values::String(a), Values::String(b)) => b.iter().for_each(|s| a.push(s)),
        _ => debug_assert!(false, "append of mismatched types"),
    }
}

/// The values at positions `idx`, in that order.
fn gather(values: &Values, idx: &[usize]) -> Values {
    fn pick<T: Copy>(v: &[T], idx: &[usize]) -> Vec<T> {
        idx.iter().filter_map(|&i| v.get(i).copied()).collect()
    }
    match values {
        Values::Float(v) => Values::Float(pick(v, idx)),
        Values::Integer(v) => Values::Integer(pick(v, idx)),
        Values::Unsigned(v) => Values::Unsigned(pick(v, idx)),
        Values::Boolean(v) => Values::Boolean(pick(v, idx)),
        Values::String(v) => {
            Values::String(idx.iter().filter_map(|&i| v.get(i)).collect::<Strings>())
        }
    }
}

fn select(entry: &mut CacheEntry, idx: &[usize]) {
    entry.timestamps = idx
        .iter()
        .filter_map(|&i| entry.timestamps.get(i).copied())
        .collect();
    entry.values = gather(&entry.values, idx);
}

/// Keeps the points whose timestamp passes `keep`, in order.
fn retain(entry: &mut CacheEntry, keep: impl Fn(i64) -> bool) {
    if entry.timestamps.iter().all(|&t| keep(t)) {
        return;
    }
    let idx: Vec<usize> = (0..entry.len())
        .filter(|&i| keep(entry.timestamps[i]))
        .collect();
    select(entry, &idx);
}

/// Stable sort by time, then the last of each run of equal timestamps: the later
/// arrival wins, as in `Values.Deduplicate`.
fn sort_dedup(entry: &mut CacheEntry) {
    if entry.timestamps.windows(2).all(|w| w[0] < w[1]) {
        return;
    }
    let ts = &entry.timestamps;
    let mut idx: Vec<usize> = (0..ts.len()).collect();
    idx.sort_by_key(|&i| ts[i]);
    let mut keep: Vec<usize> = Vec::with_capacity(idx.len());
    for &i in &idx {
        match keep.last_mut() {
            Some(last) if ts[*last] == ts[i] => *last = i,
            _ => keep.push(i),
        }
    }
    select(entry, &keep);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::wal::WalSegmentWriter;
    use proptest::prelude::*;

    fn w(key: &str, ts: &[i64], values: Values) -> WalWrite {
        WalWrite {
            key: key.as_bytes().to_vec(),
            timestamps: ts.to_vec(),
            values,
        }
    }

    fn floats(ts: &[i64], v: &[f64]) -> CacheEntry {
        CacheEntry {
            timestamps: ts.to_vec(),
            values: Values::Float(v.to_vec()),
        }
    }

    fn seg(entries: &[WalEntry]) -> Vec<u8> {
        let mut s = WalSegmentWriter::new();
        entries.iter().for_each(|e| {
            s.entry(e);
        });
        s.finish()
    }

    fn replay(segments: &[Vec<u8>]) -> (Cache, Vec<ReplayProblem>) {
        Cache::replay(segments.iter().map(Vec::as_slice), &Limits::default())
    }

    #[test]
    fn later_arrival_wins_and_points_sort() {
        let a = seg(&[
            WalEntry::Write(vec![w("k", &[5, 1, 5], Values::Float(vec![1.0, 2.0, 3.0]))]),
            WalEntry::Write(vec![w("k", &[1, 9], Values::Float(vec![4.0, 5.0]))]),
        ]);
        let b = seg(&[WalEntry::Write(vec![w(
            "k",
            &[9],
            Values::Float(vec![6.0]),
        )])]);
        let (cache, problems) = replay(&[a, b]);
        assert!(problems.is_empty());
        assert_eq!(cache.get(b"k"), Some(&floats(&[1, 5, 9], &[4.0, 3.0, 6.0])));
        assert_eq!(cache.value_count(), 3);
    }

    #[test]
    fn delete_range_hits_only_earlier_points_of_exact_keys() {
        let s = seg(&[
            WalEntry::Write(vec![
                w(
                    "cpu#!~#a",
                    &[1, 2, 3, 4],
                    Values::Float(vec![1.0, 2.0, 3.0, 4.0]),
                ),
                w("cpu#!~#ab", &[2], Values::Float(vec![9.0])),
                w("cpu#!~#b", &[2, 3], Values::Float(vec![7.0, 8.0])),
            ]),
            WalEntry::DeleteRange {
                min_time: 2,
                max_time: 3,
                keys: vec![
                    b"cpu#!~#a".to_vec(),
                    b"cpu#!~#b".to_vec(),
                    b"absent".to_vec(),
                ],
            },
            WalEntry::Write(vec![w("cpu#!~#a", &[3], Values::Float(vec![30.0]))]),
        ]);
        let (cache, problems) = replay(&[s]);
        assert!(problems.is_empty());
        assert_eq!(
            cache.get(b"cpu#!~#a"),
            Some(&floats(&[1, 3, 4], &[1.0, 30.0, 4.0]))
        );
        assert_eq!(cache.get(b"cpu#!~#ab"), Some(&floats(&[2], &[9.0])));
        // Emptied by the range: the key is gone, so a later write may change its type.
        assert_eq!(cache.get(b"cpu#!~#b"), None);
        assert_eq!(
            cache.keys().collect::<Vec<_>>(),
            vec![&b"cpu#!~#a"[..], b"cpu#!~#ab"]
        );
    }

    #[test]
    fn delete_range_spans_segments_and_inverted_range_deletes_nothing() {
        let a = seg(&[WalEntry::Write(vec![w(
            "k",
            &[1, 2],
            Values::Integer(vec![1, 2]),
        )])]);
        let b = seg(&[
            WalEntry::DeleteRange {
                min_time: 2,
                max_time: 1,
                keys: vec![b"k".to_vec()],
            },
            WalEntry::DeleteRange {
                min_time: 2,
                max_time: 2,
                keys: vec![b"k".to_vec()],
            },
        ]);
        let (cache, _) = replay(&[a, b]);
        let want = CacheEntry {
            timestamps: vec![1],
            values: Values::Integer(vec![1]),
        };
        assert_eq!(cache.get(b"k"), Some(&want));
    }

    #[test]
    fn delete_removes_keys_and_resets_their_type() {
        let s = seg(&[
            WalEntry::Write(vec![
                w("a", &[1], Values::Float(vec![1.0])),
                w("b", &[1], Values::Boolean(vec![true])),
            ]),
            WalEntry::Delete {
                keys: vec![b"a".to_vec(), b"zz".to_vec()],
            },
            WalEntry::Write(vec![w("a", &[2], Values::Integer(vec![5]))]),
        ]);
        let (cache, problems) = replay(&[s]);
        assert!(problems.is_empty());
        let want = CacheEntry {
            timestamps: vec![2],
            values: Values::Integer(vec![5]),
        };
        assert_eq!(cache.get(b"a"), Some(&want));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn torn_tail_keeps_what_was_read_and_next_segment_still_applies() {
        let mut torn = WalSegmentWriter::new();
        torn.write(&[w("k", &[1], Values::Float(vec![1.0]))]);
        let good_end = torn.len() as u64;
        let next = seg(&[WalEntry::Write(vec![w(
            "k",
            &[2],
            Values::Float(vec![2.0]),
        )])]);
        torn.raw_bytes(&next[..next.len() - 1]);
        let (cache, problems) = replay(&[torn.finish(), next]);
        assert_eq!(cache.get(b"k"), Some(&floats(&[1, 2], &[1.0, 2.0])));
        assert_eq!(problems.len(), 1);
        assert_eq!((problems[0].segment, problems[0].offset), (0, good_end));
        assert!(matches!(problems[0].kind, ReplayProblemKind::Unreadable(_)));
        assert!(
            problems[0]
                .to_string()
                .contains("ignoring the segment from byte")
        );
    }

    #[test]
    fn type_conflict_keeps_first_type_and_other_keys() {
        let s = seg(&[
            WalEntry::Write(vec![w("k", &[1], Values::Unsigned(vec![1]))]),
            WalEntry::Write(vec![
                w("k", &[2], Values::Float(vec![2.0])),
                w("other", &[2], Values::Float(vec![2.0])),
            ]),
        ]);
        let (cache, problems) = replay(&[s]);
        let want = CacheEntry {
            timestamps: vec![1],
            values: Values::Unsigned(vec![1]),
        };
        assert_eq!(cache.get(b"k"), Some(&want));
        assert!(cache.get(b"other").is_some());
        assert_eq!(problems.len(), 1);
        assert!(matches!(
            &problems[0].kind,
            ReplayProblemKind::TypeConflict {
                cached: FieldType::Unsigned,
                written: FieldType::Float,
                points: 1,
                ..
            }
        ));
    }

    #[test]
    fn repeated_key_in_one_entry_keeps_last_copy() {
        let s = seg(&[WalEntry::Write(vec![
            w("k", &[1], Values::Float(vec![1.0])),
            w("k", &[2], Values::Integer(vec![2])),
        ])]);
        let (cache, problems) = replay(&[s]);
        assert!(problems.is_empty());
        let want = CacheEntry {
            timestamps: vec![2],
            values: Values::Integer(vec![2]),
        };
        assert_eq!(cache.get(b"k"), Some(&want));
    }

    #[test]
    fn strings_survive_delete_and_dedup() {
        let strings = |v: &[&str]| Values::String(v.iter().map(|s| s.as_bytes()).collect());
        let s = seg(&[
            WalEntry::Write(vec![w("s", &[3, 1, 2, 1], strings(&["c", "a", "b", "A"]))]),
            WalEntry::DeleteRange {
                min_time: 2,
                max_time: 2,
                keys: vec![b"s".to_vec()],
            },
        ]);
        let (cache, _) = replay(&[s]);
        let want = CacheEntry {
            timestamps: vec![1, 3],
            values: strings(&["A", "c"]),
        };
        assert_eq!(cache.get(b"s"), Some(&want));
    }

    /// The rules written the slow, obvious way: per key a list of (t, value, arrival).
    fn model(entries: &[WalEntry]) -> BTreeMap<Vec<u8>, Vec<(i64, i64)>> {
        let mut m: BTreeMap<Vec<u8>, Vec<(i64, i64)>> = BTreeMap::new();
        for e in entries {
            match e {
                WalEntry::Write(writes) => {
                    // A key repeated inside one entry: only its last copy counts.
                    let last: BTreeMap<&[u8], &WalWrite> =
                        writes.iter().map(|w| (&w.key[..], w)).collect();
                    for w in last.values() {
                        let Values::Integer(v) = &w.values else {
                            unreachable!()
                        };
                        let list = m.entry(w.key.clone()).or_default();
                        list.extend(w.timestamps.iter().copied().zip(v.iter().copied()));
                    }
                }
                WalEntry::Delete { keys } => keys.iter().for_each(|k| {
                    m.remove(k);
                }),
                WalEntry::DeleteRange {
                    min_time,
                    max_time,
                    keys,
                } => {
                    for k in keys {
                        if let Some(list) = m.get_mut(k) {
                            list.retain(|&(t, _)| t < *min_time || t > *max_time);
                            if list.is_empty() {
                                m.remove(k);
                            }
                        }
                    }
                }
            }
        }
        m.into_iter()
            .map(|(k, list)| {
                let mut out: BTreeMap<i64, i64> = BTreeMap::new();
                for (t, v) in list {
                    out.insert(t, v);
                }
                (k, out.into_iter().collect())
            })
            .collect()
    }

    fn arb_entry() -> impl Strategy<Value = WalEntry> {
        let key = || prop::sample::select(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        let write = (key(), prop::collection::vec((-5i64..5, any::<i64>()), 1..6)).prop_map(
            |(key, pts)| WalWrite {
                key,
                timestamps: pts.iter().map(|p| p.0).collect(),
                values: Values::Integer(pts.iter().map(|p| p.1).collect()),
            },
        );
        prop_oneof![
            4 => prop::collection::vec(write, 1..4).prop_map(WalEntry::Write),
            1 => prop::collection::vec(key(), 1..3).prop_map(|keys| WalEntry::Delete { keys }),
            2 => (-6i64..6, -6i64..6, prop::collection::vec(key(), 1..3)).prop_map(
                |(min_time, max_time, keys)| WalEntry::DeleteRange { min_time, max_time, keys }
            ),
        ]
    }

    proptest! {
        #[test]
        fn replay_matches_model(
            entries in prop::collection::vec(arb_entry(), 0..12),
            split in 0usize..12,
        ) {
            let split = split.min(entries.len());
            let segments = [seg(&entries[..split]), seg(&entries[split..])];
            let (cache, problems) = replay(&segments);
            prop_assert!(problems.is_empty());
            let got: BTreeMap<Vec<u8>, Vec<(i64, i64)>> = cache
                .iter()
                .map(|(k, e)| {
                    let Values::Integer(v) = &e.values else { unreachable!() };
                    (k.to_vec(), e.timestamps.iter().copied().zip(v.iter().copied()).collect())
                })
                .collect();
            prop_assert_eq!(got, model(&entries));
        }

        #[test]
        fn replay_of_garbage_never_panics(
            a in prop::collection::vec(any::<u8>(), 0..200),
            b in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let limits = Limits::default().max_decompressed_bytes(1 << 16);
            let (cache, problems) = Cache::replay([&a[..], &b[..]], &limits);
            let unreadable = problems
                .iter()
                .filter(|p| matches!(p.kind, ReplayProblemKind::Unreadable(_)))
                .count();
            prop_assert!(unreadable <= 2);
            for (_, e) in cache.iter() {
                prop_assert!(!e.is_empty());
                prop_assert_eq!(e.timestamps.len(), e.values.len());
                prop_assert!(e.timestamps.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }
}
