//! Property test: the shard streams its keys from the indexes instead of holding a key
//! table; its measurements, problems and rows must equal those of the table-based
//! reference kept here (every key collected and sorted, sources resolved per key, series
//! grouped per measurement), on shards whose measurement names interleave in key order
//! (`cpu#!~#`, `cpu$x`, `cpu,` sort apart; `a b` and `a\ b` are one measurement with
//! `a c` between them), with type conflicts, tombstones, a WAL and keys without a field.
//! Row ranges cut at arbitrary series ([`Shard::rows_between`]) must concatenate to the
//! whole, and so must the shard opened with its keys scanned in ranges on several threads.

use std::collections::{BTreeMap, BTreeSet};

use influx_tsm_shard::cache::Cache;
use influx_tsm_shard::file::TsmFile;
use influx_tsm_shard::key::{SeriesKey, measurement_of, split_composite, unescape};
use influx_tsm_shard::merge::{BlockSource, KeyMerger};
use influx_tsm_shard::rows::{FieldSchema, MeasurementSchema, RowBatch};
use influx_tsm_shard::shard::{Shard, ShardOpening, ShardOptions, TimeRange};
use influx_tsm_shard::source::{FileSource, ShardFiles, TsmSource};
use influx_tsm_shard::testkit::finish_on_threads;
use influx_tsm_shard::testkit::tombstone::write_v4;
use influx_tsm_shard::testkit::tsm::TsmWriter;
use influx_tsm_shard::testkit::wal::WalSegmentWriter;
use influx_tsm_shard::tombstone::{Tombstone, TombstoneSet, decode_tombstones};
use influx_tsm_shard::wal::WalWrite;
use influx_tsm_shard::{FieldType, Limits, Values};
use proptest::prelude::*;

/// Sorted bytewise (the writer needs ascending keys).
fn keys() -> Vec<&'static [u8]> {
    let mut keys: Vec<&[u8]> = vec![
        b"cpu#!~#f",
        b"cpu#!~#g",
        b"cpu$x#!~#f",
        b"cpu$x,t=1#!~#f",
        b"cpu,t=1#!~#f",
        b"cpu,t=1#!~#g",
        b"cpu,t=1\x01#!~#f",
        b"cpu,t=2#!~#f",
        b"cpu,t=2,u=z#!~#g",
        br"cp\,u#!~#f",
        br"cp\,u,t=1#!~#f",
        b"a b,t=1#!~#f",
        b"a c#!~#f",
        br"a\ b,t=2#!~#f",
        br"a\ b,u=1#!~#g",
        b"nosep",
        b"cpu,t=3#!~#f#!~#x",
    ];
    keys.sort();
    keys
}

/// Series keys to cut at: those of the keys and a few in between.
fn bounds() -> Vec<Vec<u8>> {
    let mut b: Vec<Vec<u8>> = keys()
        .iter()
        .filter_map(|k| split_composite(k).map(|(s, _)| s.to_vec()))
        .collect();
    b.extend([
        b"cpu,t=0".to_vec(),
        b"cpu,t=1z".to_vec(),
        b"a".to_vec(),
        b"zz".to_vec(),
    ]);
    b.sort_by(|x, y| cmp_series(x, y));
    b.dedup();
    b
}

fn cmp_series(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let sep: &[u8] = b"#!~#";
    a.iter().chain(sep).cmp(b.iter().chain(sep))
}

fn values(ty: bool, v: &[i64]) -> Values {
    if ty {
        Values::Integer(v.to_vec())
    } else {
        Values::Float(v.iter().map(|&x| x as f64).collect())
    }
}

/// Per key index: (integer type?, points).
type KeySpecs = Vec<(usize, bool, Vec<i64>)>;

#[derive(Clone, Debug)]
struct FileSpec {
    keys: KeySpecs,
    tombstones: Vec<(usize, i64, i64)>,
}

fn file_spec() -> impl Strategy<Value = FileSpec> {
    let n = keys().len();
    (
        prop::collection::vec(
            (
                0..n,
                prop::bool::weighted(0.15),
                prop::collection::vec(0i64..12, 1..5),
            ),
            0..10,
        ),
        prop::collection::vec((0..n, 0i64..12, 0i64..8), 0..3),
    )
        .prop_map(|(keys, t)| FileSpec {
            keys,
            tombstones: t
                .into_iter()
                .map(|(k, lo, len)| (k, lo, lo + len))
                .collect(),
        })
}

