//! A measurement of many series is written in parts by several workers and joined into its
//! one file: the same rows in the same order as one piece, whatever the thread count.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use influx_tsm_export::{NoProgress, Options, OutDir, Plan, ShardResult, export};
use influx_tsm_shard::testkit::tsm::TsmWriter;
use influx_tsm_shard::values::Values;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const SERIES: usize = 20_000;

/// `data/db/rp/1/` with two TSM files: 20,000 series of `m` (tags host and, for every
/// third series, rack; fields `n` integer and `v` float, 2 points each), and a newer file
/// overwriting some points and adding a series.
fn make_dir(root: &Path) -> PathBuf {
    let shard = root.join("data/db/rp/1");
    std::fs::create_dir_all(&shard).unwrap();
    let mut keys: Vec<(Vec<u8>, usize)> = Vec::new();
    for i in 0..SERIES {
        let series = if i % 3 == 0 {
            format!("m,host=h{i:05},rack=r{}", i % 7)
        } else {
            format!("m,host=h{i:05}")
        };
        keys.push((format!("{series}#!~#n").into_bytes(), i));
        keys.push((format!("{series}#!~#v").into_bytes(), i));
    }
    keys.sort();
    let mut w = TsmWriter::new();
    for (key, i) in &keys {
        let t = [*i as i64 * 10, *i as i64 * 10 + 5];
        let values = if key.ends_with(b"#!~#n") {
            Values::Integer(vec![*i as i64, -(*i as i64)])
        } else {
            Values::Float(vec![*i as f64 * 0.25, 1e300])
        };
        w.write_block(key, &t, &values);
    }
    std::fs::write(shard.join("000000001-000000001.tsm"), w.finish()).unwrap();
    let mut w = TsmWriter::new();
    w.write_block(b"m,host=h00007#!~#v", &[75], &Values::Float(vec![-1.5]));
    w.write_block(b"m,host=zzz#!~#n", &[1], &Values::Integer(vec![42]));
    std::fs::write(shard.join("000000002-000000001.tsm"), w.finish()).unwrap();
    root.join("data")
}

fn run(
    data: &Path,
    out: &Path,
    series_per_part: Option<usize>,
    threads: usize,
) -> Vec<ShardResult> {
    let mut builder = Options::builder(data, out);
    if let Some(n) = series_per_part {
        builder = builder.series_per_part(n);
    }
    let options = builder.build().unwrap();
    let plan = Plan::new(&options).unwrap();
    let dir = OutDir::prepare(&options).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| export(&options, &plan, &dir, &NoProgress))
        .unwrap()
}

/// The whole file as one batch, and its row group sizes.
fn read(path: &Path) -> (RecordBatch, Vec<i64>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let groups = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect();
    let mut batches: Vec<RecordBatch> = builder
        .with_batch_size(1 << 24)
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(batches.len(), 1);
    (batches.remove(0), groups)
}

/// Every file name under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn parts_joined_equal_one_piece() {
    let tmp = tempfile::tempdir().unwrap();
    let data = make_dir(&tmp.path().join("in"));
    let whole_dir = tmp.path().join("whole");
    let split_dir = tmp.path().join("split");
    let whole = run(&data, &whole_dir, None, 2);
    let split = run(&data, &split_dir, Some(SERIES / 4), 2);

    let (w, s) = (&whole[0].manifest.files, &split[0].manifest.files);
    assert_eq!(w.len(), 1);
    assert_eq!(s.len(), 1);
    assert_eq!((w[0].rows, w[0].values), (s[0].rows, s[0].values));
    assert_eq!(w[0].rows, 2 * SERIES as u64 + 1);
    assert_eq!(files(&whole_dir), files(&split_dir), "no part left behind");

    let (whole_batch, whole_groups) = read(&whole_dir.join(&w[0].path));
    let (split_batch, split_groups) = read(&split_dir.join(&s[0].path));
    assert_eq!(whole_batch.schema(), split_batch.schema());
    assert_eq!(whole_batch, split_batch, "the same rows in the same order");
    assert_eq!(whole_groups.len(), 1);
    assert!(split_groups.len() >= 3, "cut into parts: {split_groups:?}");

    // The cut depends on the data, not on the threads: one thread writes the same bytes.
    let one_thread_dir = tmp.path().join("one");
    let one = run(&data, &one_thread_dir, Some(SERIES / 4), 1);
    let path = &one[0].manifest.files[0].path;
    assert_eq!(
        std::fs::read(one_thread_dir.join(path)).unwrap(),
        std::fs::read(split_dir.join(&s[0].path)).unwrap()
    );
}
