//! [`TailCache`]: the newest batches of a partition in memory, so consumers
//! that keep up are served without touching the files.

use std::collections::VecDeque;

use bytes::Bytes;

/// A batch as appended, with its assigned offsets.
#[derive(Debug, Clone)]
pub(crate) struct CachedBatch {
    pub base_offset: u64,
    pub last_offset: u64,
    pub data: Bytes,
}

/// Contiguous run of the newest batches, at most `capacity_bytes` in total.
/// Batches leave from the front when the budget is exceeded, from the back
/// when a failed write drops them, and from the front when retention moves
/// the log start.
#[derive(Debug)]
pub(crate) struct TailCache {
    batches: VecDeque<CachedBatch>,
    size_bytes: u64,
    capacity_bytes: u64,
}

impl TailCache {
    pub fn new(capacity_bytes: u64) -> Self {
        Self {
            batches: VecDeque::new(),
            size_bytes: 0,
            capacity_bytes,
        }
    }

    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Adds the newest batch and evicts the oldest ones over the budget.
    pub fn push(&mut self, batch: CachedBatch) {
        if let Some(last) = self.batches.back() {
            assert!(
                batch.base_offset > last.last_offset,
                "tail cache batches must be in order"
            );
        }
        self.size_bytes += batch.data.len() as u64;
        self.batches.push_back(batch);
        while self.size_bytes > self.capacity_bytes {
            let Some(evicted) = self.batches.pop_front() else {
                break;
            };
            self.size_bytes -= evicted.data.len() as u64;
        }
    }

    /// Returns whole batches from the one containing `offset`, below
    /// `visible_end`, up to `max_bytes` but at least one batch. Returns
    /// `None` when `offset` is older than the cache.
    pub fn read(
        &self,
        offset: u64,
        max_bytes: usize,
        visible_end: u64,
    ) -> Option<(Vec<Bytes>, usize)> {
        let first = self.batches.front()?;
        if offset < first.base_offset {
            return None;
        }
        let start = self
            .batches
            .partition_point(|batch| batch.last_offset < offset);
        let mut chunks = Vec::new();
        let mut size_bytes = 0;
        for batch in self.batches.range(start..) {
            let len = batch.data.len();
            let fits = chunks.is_empty() || size_bytes + len <= max_bytes;
            if batch.base_offset >= visible_end || !fits {
                break;
            }
            chunks.push(batch.data.clone());
            size_bytes += len;
        }
        Some((chunks, size_bytes))
    }

    /// Drops every batch at or after `offset` (a failed write).
    pub fn truncate_from(&mut self, offset: u64) {
        while self
            .batches
            .back()
            .is_some_and(|batch| batch.base_offset >= offset)
        {
            let dropped = self.batches.pop_back().expect("checked above");
            self.size_bytes -= dropped.data.len() as u64;
        }
    }

    /// Drops every batch that ends before `offset` (retention).
    pub fn drop_before(&mut self, offset: u64) {
        while self
            .batches
            .front()
            .is_some_and(|batch| batch.last_offset < offset)
        {
            let dropped = self.batches.pop_front().expect("checked above");
            self.size_bytes -= dropped.data.len() as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(base_offset: u64, last_offset: u64, size: usize) -> CachedBatch {
        CachedBatch {
            base_offset,
            last_offset,
            data: Bytes::from(vec![0u8; size]),
        }
    }

    #[test]
    fn read_returns_whole_batches() {
        let mut cache = TailCache::new(1_000);
        cache.push(batch(10, 14, 100));
        cache.push(batch(15, 15, 100));
        cache.push(batch(16, 20, 100));
        assert!(cache.read(9, 1_000, 21).is_none(), "older than the cache");

        let (chunks, size) = cache.read(12, 1_000, 21).unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(size, 300);

        let (chunks, size) = cache.read(15, 150, 21).unwrap();
        assert_eq!(
            (chunks.len(), size),
            (1, 100),
            "max_bytes cuts at a batch boundary"
        );

        let (chunks, _) = cache.read(15, 10, 21).unwrap();
        assert_eq!(chunks.len(), 1, "at least one batch even over max_bytes");

        let (chunks, _) = cache.read(12, 1_000, 16).unwrap();
        assert_eq!(chunks.len(), 2, "nothing at or past the visible end");

        let (chunks, _) = cache.read(21, 1_000, 21).unwrap();
        assert!(chunks.is_empty());
    }

    #[test]
    fn push_evicts_oldest_over_budget() {
        let mut cache = TailCache::new(250);
        cache.push(batch(0, 0, 100));
        cache.push(batch(1, 1, 100));
        cache.push(batch(2, 2, 100));
        assert_eq!(cache.size_bytes(), 200);
        assert!(cache.read(0, 1_000, 3).is_none());
        assert_eq!(cache.read(1, 1_000, 3).unwrap().0.len(), 2);
    }

    #[test]
    fn truncate_and_drop_keep_size() {
        let mut cache = TailCache::new(1_000);
        for base in 0..5 {
            cache.push(batch(base * 2, base * 2 + 1, 10));
        }
        cache.truncate_from(6);
        assert_eq!(cache.size_bytes(), 30);
        cache.drop_before(3);
        assert_eq!(cache.size_bytes(), 20);
        assert_eq!(cache.read(2, 1_000, 100).unwrap().0.len(), 2);
    }
}