fn wal_spec() -> impl Strategy<Value = KeySpecs> {
    let n = keys().len();
    prop::collection::vec(
        (
            0..n,
            prop::bool::weighted(0.15),
            prop::collection::vec(0i64..12, 1..4),
        ),
        0..5,
    )
}

struct Built {
    tsm: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    wal: Option<Vec<u8>>,
}

fn build(files: &[FileSpec], wal: &[(usize, bool, Vec<i64>)]) -> Built {
    let keys = keys();
    let mut tsm = Vec::new();
    for f in files {
        let mut per_key: BTreeMap<usize, (bool, BTreeSet<i64>)> = BTreeMap::new();
        for (k, ty, points) in &f.keys {
            let e = per_key.entry(*k).or_insert((*ty, BTreeSet::new()));
            e.1.extend(points);
        }
        if per_key.is_empty() {
            continue;
        }
        let mut w = TsmWriter::new();
        for (k, (ty, points)) in per_key {
            let ts: Vec<i64> = points.into_iter().collect();
            let v: Vec<i64> = ts.iter().map(|t| t * 10 + k as i64).collect();
            // Two blocks when there are enough points, to exercise block order.
            let mid = ts.len() / 2;
            if mid > 0 && ts.len() > 2 {
                w.write_block(keys[k], &ts[..mid], &values(ty, &v[..mid]));
                w.write_block(keys[k], &ts[mid..], &values(ty, &v[mid..]));
            } else {
                w.write_block(keys[k], &ts, &values(ty, &v));
            }
        }
        let tomb = (!f.tombstones.is_empty()).then(|| {
            let t: Vec<Tombstone> = f
                .tombstones
                .iter()
                .map(|&(k, lo, hi)| Tombstone {
                    key: keys[k].to_vec(),
                    min_time: lo,
                    max_time: hi,
                })
                .collect();
            write_v4(&[&t])
        });
        tsm.push((w.finish(), tomb));
    }
    let wal = (!wal.is_empty()).then(|| {
        let mut w = WalSegmentWriter::new();
        for (k, ty, points) in wal {
            let v: Vec<i64> = points.iter().map(|t| t * 100 + *k as i64).collect();
            w.write(&[WalWrite {
                key: keys[*k].to_vec(),
                timestamps: points.clone(),
                values: values(*ty, &v),
            }]);
        }
        w.finish()
    });
    Built { tsm, wal }
}

/// Opens the shard, its keys scanned in key ranges of about `range_bytes` of index each
/// (`u64::MAX`: one pass), the ranges on threads of their own.
fn open(built: &Built, range_bytes: u64) -> Shard {
    let mut files = ShardFiles::new("shard");
    for (i, (tsm, tomb)) in built.tsm.iter().enumerate() {
        let mut source = TsmSource::new(
            FileSource::new(format!("{i}.tsm"), tsm.clone()),
            i as u64 + 1,
            1,
        );
        if let Some(t) = tomb {
            source = source.with_tombstone(FileSource::new(format!("{i}.tombstone"), t.clone()));
        }
        files = files.tsm(source);
    }
    if let Some(w) = &built.wal {
        files = files.wal(FileSource::new("_1.wal", w.clone()));
    }
    let opening = ShardOpening::new(files, &ShardOptions::default().verify_crc(true))
        .unwrap()
        .range_bytes(range_bytes);
    finish_on_threads(opening).unwrap()
}

/// A row: (series key, tags, time, one value per schema field).
/// Values by their debug form (a `Value` borrows its column).
type Row = (Vec<u8>, Vec<Option<Vec<u8>>>, i64, Vec<Option<String>>);

struct Reference {
    measurements: Vec<MeasurementSchema>,
    problems: Vec<String>,
    rows: Vec<Vec<Row>>,
    /// Per measurement, its series with a live key: counted from the index, so a series
    /// whose points are all deleted by tombstones that only together cover its blocks is
    /// counted and has no rows.
    series: Vec<usize>,
    key_count: usize,
}

