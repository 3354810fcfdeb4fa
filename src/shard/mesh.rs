//! The cross-shard mesh: one bounded channel per ordered pair of shards.
//!
//! A sender waits when its channel to a peer is full, so a slow shard pushes
//! back on the shards that feed it instead of growing queues without bound.
//! Channels carry `Send` messages only; anything bound to a shard (files,
//! sockets, `Rc`) stays on its shard.

use async_channel::{Receiver, Sender};

/// The mesh ends that belong to one shard.
pub struct ShardMesh<M> {
    shard: usize,
    /// `senders[j]` sends to shard `j`; `None` at this shard's own index.
    senders: Vec<Option<Sender<M>>>,
    /// `receivers[i]` receives from shard `i`; `None` at this shard's own
    /// index.
    receivers: Vec<Option<Receiver<M>>>,
}

/// The peer that a send was meant for has stopped.
#[derive(Debug, thiserror::Error)]
#[error("shard {0} has stopped")]
pub struct PeerStopped(pub usize);

/// Builds the full mesh for `shards` shards with `capacity` messages per
/// channel; element `i` goes to shard `i`.
pub fn build<M>(shards: usize, capacity: usize) -> Vec<ShardMesh<M>> {
    assert!(capacity > 0, "mesh channel capacity must be positive");
    let mut meshes: Vec<ShardMesh<M>> = (0..shards)
        .map(|shard| ShardMesh {
            shard,
            senders: (0..shards).map(|_| None).collect(),
            receivers: (0..shards).map(|_| None).collect(),
        })
        .collect();
    for from in 0..shards {
        for to in 0..shards {
            if from == to {
                continue;
            }
            let (sender, receiver) = async_channel::bounded(capacity);
            meshes[from].senders[to] = Some(sender);
            meshes[to].receivers[from] = Some(receiver);
        }
    }
    meshes
}

impl<M> ShardMesh<M> {
    pub fn shard(&self) -> usize {
        self.shard
    }

    pub fn shard_count(&self) -> usize {
        self.senders.len()
    }

    /// Sends `message` to shard `to`, waiting while that channel is full.
    pub async fn send(&self, to: usize, message: M) -> Result<(), PeerStopped> {
        let sender = self.senders[to]
            .as_ref()
            .expect("a shard never sends to itself over the mesh");
        sender.send(message).await.map_err(|_| PeerStopped(to))
    }

    /// Takes the receiving ends, one per peer, for the shard's mesh tasks.
    pub fn take_receivers(&mut self) -> Vec<(usize, Receiver<M>)> {
        self.receivers
            .iter_mut()
            .enumerate()
            .filter_map(|(from, receiver)| receiver.take().map(|r| (from, r)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ordered_pair_is_connected() {
        let mut meshes = build::<u32>(3, 4);
        let runtime = compio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            meshes[0].send(2, 7).await.unwrap();
            meshes[1].send(2, 8).await.unwrap();
            let receivers = meshes[2].take_receivers();
            assert_eq!(receivers.len(), 2);
            assert_eq!(receivers[0].0, 0);
            assert_eq!(receivers[0].1.recv().await.unwrap(), 7);
            assert_eq!(receivers[1].0, 1);
            assert_eq!(receivers[1].1.recv().await.unwrap(), 8);
        });
    }

    #[test]
    fn full_channel_applies_back_pressure() {
        let meshes = build::<u32>(2, 1);
        let runtime = compio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            meshes[0].send(1, 1).await.unwrap();
            let second = crate::shard::runtime::timeout(
                std::time::Duration::from_millis(20),
                meshes[0].send(1, 2),
            )
            .await;
            assert!(second.is_none(), "a full channel must make the sender wait");
        });
    }
}
