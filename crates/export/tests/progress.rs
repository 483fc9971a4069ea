//! What an [`Observer`] hears of an export of `fixtures/small-a`: every shard's schemas
//! read before anything is written (Parquet only), each shard started and finished once,
//! and as many values as the server holds (the oracle's count); a resumed export hears of
//! every shard again, kept ones included.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use influx_tsm_export::{Format, Observer, Options, OutDir, OutMode, Plan, export};
use influx_tsm_shard::layout::ShardLocation;

#[derive(Debug, PartialEq, Eq)]
enum Event {
    SchemaRead(u64),
    Started(u64),
    Values(u64),
    Finished(u64),
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl Recorder {
    fn push(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }

    fn events(self) -> Vec<Event> {
        self.0.into_inner().unwrap()
    }
}

impl Observer for Recorder {
    fn schema_read(&self, shard: &ShardLocation) {
        self.push(Event::SchemaRead(shard.id));
    }

    fn shard_started(&self, shard: &ShardLocation) {
        self.push(Event::Started(shard.id));
    }

    fn values_written(&self, values: u64) {
        self.push(Event::Values(values));
    }

    fn shard_finished(&self, shard: &ShardLocation, _bytes: u64) {
        self.push(Event::Finished(shard.id));
    }
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/small-a/influxdb")
}

/// The values the server holds for the fixture (its oracle's count).
fn oracle_values() -> usize {
    let oracle = influx_tsm_shard::testkit::oracle::load(&fixture().join(".."));
    oracle.values().map(|fields| fields.len()).sum()
}

fn run(out: &Path, format: Format, resume: bool) -> (Vec<Event>, Vec<u64>) {
    let dir = fixture();
    let mut builder = Options::builder(dir.join("data"), out)
        .wal_dir(dir.join("wal"))
        .format(format);
    if resume {
        builder = builder.mode(OutMode::Resume);
    }
    let options = builder.build().unwrap();
    let plan = Plan::new(&options).unwrap();
    let out_dir = OutDir::prepare(&options).unwrap();
    let recorder = Recorder::default();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| export(&options, &plan, &out_dir, &recorder))
        .unwrap();
    let mut ids: Vec<u64> = plan.shards.iter().map(|s| s.location.id).collect();
    ids.sort();
    (recorder.events(), ids)
}

fn ids(events: &[Event], pick: impl Fn(&Event) -> Option<u64>) -> Vec<u64> {
    let mut ids: Vec<u64> = events.iter().filter_map(pick).collect();
    ids.sort();
    ids
}

fn values(events: &[Event]) -> usize {
    events
        .iter()
        .map(|e| match e {
            Event::Values(n) => *n as usize,
            _ => 0,
        })
        .sum()
}

#[test]
fn parquet_reads_every_schema_before_it_writes() {
    let out = tempfile::tempdir().unwrap();
    let (events, shards) = run(out.path(), Format::Parquet, false);
    assert!(shards.len() > 1);
    let schema_reads = ids(&events, |e| match e {
        Event::SchemaRead(id) => Some(*id),
        _ => None,
    });
    assert_eq!(schema_reads, shards);
    // Every schema is read before anything else happens.
    let first_other = events
        .iter()
        .position(|e| !matches!(e, Event::SchemaRead(_)))
        .expect("the export wrote something");
    assert_eq!(first_other, shards.len());
    let started = ids(&events, |e| match e {
        Event::Started(id) => Some(*id),
        _ => None,
    });
    let finished = ids(&events, |e| match e {
        Event::Finished(id) => Some(*id),
        _ => None,
    });
    assert_eq!(started, shards);
    assert_eq!(finished, shards);
    assert_eq!(values(&events), oracle_values());

    // Resumed with everything done: every shard's schema and end are heard of again,
    // nothing is written.
    let (again, _) = run(out.path(), Format::Parquet, true);
    let schema_reads = ids(&again, |e| match e {
        Event::SchemaRead(id) => Some(*id),
        _ => None,
    });
    assert_eq!(schema_reads, shards);
    let finished = ids(&again, |e| match e {
        Event::Finished(id) => Some(*id),
        _ => None,
    });
    assert_eq!(finished, shards);
    assert_eq!(values(&again), 0);
}

#[test]
fn line_protocol_reads_no_schemas() {
    let out = tempfile::tempdir().unwrap();
    let (events, shards) = run(out.path(), Format::Lp, false);
    assert!(!events.iter().any(|e| matches!(e, Event::SchemaRead(_))));
    let finished = ids(&events, |e| match e {
        Event::Finished(id) => Some(*id),
        _ => None,
    });
    assert_eq!(finished, shards);
    assert_eq!(values(&events), oracle_values());
}
