//! A cluster export: every data node of an InfluxDB cluster (InfluxDB Enterprise: each
//! node has its own `/var/lib/influxdb`, and a shard may be held by several of them)
//! exports its own folder into one output, and the output is that of one export of all
//! the cluster's shards.
//!
//! Two steps, each run on every node with the same options and its own `--node` name:
//!
//! 1. [`register`]: the node records the shards it holds (ids and bytes) and the schemas
//!    of their measurements in `OUT/.influx-tsm/nodes/<node>.json`. Nothing else is
//!    written; registering again replaces the record.
//! 2. [`assign`], then [`crate::export`]: the first node to start fixes the export from
//!    every registration: its shares (`OUT/.influx-tsm/cluster.json`, each shard dealt to
//!    exactly one of the nodes holding it, largest first onto the holder with the fewest
//!    bytes so far) and its tables (the union of every node's schemas, so every node
//!    writes a measurement's files with one schema). Each node then writes only its
//!    share; a shard held here but dealt to another node (a replica) is left to that
//!    node and listed in the report. A shard finished by any earlier run is kept, so a
//!    re-run (after a node died, say) writes only what is missing, and a re-run of a
//!    finished node writes nothing. The node that finds every shard of the export
//!    finished writes `manifest.json` for the whole export.
//!
//! Step 2 starts after step 1 has finished on every node: once the shares are fixed, a
//! node that registers is refused, and so is a node that did not register before.

use std::collections::{BTreeMap, HashMap};

use influx_tsm_shard::rows::MeasurementSchema;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::destination::STATE_DIR;
use crate::destination::state::{OutDir, to_json};
use crate::error::{Error, InternalError, OutDirError, Result};
use crate::plan::Plan;
use crate::plan::options::{Format, Options};
use crate::plan::shards::ElsewhereShard;
use crate::plan::tables::Tables;
use crate::run::{guarded, shard_schemas};
use crate::shard::ShardId;

/// Folder of the registrations, under the state folder.
const NODES_DIR: &str = "nodes";
/// The fixed shares, in the state folder.
const SHARES_FILE: &str = "cluster.json";
const VERSION: u32 = 1;

/// What [`register`] recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Registration {
    /// The node's name.
    pub node: String,
    /// Shards it holds (after the filters).
    pub shards: usize,
    /// Bytes of their files.
    pub bytes: u64,
    /// Measurements (database, retention policy, measurement) in them.
    pub measurements: usize,
}

/// A node's registration.
#[derive(Serialize, Deserialize)]
struct NodeRecord {
    version: u32,
    node: String,
    shards: Vec<HeldShard>,
    /// The tables of its shards ([`Tables::to_state`]).
    tables: serde_json::Value,
}

#[derive(Clone, Serialize, Deserialize)]
struct HeldShard {
    database: String,
    retention_policy: String,
    shard: u64,
    bytes: u64,
}

impl HeldShard {
    fn key(&self) -> ShardId {
        ShardId::new(&self.database, &self.retention_policy, self.shard)
    }
}

/// The fixed shares of a cluster export.
#[derive(Serialize, Deserialize)]
struct Shares {
    version: u32,
    /// Every registered node, in name order.
    nodes: Vec<String>,
    /// Every shard of the export, in (database, retention policy, id) order.
    shards: Vec<DealtShard>,
}

#[derive(Serialize, Deserialize)]
struct DealtShard {
    database: String,
    retention_policy: String,
    shard: u64,
    /// Its bytes (the largest of its holders').
    bytes: u64,
    /// The node that writes it.
    node: String,
    /// Every node that holds it, in name order.
    holders: Vec<String>,
}

impl DealtShard {
    fn key(&self) -> ShardId {
        ShardId::new(&self.database, &self.retention_policy, self.shard)
    }
}

fn node_of(config: &Options) -> Result<&str> {
    config
        .node()
        .ok_or(Error::Internal(InternalError::Impossible(
            "a cluster step without --node",
        )))
}

fn record_path(node: &str) -> String {
    format!("{STATE_DIR}/{NODES_DIR}/{node}.json")
}

fn shares_path() -> String {
    format!("{STATE_DIR}/{SHARES_FILE}")
}

