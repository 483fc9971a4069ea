//! `--partition I/N`: the shares of a plan are disjoint, cover it, do not depend on the
//! order the shards were found in, and are balanced by bytes as greedy dealing promises.

use influx_tsm_export::partition;
use proptest::prelude::*;

proptest! {
    #[test]
    fn shares_cover_the_plan_once_and_are_balanced(
        sizes in proptest::collection::vec(0u64..1_000_000, 0..60),
        count in 1u32..9,
        rotate in 0usize..60,
    ) {
        let shards: Vec<(u64, u64)> =
            sizes.iter().enumerate().map(|(id, &bytes)| (bytes, id as u64 + 1)).collect();
        let shares = partition(&shards, count);
        prop_assert_eq!(shares.len(), shards.len());
        prop_assert!(shares.iter().all(|&s| s < count));

        // Found in another order: every shard keeps its share.
        let mut rotated = shards.clone();
        if !rotated.is_empty() {
            let by = rotate % rotated.len();
            rotated.rotate_left(by);
        }
        let again = partition(&rotated, count);
        for (shard, share) in rotated.iter().zip(&again) {
            let i = shards.iter().position(|s| s == shard).unwrap();
            prop_assert_eq!(shares[i], *share);
        }

        // Greedy largest-first: no share exceeds another by more than the largest shard.
        let mut load = vec![0u64; count as usize];
        for (shard, &share) in shards.iter().zip(&shares) {
            load[share as usize] += shard.0;
        }
        let largest = shards.iter().map(|s| s.0).max().unwrap_or(0);
        let (min, max) = (load.iter().min().unwrap(), load.iter().max().unwrap());
        prop_assert!(max - min <= largest, "{load:?}");
    }
}

#[test]
fn one_share_is_everything() {
    assert_eq!(partition(&[(5, 1), (7, 2)], 1), [0, 0]);
    assert_eq!(partition(&[], 3), Vec::<u32>::new());
}

#[test]
fn equal_sizes_go_in_shard_id_order() {
    let shares = partition(&[(10, 4), (10, 2), (10, 3), (10, 1)], 2);
    // Ids 1, 2, 3, 4 dealt in turn onto shares 0, 1, 0, 1.
    assert_eq!(shares, [1, 1, 0, 0]);
}