/// The table-based algorithm the shard used before it streamed its keys.
fn reference(built: &Built) -> Reference {
    let limits = Limits::default();
    let parsed: Vec<TsmFile<'_>> = built
        .tsm
        .iter()
        .map(|(t, _)| TsmFile::parse(t).unwrap())
        .collect();
    let tombstones: Vec<TombstoneSet> = built
        .tsm
        .iter()
        .map(|(_, t)| {
            t.as_ref().map_or_else(TombstoneSet::default, |t| {
                TombstoneSet::new(decode_tombstones(t, &limits).unwrap())
            })
        })
        .collect();
    let names: Vec<std::path::PathBuf> = (0..parsed.len())
        .map(|i| format!("{i}.tsm").into())
        .collect();
    let (cache, _) = Cache::replay(built.wal.as_deref(), &limits);
    let mut all: BTreeMap<Vec<u8>, Vec<(usize, influx_tsm_shard::file::IndexEntry<'_>)>> =
        BTreeMap::new();
    for (i, f) in parsed.iter().enumerate() {
        for e in f.index() {
            let e = e.unwrap();
            all.entry(e.key.to_vec()).or_default().push((i, e));
        }
    }
    for k in cache.keys() {
        all.entry(k.to_vec()).or_default();
    }
    let mut problems = Vec::new();
    // (key, type, sources)
    let mut live_keys = Vec::new();
    for (key, sources) in &all {
        let live: Vec<_> = sources
            .iter()
            .filter(|(f, e)| {
                let r = tombstones[*f].ranges(key);
                let (min, max) = e.time_range();
                r.is_empty() || !r.iter().any(|&(lo, hi)| lo <= min && max <= hi)
            })
            .copied()
            .collect();
        let ty = cache
            .get(key)
            .map(|c| c.field_type())
            .or_else(|| live.last().map(|s| s.1.field_type));
        let Some(ty) = ty else { continue };
        let mut kept = Vec::new();
        for (f, e) in live {
            if e.field_type == ty {
                kept.push((f, e));
            } else {
                problems.push(format!(
                    "{}",
                    influx_tsm_shard::Error::new(influx_tsm_shard::ErrorKind::TypeConflict {
                        found: e.field_type,
                        kept: ty,
                        with: influx_tsm_shard::ConflictWith::NewerData,
                    })
                    .at(e.offset)
                    .for_key(key)
                    .in_file(&names[f])
                ));
            }
        }
        live_keys.push((key.clone(), ty, kept));
    }
    let key_count = live_keys.len();
    struct B<'k> {
        tags: BTreeSet<Vec<u8>>,
        fields: BTreeMap<Vec<u8>, FieldType>,
        series: Vec<(Vec<u8>, Vec<usize>)>,
        _k: std::marker::PhantomData<&'k ()>,
    }
    let mut by_name: BTreeMap<Vec<u8>, B<'_>> = BTreeMap::new();
    for (i, (key, ty, _)) in live_keys.iter().enumerate() {
        let shard_name = std::path::Path::new("shard");
        let Some((series, field)) = split_composite(key) else {
            problems.push(format!(
                "{}",
                influx_tsm_shard::Error::new(influx_tsm_shard::ErrorKind::MissingFieldSeparator)
                    .at(0)
                    .for_key(key)
                    .in_file(shard_name)
            ));
            continue;
        };
        let name = unescape(measurement_of(series), b", ");
        let b = by_name.entry(name).or_insert_with(|| B {
            tags: BTreeSet::new(),
            fields: BTreeMap::new(),
            series: Vec::new(),
            _k: std::marker::PhantomData,
        });
        let declared = *b.fields.entry(field.to_vec()).or_insert(*ty);
        if declared != *ty {
            problems.push(format!(
                "{}",
                influx_tsm_shard::Error::new(influx_tsm_shard::ErrorKind::TypeConflict {
                    found: *ty,
                    kept: declared,
                    with: influx_tsm_shard::ConflictWith::OtherSeries,
                })
                .at(0)
                .for_key(key)
                .in_file(shard_name)
            ));
            continue;
        }
        if b.series.last().is_none_or(|s| s.0 != series) {
            for (k, _) in SeriesKey::parse(series).tags_unescaped() {
                b.tags.insert(k);
            }
            b.series.push((series.to_vec(), Vec::new()));
        }
        b.series.last_mut().unwrap().1.push(i);
    }
    let mut measurements = Vec::new();
    let mut rows = Vec::new();
    let mut series_counts = Vec::new();
    for (name, b) in by_name {
        series_counts.push(b.series.len());
        let schema = MeasurementSchema {
            name,
            tag_keys: b.tags.into_iter().collect(),
            fields: b
                .fields
                .into_iter()
                .map(|(key, field_type)| FieldSchema { key, field_type })
                .collect(),
        };
        let mut m_rows = Vec::new();
        for (series, key_indexes) in &b.series {
            let mut tags = vec![None; schema.tag_keys.len()];
            for (k, v) in SeriesKey::parse(series).tags_unescaped() {
                if let Ok(i) = schema.tag_keys.binary_search(&k) {
                    tags[i] = Some(v);
                }
            }
            let mut by_time: BTreeMap<i64, Vec<Option<String>>> = BTreeMap::new();
            for &ki in key_indexes {
                let (key, ty, sources) = &live_keys[ki];
                let field = split_composite(key).unwrap().1;
                let fi = schema
                    .fields
                    .binary_search_by(|f| f.key.as_slice().cmp(field))
                    .unwrap();
                let mut blocks = Vec::new();
                for &(f, e) in sources {
                    for (bi, block) in e.blocks().enumerate() {
                        blocks.push(BlockSource {
                            file: parsed[f],
                            entry: block,
                            priority: ((f as u64) << 32) | bi as u64,
                            tombstones: tombstones[f].ranges(key),
                            path: &names[f],
                        });
                    }
                }
                let c = cache.get(key).map(|c| (c.timestamps.as_slice(), &c.values));
                let mut merger =
                    KeyMerger::new(*ty, blocks, c, TimeRange::ALL, ShardOptions::default());
                let (mut ts, mut vs) = (Vec::new(), Values::new(*ty));
                while merger.next_chunk(&mut ts, &mut vs).unwrap() {
                    for (j, &t) in ts.iter().enumerate() {
                        by_time
                            .entry(t)
                            .or_insert_with(|| vec![None; schema.fields.len()])[fi] =
                            vs.get(j).map(|v| format!("{v:?}"));
                    }
                }
            }
            for (t, v) in by_time {
                m_rows.push((series.clone(), tags.clone(), t, v));
            }
        }
        measurements.push(schema);
        rows.push(m_rows);
    }
    Reference {
        measurements,
        problems,
        rows,
        series: series_counts,
        key_count,
    }
}