/// Step 1 on one node: records the planned shards of this node (`plan`, made with the
/// same options) and their measurements' schemas (each shard opened once, in the
/// caller's rayon pool).
///
/// # Errors
/// [`Error::OutDir`] when the cluster export has started already; damaged shards (unless
/// `--skip-corrupt`, which leaves them out); write errors.
pub fn register(config: &Options, plan: &Plan, out: &OutDir) -> Result<Registration> {
    let node = node_of(config)?;
    if out.read_state_file(&shares_path())?.is_some() {
        return Err(Error::OutDir(OutDirError::ClusterStarted {
            node: node.to_string(),
            out: out.root().to_path_buf(),
            shares: shares_path(),
        }));
    }
    let schemas: Vec<Vec<MeasurementSchema>> = match config.format {
        Format::Parquet => plan
            .shards
            .par_iter()
            .with_max_len(1)
            .map(|planned| {
                guarded(&planned.location, || {
                    shard_schemas(config, planned).map(|(schemas, _)| schemas)
                })
            })
            .collect::<Result<_>>()?,
        Format::Lp => Vec::new(),
    };
    let tables = Tables::build(
        config.type_conflicts,
        plan.shards.iter().zip(&schemas).flat_map(|(planned, s)| {
            let loc = &planned.location;
            s.iter()
                .map(|s| (loc.database.as_str(), loc.retention_policy.as_str(), s))
        }),
    );
    let record = NodeRecord {
        version: VERSION,
        node: node.to_string(),
        shards: plan
            .shards
            .iter()
            .map(|p| HeldShard {
                database: p.location.database.clone(),
                retention_policy: p.location.retention_policy.clone(),
                shard: p.location.id,
                bytes: p.bytes,
            })
            .collect(),
        tables: serde_json::from_str(&tables.to_state()?).map_err(|source| Error::State {
            what: "cannot record the tables".into(),
            source,
        })?,
    };
    out.write_state_file(&record_path(node), to_json(&record)?.as_bytes())?;
    Ok(Registration {
        node: node.to_string(),
        shards: plan.shards.len(),
        bytes: plan.bytes(),
        measurements: tables.iter().count(),
    })
}

/// Step 2 on one node, before [`crate::export`]: fixes the shares and tables from every
/// registration if no node has yet, and keeps in `plan.shards` only this node's share;
/// the export's other shards go to `plan.elsewhere`.
///
/// # Errors
/// [`Error::OutDir`] when this node did not register before the shares were fixed, or
/// its input no longer holds the shards it registered; read and write errors.
pub fn assign(config: &Options, plan: &mut Plan, out: &OutDir) -> Result<()> {
    let node = node_of(config)?;
    let shares = match out.read_state_file(&shares_path())? {
        Some(text) => serde_json::from_str::<Shares>(&text).map_err(|source| Error::State {
            what: format!("cannot parse {}", shares_path()),
            source,
        })?,
        None => fix_shares(config, node, out)?,
    };
    if shares.version != VERSION {
        return Err(Error::OutDir(OutDirError::StateVersion {
            what: shares_path(),
            found: shares.version,
            expected: VERSION,
        }));
    }
    if !shares.nodes.iter().any(|n| n == node) {
        return Err(Error::OutDir(OutDirError::NodeLate {
            node: node.to_string(),
            out: out.root().to_path_buf(),
            registered: shares.nodes.clone(),
        }));
    }
    let dealt: HashMap<ShardId, &DealtShard> = shares.shards.iter().map(|s| (s.key(), s)).collect();
    let planned = std::mem::take(&mut plan.shards);
    let mut held = std::collections::HashSet::new();
    for shard in planned {
        let key = ShardId::of(&shard.location);
        let Some(dealt) = dealt.get(&key) else {
            return Err(Error::OutDir(OutDirError::ShardAppeared {
                node: node.to_string(),
                shard: key,
            }));
        };
        held.insert(key);
        if dealt.node == node {
            plan.shards.push(shard);
        } else {
            plan.elsewhere.push(elsewhere(dealt, true));
        }
    }
    for dealt in &shares.shards {
        let key = dealt.key();
        if held.contains(&key) {
            continue;
        }
        if dealt.node == node {
            return Err(Error::OutDir(OutDirError::ShardVanished {
                node: node.to_string(),
                shard: key,
            }));
        }
        plan.elsewhere.push(elsewhere(dealt, false));
    }
    // Groups of this node's share: never across nodes, so each node writes its own.
    plan.regroup(config);
    Ok(())
}

fn elsewhere(dealt: &DealtShard, held_here: bool) -> ElsewhereShard {
    ElsewhereShard {
        database: dealt.database.clone(),
        retention_policy: dealt.retention_policy.clone(),
        shard: dealt.shard,
        node: dealt.node.clone(),
        held_here,
    }
}

