//! [`ChainView`] over a running validator node ([`crate::validator::ChainReader`]).

use super::{BlockMeta, BlockRef, ChainView, Heads};
use crate::validator::tracking::PackageProgress;
use crate::validator::{ChainReader, NodeStatus};
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::types::{CoreIndex, HeaderHash, WorkPackageHash};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// The RPC's view of a node: heads follow the node's status; a state read from the store is
/// kept (one block) so repeated queries on an old block do not reload it.
pub struct NodeView {
    reader: ChainReader,
    heads: watch::Receiver<Heads>,
    cached: Mutex<Option<(HeaderHash, Arc<State>)>>,
}

fn heads_of(s: &NodeStatus) -> Heads {
    Heads {
        best: BlockRef {
            hash: s.best.hash,
            slot: s.best.slot,
        },
        finalized: BlockRef {
            hash: s.finalized.hash,
            slot: s.finalized.slot,
        },
    }
}

impl NodeView {
    /// A view of the node behind `reader`. Spawns the task that follows the node's heads, so
    /// it must be called inside a tokio runtime.
    pub fn new(reader: ChainReader) -> Arc<Self> {
        let mut status = reader.status();
        let (tx, heads) = watch::channel(heads_of(&status.borrow_and_update()));
        tokio::spawn(async move {
            while status.changed().await.is_ok() {
                let h = heads_of(&status.borrow_and_update());
                tx.send_if_modified(|cur| std::mem::replace(cur, h) != h);
                if tx.is_closed() {
                    return;
                }
            }
        });
        Arc::new(NodeView {
            reader,
            heads,
            cached: Mutex::new(None),
        })
    }
}

impl ChainView for NodeView {
    fn params(&self) -> &Params {
        self.reader.params()
    }

    fn heads(&self) -> watch::Receiver<Heads> {
        self.heads.clone()
    }

    fn block(&self, hash: &HeaderHash) -> Option<BlockMeta> {
        self.reader
            .block(hash)
            .map(|(parent, slot, state_root)| BlockMeta {
                parent,
                slot,
                state_root,
            })
    }

    fn state(&self, hash: &HeaderHash) -> Option<Arc<State>> {
        let cached = |c: &Option<(HeaderHash, Arc<State>)>| {
            c.as_ref()
                .filter(|(h, _)| h == hash)
                .map(|(_, s)| s.clone())
        };
        if let Some(s) = cached(&self.cached.lock().unwrap_or_else(|e| e.into_inner())) {
            return Some(s);
        }
        let s = self.reader.state(hash)?;
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some((*hash, s.clone()));
        Some(s)
    }

    fn in_best_chain(&self, hash: &HeaderHash) -> bool {
        self.reader.in_best_chain(hash)
    }

    fn package_progress(&self, hash: &WorkPackageHash) -> Option<PackageProgress> {
        self.reader.package_progress(hash)
    }

    fn note_submitted(&self, hash: WorkPackageHash, core: CoreIndex) {
        self.reader.note_submitted(hash, core)
    }
}