fn collect(
    shard: &Shard,
    m: usize,
    from: Option<&[u8]>,
    to: Option<&[u8]>,
    max_rows: usize,
) -> Vec<Row> {
    let schema = &shard.measurements()[m];
    let mut out = Vec::new();
    let mut stream = shard.rows_between(m, TimeRange::ALL, from, to);
    let mut batch = RowBatch::new(schema);
    while stream.next_batch(&mut batch, max_rows, usize::MAX).unwrap() {
        let mut row = 0;
        for run in &batch.series {
            for r in row..row + run.rows {
                let v = batch
                    .fields
                    .iter()
                    .map(|c| c.valid[r].then(|| format!("{:?}", c.values.get(r).unwrap())))
                    .collect();
                let run = run.to_owned();
                out.push((run.key, run.tags, batch.time[r], v));
            }
            row += run.rows;
        }
    }
    out
}

/// The specs with every value a float and the key without a field left out.
fn make_clean(files: Vec<FileSpec>, wal: KeySpecs) -> (Vec<FileSpec>, KeySpecs) {
    let nosep = keys().iter().position(|k| *k == b"nosep").expect("nosep");
    let clean = |keys: KeySpecs| -> KeySpecs {
        keys.into_iter()
            .filter(|(k, _, _)| *k != nosep)
            .map(|(k, _, points)| (k, false, points))
            .collect()
    };
    let files = files
        .into_iter()
        .map(|f| FileSpec {
            keys: clean(f.keys),
            tombstones: f.tombstones,
        })
        .collect();
    (files, clean(wal))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn streamed_keys_equal_the_key_table(
        files in prop::collection::vec(file_spec(), 0..4),
        wal in wal_spec(),
        max_rows in prop_oneof![Just(1usize), Just(2), Just(1000)],
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        range_bytes in prop_oneof![Just(u64::MAX), 1u64..200],
        clean in any::<bool>(),
    ) {
        // Clean shards (one type, every key with a field) are the ones whose key ranges'
        // scans are joined rather than redone in one pass.
        let (files, wal) = if clean { make_clean(files, wal) } else { (files, wal) };
        let built = build(&files, &wal);
        let expected = reference(&built);
        let shard = open(&built, range_bytes);
        prop_assert_eq!(shard.measurements(), expected.measurements.as_slice());
        let problems: Vec<String> = shard
            .problems()
            .iter()
            .filter(|p| p.kind == influx_tsm_shard::shard::ProblemKind::Conflict)
            .map(|p| p.error.to_string())
            .filter(|p| !p.contains("_1.wal"))
            .collect();
        prop_assert_eq!(problems, expected.problems);
        prop_assert_eq!(shard.key_count(), expected.key_count);
        let bounds = bounds();
        let mut cuts: Vec<&[u8]> = cuts.iter().map(|i| bounds[i.index(bounds.len())].as_slice()).collect();
        cuts.sort_by(|a, b| cmp_series(a, b));
        cuts.dedup();
        for (m, rows) in expected.rows.iter().enumerate() {
            let series: BTreeSet<&[u8]> = rows.iter().map(|r| r.0.as_slice()).collect();
            prop_assert_eq!(shard.series_count(m), expected.series[m]);
            prop_assert!(series.len() <= expected.series[m]);
            let got = collect(&shard, m, None, None, max_rows);
            prop_assert_eq!(&got, rows);
            let mut pieces = Vec::new();
            let mut from = None;
            for &cut in &cuts {
                pieces.extend(collect(&shard, m, from, Some(cut), max_rows));
                from = Some(cut);
            }
            pieces.extend(collect(&shard, m, from, None, max_rows));
            prop_assert_eq!(&pieces, rows);
        }
    }
}