/// Deals every registered shard to one of its holders and saves the shares and the
/// tables (the tables first: the shares' file is the sign that both are fixed).
fn fix_shares(config: &Options, node: &str, out: &OutDir) -> Result<Shares> {
    let mut records = Vec::new();
    for (name, text) in out.read_state_dir(&format!("{STATE_DIR}/{NODES_DIR}"))? {
        let record: NodeRecord = serde_json::from_str(&text).map_err(|source| Error::State {
            what: format!("cannot parse the registration {NODES_DIR}/{name}"),
            source,
        })?;
        if record.version != VERSION {
            return Err(Error::OutDir(OutDirError::StateVersion {
                what: format!("the registration {NODES_DIR}/{name}"),
                found: record.version,
                expected: VERSION,
            }));
        }
        records.push(record);
    }
    records.sort_by(|a, b| a.node.cmp(&b.node));
    if !records.iter().any(|r| r.node == node) {
        return Err(Error::OutDir(OutDirError::NodeNotRegistered {
            node: node.to_string(),
            out: out.root().to_path_buf(),
        }));
    }
    let shares = deal(&records);
    if config.format == Format::Parquet {
        let texts: Vec<String> = records.iter().map(|r| r.tables.to_string()).collect();
        let tables = Tables::union_of_states(texts.iter().map(String::as_str))?;
        out.write_tables(&tables.to_state()?)?;
    }
    out.write_state_file(&shares_path(), to_json(&shares)?.as_bytes())?;
    Ok(shares)
}

/// Each shard to one of its holders: largest first, onto the holder with the fewest
/// bytes dealt so far (the first by name on a tie). Depends only on the registrations,
/// not on their order.
fn deal(records: &[NodeRecord]) -> Shares {
    let mut shards: BTreeMap<ShardId, (u64, Vec<String>)> = BTreeMap::new();
    for record in records {
        for held in &record.shards {
            let entry = shards.entry(held.key()).or_default();
            entry.0 = entry.0.max(held.bytes);
            entry.1.push(record.node.clone());
        }
    }
    let mut order: Vec<(&ShardId, &(u64, Vec<String>))> = shards.iter().collect();
    order.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(b.0)));
    let mut load: BTreeMap<&str, u64> = records.iter().map(|r| (r.node.as_str(), 0)).collect();
    let mut dealt: BTreeMap<&ShardId, String> = BTreeMap::new();
    for (key, (bytes, holders)) in order {
        let chosen = holders
            .iter()
            .min_by_key(|h| (load.get(h.as_str()).copied().unwrap_or(0), h.as_str()))
            .cloned()
            .unwrap_or_default();
        if let Some(l) = load.get_mut(chosen.as_str()) {
            *l = l.saturating_add(*bytes);
        }
        dealt.insert(key, chosen);
    }
    let mut nodes: Vec<String> = records.iter().map(|r| r.node.clone()).collect();
    nodes.sort();
    Shares {
        version: VERSION,
        nodes,
        shards: shards
            .iter()
            .map(|(key, (bytes, holders))| {
                let mut holders = holders.clone();
                holders.sort();
                DealtShard {
                    database: key.database.clone(),
                    retention_policy: key.retention_policy.clone(),
                    shard: key.id,
                    bytes: *bytes,
                    node: dealt.get(key).cloned().unwrap_or_default(),
                    holders,
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(node: &str, shards: &[(u64, u64)]) -> NodeRecord {
        NodeRecord {
            version: VERSION,
            node: node.into(),
            shards: shards
                .iter()
                .map(|&(shard, bytes)| HeldShard {
                    database: "db".into(),
                    retention_policy: "rp".into(),
                    shard,
                    bytes,
                })
                .collect(),
            tables: serde_json::Value::Null,
        }
    }

    fn dealt(shares: &Shares) -> Vec<(u64, &str)> {
        shares
            .shards
            .iter()
            .map(|s| (s.shard, s.node.as_str()))
            .collect()
    }

    #[test]
    fn every_shard_goes_to_exactly_one_of_its_holders() {
        // Replication factor 2 over three nodes: each shard on two of them.
        let a = record("a", &[(1, 100), (2, 90), (4, 10)]);
        let b = record("b", &[(2, 90), (3, 80), (5, 10)]);
        let c = record("c", &[(1, 100), (3, 80), (4, 10), (5, 10)]);
        let shares = deal(&[a, b, c]);
        // 1 (100) -> a (a, c tie at 0: a); 2 (90) -> b (a has 100); 3 (80) -> c;
        // 4 and 5 (10): 4 held by a (100) and c (80) -> c; 5 held by b (90), c (90) -> b.
        assert_eq!(
            dealt(&shares),
            [(1, "a"), (2, "b"), (3, "c"), (4, "c"), (5, "b")]
        );
        for s in &shares.shards {
            assert!(
                s.holders.contains(&s.node),
                "shard {} to a non-holder",
                s.shard
            );
        }
    }

    #[test]
    fn the_deal_does_not_depend_on_the_order_of_registrations() {
        let make = || {
            vec![
                record("n1", &[(1, 5), (2, 5), (3, 7)]),
                record("n2", &[(1, 5), (2, 5), (3, 7), (4, 1)]),
            ]
        };
        let forward = deal(&make());
        let mut backward = make();
        backward.reverse();
        let backward = deal(&backward);
        assert_eq!(dealt(&forward), dealt(&backward));
        assert_eq!(forward.nodes, backward.nodes);
    }
}
