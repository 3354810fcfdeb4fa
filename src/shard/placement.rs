//! Deterministic partition placement: the same topic id, partition and shard
//! count always give the same owner, so placement survives restarts.

/// Owning shard of `partition` of topic `topic_id`. Consecutive partitions
/// go to consecutive shards, and each topic starts at a different shard so
/// single-partition topics spread out.
pub fn owner(topic_id: u32, partition: u32, shards: usize) -> usize {
    assert!(shards > 0, "placement needs at least one shard");
    ((topic_id as u64 + partition as u64) % shards as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_spread_evenly() {
        let mut counts = [0usize; 2];
        for partition in 0..8 {
            counts[owner(5, partition, 2)] += 1;
        }
        assert_eq!(counts, [4, 4]);
    }

    #[test]
    fn placement_is_stable() {
        assert_eq!(owner(3, 1, 4), owner(3, 1, 4));
        assert_eq!(owner(0, 0, 1), 0);
    }
}