/// A measurement of 20,000 series in one file and a few in a second: `split_series` cuts
/// it into shares of similar size whose rows concatenate to the whole.
#[test]
fn split_series_cuts_into_shares() {
    let mut w = TsmWriter::new();
    let mut keys: Vec<Vec<u8>> = (0..20_000)
        .map(|i| format!("m,host=h{i:05}#!~#v").into_bytes())
        .collect();
    keys.sort();
    for (i, k) in keys.iter().enumerate() {
        w.write_block(k, &[i as i64, i as i64 + 1], &Values::Integer(vec![1, 2]));
    }
    let mut w2 = TsmWriter::new();
    w2.write_block(b"m,host=h00007#!~#v", &[1], &Values::Integer(vec![9]));
    w2.write_block(b"m,host=zzz#!~#v", &[5], &Values::Integer(vec![3]));
    let shard = Shard::open_from(
        ShardFiles::new("s")
            .tsm(TsmSource::new(FileSource::new("1.tsm", w.finish()), 1, 1))
            .tsm(TsmSource::new(FileSource::new("2.tsm", w2.finish()), 2, 1)),
        &ShardOptions::default(),
    )
    .unwrap();
    assert_eq!(shard.series_count(0), 20_001);
    let whole = collect(&shard, 0, None, None, 777);
    assert_eq!(whole.len(), 40_002);
    for parts in [1, 2, 3, 4, 7] {
        let cuts = shard.split_series(0, parts);
        if parts <= 4 {
            assert_eq!(cuts.len(), parts - 1, "{parts}");
        }
        assert!(cuts.len() < parts, "{parts}");
        assert!(cuts.windows(2).all(|w| cmp_series(&w[0], &w[1]).is_lt()));
        let mut pieces = Vec::new();
        let mut sizes = Vec::new();
        let mut from: Option<&[u8]> = None;
        for cut in cuts.iter().map(Vec::as_slice).map(Some).chain([None]) {
            let piece = collect(&shard, 0, from, cut, 777);
            sizes.push(piece.len());
            pieces.extend(piece);
            from = cut;
        }
        assert_eq!(pieces, whole, "{parts}");
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= 2 * 4096 * 2 + 2, "{parts}: {sizes:?}");
    }
    assert!(shard.split_series(1, 4).is_empty());
}
