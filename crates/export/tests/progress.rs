//! What an [`Observer`] hears of an export of `fixtures/small-a`: every shard's schemas
//! read before anything is written (Parquet only), each shard started and finished once,
//! and as many values as the server holds (the oracle's count); a resumed export hears of
//! every shard again, kept ones included. Before all of it, the plan's size, which for a
//! cluster node is its share.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use influx_tsm_export::{Done, Format, Job, NoProgress, Observer, Options, OutMode, Plan};
use influx_tsm_shard::layout::ShardLocation;

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Planned(usize, u64),
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
    fn planned(&self, shards: usize, bytes: u64) {
        self.push(Event::Planned(shards, bytes));
    }

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
    let mut plan = Plan::new(&options).unwrap();
    let recorder = Recorder::default();
    let done = Job::Export.run(&pool(), &options, &mut plan, &recorder);
    assert!(matches!(done, Ok(Done::Exported(_))), "{done:?}");
    let mut events = recorder.events();
    // The plan's size first, then nothing of it again.
    assert_eq!(
        events.remove(0),
        Event::Planned(plan.shards.len(), plan.bytes())
    );
    assert!(!events.iter().any(|e| matches!(e, Event::Planned(..))));
    let mut ids: Vec<u64> = plan.shards.iter().map(|s| s.location.id).collect();
    ids.sort();
    (events, ids)
}

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
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

#[test]
fn a_cluster_node_hears_of_its_share_only() {
    // Two nodes holding the same shards (each shard replicated on both): once both have
    // registered, each exports a share, and its observer is told that share's size.
    let out = tempfile::tempdir().unwrap();
    let dir = fixture();
    let options = |node: &str| {
        Options::builder(dir.join("data"), out.path())
            .wal_dir(dir.join("wal"))
            .node(Some(node.to_string()))
            .build()
            .unwrap()
    };
    for node in ["node-a", "node-b"] {
        let options = options(node);
        let mut plan = Plan::new(&options).unwrap();
        let done = Job::Register.run(&pool(), &options, &mut plan, &NoProgress);
        assert!(matches!(done, Ok(Done::Registered(_))), "{done:?}");
    }
    let options = options("node-a");
    let mut plan = Plan::new(&options).unwrap();
    let (whole, whole_bytes) = (plan.shards.len(), plan.bytes());
    let recorder = Recorder::default();
    let done = Job::Export.run(&pool(), &options, &mut plan, &recorder);
    assert!(matches!(done, Ok(Done::Exported(_))), "{done:?}");
    let share = plan.shards.len();
    assert!(0 < share && share < whole, "{share} of {whole} shards");
    assert!(plan.bytes() < whole_bytes);
    assert_eq!(
        recorder.events().first(),
        Some(&Event::Planned(share, plan.bytes()))
    );
}

#[test]
fn a_dry_run_writes_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("out");
    let dir = fixture();
    let options = Options::builder(dir.join("data"), &out)
        .wal_dir(dir.join("wal"))
        .build()
        .unwrap();
    let mut plan = Plan::new(&options).unwrap();
    let recorder = Recorder::default();
    match Job::DryRun.run(&pool(), &options, &mut plan, &recorder) {
        Ok(Done::DryRun(dry_run)) => assert_eq!(dry_run.shards.len(), plan.shards.len()),
        other => panic!("{other:?}"),
    }
    assert!(!out.exists());
    assert_eq!(recorder.events(), Vec::new());
}
