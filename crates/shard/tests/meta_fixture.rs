//! The fixture's meta store against its directory tree.

use influx_tsm_shard::layout::scan;
use influx_tsm_shard::meta::{ShardStatus, decode_meta};

#[test]
fn fixture_meta_lists_every_shard_folder() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/small-a/influxdb");
    let meta = decode_meta(&std::fs::read(root.join("meta/meta.db")).unwrap()).unwrap();
    let layout = scan(&root.join("data"), Some(&root.join("wal"))).unwrap();
    for shard in &layout.shards {
        assert_eq!(
            meta.shard_status(&shard.database, &shard.retention_policy, shard.id),
            ShardStatus::Live,
            "{shard:?}"
        );
    }
    let hourly = &meta.database("airq").unwrap().retention_policies[1];
    assert_eq!(
        (hourly.name.as_str(), hourly.shard_group_duration),
        ("hourly", 7 * 86_400_000_000_000)
    );
}
