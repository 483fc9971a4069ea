//! Groups of shards: the consecutive shards (in time order) of one database and retention
//! policy exported together, one Parquet file per measurement (one line-protocol file),
//! until their input reaches the target size (`--target-file-size`).
//!
//! A group is the unit of everything after the plan: the workers take groups, `--partition`
//! deals groups, a group's record in the state folder marks it finished, and a resumed
//! export keeps finished groups whole. The grouping depends only on the shards' sizes,
//! start times and ids and on the target, never on the thread count, so every partition
//! computes the same groups from the same input; a group's name (`<first id>` or
//! `<first id>-<last id>`) names its files.
//!
//! A shard whose input alone reaches the target is a group of its own (its big
//! measurements are still cut into parts written in parallel), and so is every shard
//! without a target (`--file-per-shard`).

use influx_tsm_shard::layout::ShardLocation;

use crate::plan::shards::PlannedShard;

/// Most shards in one group: bounds a group's record and the shards its export keeps
/// mapped at once, whatever the target.
pub const MAX_GROUP_SHARDS: usize = 4096;

/// Shards of one database and retention policy exported into the same files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardGroup {
    /// Positions of its shards in [`crate::Plan::shards`], in time order.
    pub members: Vec<usize>,
    /// Their ids, in the same order.
    pub ids: Vec<u64>,
    /// Bytes of their input files.
    pub bytes: u64,
}

impl ShardGroup {
    /// The group's name, which its files are named after: the shard id for a group of
    /// one, else `<first id>-<last id>` (in time order).
    pub fn name(&self) -> String {
        group_name(&self.ids)
    }
}

/// The name of the group of shards `ids` (in time order): see [`ShardGroup::name`].
pub fn group_name(ids: &[u64]) -> String {
    match ids {
        [] => String::new(),
        [only] => only.to_string(),
        [first, .., last] => format!("{first}-{last}"),
    }
}

/// The order shards are grouped in: database, retention policy, then start time (from the
/// server's catalogue; unknown first), then id (shard ids grow as shard groups are
/// created, so without a catalogue the ids are the creation order).
fn order_key(shard: &PlannedShard) -> (&str, &str, Option<i64>, u64) {
    let loc: &ShardLocation = &shard.location;
    (
        loc.database.as_str(),
        loc.retention_policy.as_str(),
        shard.start_time,
        loc.id,
    )
}

/// Groups `shards`: consecutive shards (in database, retention policy, start time and id
/// order) of one database and retention policy while their bytes stay within `target` (and at most
/// [`MAX_GROUP_SHARDS`]); each shard alone when `target` is `None`. Groups come in the
/// same order.
///
/// ```
/// # use influx_tsm_export::group::group_sizes;
/// // Sizes 10, 20, 80, 5, 5 with a target of 40: the 80 is alone.
/// let groups = group_sizes(&[10, 20, 80, 5, 5], Some(40));
/// assert_eq!(groups, [vec![0, 1], vec![2], vec![3, 4]]);
/// ```
pub fn group_shards(shards: &[PlannedShard], target: Option<u64>) -> Vec<ShardGroup> {
    let mut order: Vec<usize> = (0..shards.len()).collect();
    order.sort_by(|&a, &b| order_key(&shards[a]).cmp(&order_key(&shards[b])));
    let mut groups = Vec::new();
    let mut run: Vec<usize> = Vec::new();
    for i in order {
        let same_policy = run.last().is_some_and(|&last| {
            let (a, b) = (&shards[last].location, &shards[i].location);
            a.database == b.database && a.retention_policy == b.retention_policy
        });
        if !same_policy {
            groups.extend(cut(std::mem::take(&mut run), shards, target));
        }
        run.push(i);
    }
    groups.extend(cut(run, shards, target));
    groups
}

/// Cuts one retention policy's shards (in order) into groups.
fn cut(run: Vec<usize>, shards: &[PlannedShard], target: Option<u64>) -> Vec<ShardGroup> {
    let sizes: Vec<u64> = run.iter().map(|&i| shards[i].bytes).collect();
    group_sizes(&sizes, target)
        .into_iter()
        .map(|positions| {
            let members: Vec<usize> = positions.iter().map(|&p| run[p]).collect();
            ShardGroup {
                ids: members.iter().map(|&i| shards[i].location.id).collect(),
                bytes: members
                    .iter()
                    .map(|&i| shards[i].bytes)
                    .fold(0, u64::saturating_add),
                members,
            }
        })
        .collect()
}

/// The greedy cut behind [`group_shards`], on sizes in order: each group takes the next
/// sizes while its total stays within `target` (a size over the target alone), at most
/// [`MAX_GROUP_SHARDS`]; each size alone without a target. Returns positions.
///
/// A group ends where the next size would overflow it, whatever follows, so cutting a
/// suffix that starts at a group boundary gives the same groups as cutting the whole: a
/// resumed export that keeps finished groups regroups the rest the same way.
pub fn group_sizes(sizes: &[u64], target: Option<u64>) -> Vec<Vec<usize>> {
    let Some(target) = target else {
        return (0..sizes.len()).map(|i| vec![i]).collect();
    };
    let mut groups = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut bytes = 0u64;
    for (i, &size) in sizes.iter().enumerate() {
        let full = current.len() >= MAX_GROUP_SHARDS || bytes.saturating_add(size) > target;
        if !current.is_empty() && full {
            groups.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(i);
        bytes = bytes.saturating_add(size);
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_cut_greedily_and_big_ones_alone() {
        assert_eq!(group_sizes(&[], Some(10)), Vec::<Vec<usize>>::new());
        assert_eq!(group_sizes(&[1, 2, 3], None), [vec![0], vec![1], vec![2]]);
        assert_eq!(group_sizes(&[5, 5, 5], Some(10)), [vec![0, 1], vec![2]]);
        assert_eq!(group_sizes(&[50, 1, 1], Some(10)), [vec![0], vec![1, 2]]);
        assert_eq!(
            group_sizes(&[1, 50, 1], Some(10)),
            [vec![0], vec![1], vec![2]]
        );
        assert_eq!(group_sizes(&[0, 0, 10, 0], Some(10)), [vec![0, 1, 2, 3]]);
        let many = vec![0u64; MAX_GROUP_SHARDS + 1];
        let groups = group_sizes(&many, Some(1));
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[1], [MAX_GROUP_SHARDS]);
    }

    #[test]
    fn a_suffix_from_a_boundary_is_cut_alike() {
        let sizes: Vec<u64> = (0..200u64).map(|i| (i * 7919) % 23).collect();
        let whole = group_sizes(&sizes, Some(40));
        let mut start = 0;
        for (g, group) in whole.iter().enumerate() {
            let rest = group_sizes(&sizes[start..], Some(40));
            let shifted: Vec<Vec<usize>> = whole[g..]
                .iter()
                .map(|grp| grp.iter().map(|p| p - start).collect())
                .collect();
            assert_eq!(rest, shifted, "suffix from {start}");
            start += group.len();
        }
    }

    #[test]
    fn names() {
        assert_eq!(group_name(&[7]), "7");
        assert_eq!(group_name(&[7, 3, 12]), "7-12");
    }
}
