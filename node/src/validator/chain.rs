//! A validator's in-memory block tree: fork choice and the interim finality rule.
//!
//! The tree holds the finalized block and every imported descendant of it (with their
//! posterior states, when in memory), plus the header hashes of the canonical chain (the best
//! block's ancestry, genesis first).
//!
//! - Fork choice: the best block is the leaf with the greatest height (longest chain); among
//!   equally long chains the one whose head has the highest slot; then the lowest header hash.
//!   Only descendants of the finalized block are ever imported, so the best chain always
//!   contains it.
//! - Finality (interim, until GRANDPA): **best − 2**: the canonical block [`FINALITY_DEPTH`]
//!   blocks below the best block is final. Every block in the tree was fully imported before
//!   it was inserted, so "all blocks on the path were imported" holds by construction.
//!   Finality never moves backwards: branches that do not contain the finalized block are
//!   pruned, and blocks on them are no longer importable.

use jam_state::state::State;
use jam_state::types::{HeaderHash, StateRoot, TimeSlot};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// How far below the best block finality trails.
pub const FINALITY_DEPTH: u32 = 2;

/// A block the tree knows: header hash, slot and height (genesis is 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockId {
    pub hash: HeaderHash,
    pub slot: TimeSlot,
    pub height: u32,
}

/// A block in the tree.
#[derive(Clone, Debug)]
pub struct Entry {
    pub parent: HeaderHash,
    pub slot: TimeSlot,
    pub height: u32,
    /// The posterior state root.
    pub root: StateRoot,
    /// The posterior state, `None` when it must be read from the store (after a restart).
    pub state: Option<Arc<State>>,
}

/// What inserting a block changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inserted {
    /// The block is the new best block.
    pub best: bool,
    /// The finalized block moved.
    pub finalized: bool,
}

/// The block tree; see the module docs.
pub struct Chain {
    entries: HashMap<HeaderHash, Entry>,
    /// The best block's ancestry by height (index 0: genesis).
    canonical: Vec<HeaderHash>,
    /// Height of each canonical hash.
    index: HashMap<HeaderHash, u32>,
    best: HeaderHash,
    finalized: HeaderHash,
}

impl Chain {
    /// A chain resumed at `canonical` (genesis first, the best block last, each with its slot
    /// and state root), the best block's state in memory. Finalized: best − 2.
    pub fn resume(
        canonical: Vec<(HeaderHash, TimeSlot, StateRoot)>,
        best_state: Arc<State>,
    ) -> Self {
        assert!(!canonical.is_empty(), "a chain has a genesis");
        let top = canonical.len() as u32 - 1;
        let fin = top.saturating_sub(FINALITY_DEPTH);
        let mut entries = HashMap::new();
        for h in fin..=top {
            let (hash, slot, root) = canonical[h as usize];
            let parent = if h == 0 {
                HeaderHash::ZERO
            } else {
                canonical[h as usize - 1].0
            };
            entries.insert(
                hash,
                Entry {
                    parent,
                    slot,
                    height: h,
                    root,
                    state: (h == top).then(|| best_state.clone()),
                },
            );
        }
        let hashes: Vec<HeaderHash> = canonical.iter().map(|c| c.0).collect();
        Chain {
            entries,
            index: hashes
                .iter()
                .enumerate()
                .map(|(i, h)| (*h, i as u32))
                .collect(),
            best: hashes[top as usize],
            finalized: hashes[fin as usize],
            canonical: hashes,
        }
    }

    /// A chain of the genesis block alone.
    pub fn genesis(hash: HeaderHash, slot: TimeSlot, root: StateRoot, state: Arc<State>) -> Self {
        Self::resume(vec![(hash, slot, root)], state)
    }

    fn id(&self, hash: &HeaderHash) -> BlockId {
        let e = &self.entries[hash];
        BlockId {
            hash: *hash,
            slot: e.slot,
            height: e.height,
        }
    }

    pub fn best(&self) -> BlockId {
        self.id(&self.best)
    }

    pub fn finalized(&self) -> BlockId {
        self.id(&self.finalized)
    }

    /// The best block's entry.
    pub fn best_entry(&self) -> &Entry {
        &self.entries[&self.best]
    }

    /// Whether the block is imported: in the tree or on the finalized canonical chain.
    pub fn contains(&self, hash: &HeaderHash) -> bool {
        self.entries.contains_key(hash) || self.index.contains_key(hash)
    }

    /// A block a child may be imported on: the finalized block or a descendant.
    pub fn importable_parent(&self, hash: &HeaderHash) -> Option<&Entry> {
        self.entries.get(hash)
    }

    /// Sets a block's in-memory state (e.g. after reading it from the store).
    pub fn set_state(&mut self, hash: &HeaderHash, state: Arc<State>) {
        if let Some(e) = self.entries.get_mut(hash) {
            e.state = Some(state);
        }
    }

    /// Whether `(height, slot, hash)` beats the current best block.
    fn beats_best(&self, height: u32, slot: TimeSlot, hash: &HeaderHash) -> bool {
        let b = &self.entries[&self.best];
        (height, slot) > (b.height, b.slot)
            || ((height, slot) == (b.height, b.slot) && hash.0 < self.best.0)
    }

    /// Whether a child of `parent` (importable) at `slot` would become the best block.
    pub fn would_be_best(&self, parent: &HeaderHash, slot: TimeSlot, hash: &HeaderHash) -> bool {
        self.entries
            .get(parent)
            .is_some_and(|p| self.beats_best(p.height + 1, slot, hash))
    }

    /// Inserts an imported block whose parent is [`Self::importable_parent`].
    pub fn insert(
        &mut self,
        hash: HeaderHash,
        parent: HeaderHash,
        slot: TimeSlot,
        root: StateRoot,
        state: Arc<State>,
    ) -> Inserted {
        let Some(p) = self.entries.get(&parent) else {
            return Inserted::default();
        };
        if self.entries.contains_key(&hash) {
            return Inserted::default();
        }
        let height = p.height + 1;
        let best = self.beats_best(height, slot, &hash);
        self.entries.insert(
            hash,
            Entry {
                parent,
                slot,
                height,
                root,
                state: Some(state),
            },
        );
        if !best {
            return Inserted::default();
        }
        self.set_best(hash);
        let target = height.saturating_sub(FINALITY_DEPTH);
        let finalized = target > self.entries[&self.finalized].height;
        if finalized {
            self.finalize(self.canonical[target as usize]);
        }
        Inserted { best, finalized }
    }

    /// Moves the best block, rewriting the canonical chain from the fork point.
    fn set_best(&mut self, hash: HeaderHash) {
        let mut path = Vec::new();
        let mut h = hash;
        loop {
            let e = &self.entries[&h];
            if self.canonical.get(e.height as usize) == Some(&h) {
                break;
            }
            path.push((h, e.height));
            h = e.parent;
        }
        let keep = path
            .last()
            .map_or(self.canonical.len(), |(_, ht)| *ht as usize);
        for gone in self.canonical.drain(keep..) {
            self.index.remove(&gone);
        }
        for (h, ht) in path.into_iter().rev() {
            self.canonical.push(h);
            self.index.insert(h, ht);
        }
        self.best = hash;
    }

    /// Finalizes a canonical block, pruning every entry that does not descend from it.
    fn finalize(&mut self, hash: HeaderHash) {
        let fin_height = self.entries[&hash].height;
        let keep: HashSet<HeaderHash> = self
            .entries
            .keys()
            .filter(|h| self.ancestor_at(h, fin_height) == Some(hash))
            .copied()
            .collect();
        self.entries.retain(|h, _| keep.contains(h));
        self.finalized = hash;
    }

    /// The ancestor of `hash` (itself included) at `height`, if the tree reaches it.
    fn ancestor_at(&self, hash: &HeaderHash, height: u32) -> Option<HeaderHash> {
        let mut h = *hash;
        loop {
            let e = self.entries.get(&h)?;
            if e.height == height {
                return Some(h);
            }
            if e.height < height {
                return None;
            }
            h = e.parent;
        }
    }

    /// The leaves of the tree (blocks without children), best first.
    pub fn leaves(&self) -> Vec<BlockId> {
        let parents: HashSet<HeaderHash> = self.entries.values().map(|e| e.parent).collect();
        let mut out: Vec<BlockId> = self
            .entries
            .keys()
            .filter(|h| !parents.contains(*h))
            .map(|h| self.id(h))
            .collect();
        out.sort_by_key(|b| (b.hash != self.best, std::cmp::Reverse(b.height)));
        out
    }

    /// Up to `max` canonical blocks after `hash` (children first), if `hash` is canonical.
    pub fn canonical_after(&self, hash: &HeaderHash, max: usize) -> Option<Vec<HeaderHash>> {
        let h = *self.index.get(hash)? as usize;
        Some(
            self.canonical
                .iter()
                .skip(h + 1)
                .take(max)
                .copied()
                .collect(),
        )
    }

    /// The canonical chain from genesis up to `height` (inclusive, or the best block).
    pub fn canonical_prefix(&self, height: u32) -> Vec<HeaderHash> {
        self.canonical
            .iter()
            .take(height as usize + 1)
            .copied()
            .collect()
    }

    /// Number of blocks in the tree (finalized block and its descendants).
    #[cfg(test)]
    pub fn tree_len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_state::types::OpaqueHash;

    fn h(n: u8) -> HeaderHash {
        OpaqueHash([n; 32])
    }

    fn chain() -> Chain {
        Chain::genesis(h(0), 0, h(100), Arc::new(State::default()))
    }

    fn add(c: &mut Chain, hash: u8, parent: u8, slot: TimeSlot) -> Inserted {
        c.insert(
            h(hash),
            h(parent),
            slot,
            h(100 + hash),
            Arc::new(State::default()),
        )
    }

    #[test]
    fn longest_chain_and_best_minus_two() {
        let mut c = chain();
        assert_eq!(
            add(&mut c, 1, 0, 1),
            Inserted {
                best: true,
                finalized: false
            }
        );
        assert_eq!(
            add(&mut c, 2, 1, 2),
            Inserted {
                best: true,
                finalized: false
            }
        );
        assert_eq!(c.finalized().height, 0);
        assert_eq!(
            add(&mut c, 3, 2, 3),
            Inserted {
                best: true,
                finalized: true
            }
        );
        assert_eq!(c.finalized().hash, h(1));
        assert_eq!(c.best().height, 3);
        // A sibling of the best block at a higher slot wins the tie.
        assert_eq!(
            add(&mut c, 13, 2, 4),
            Inserted {
                best: true,
                finalized: false
            }
        );
        assert_eq!(c.best().hash, h(13));
        assert_eq!(c.canonical_prefix(10), vec![h(0), h(1), h(2), h(13)]);
        // A longer chain on the old head takes over again.
        add(&mut c, 4, 3, 5);
        assert_eq!(c.best().hash, h(4));
        assert_eq!(c.finalized().hash, h(2));
        // The losing branch is pruned once finality passes its fork point.
        add(&mut c, 5, 4, 6);
        assert_eq!(c.finalized().hash, h(3));
        assert!(!c.contains(&h(13)));
        // Blocks on the finalized chain stay known; only the tree is importable.
        assert!(c.contains(&h(1)));
        assert!(c.importable_parent(&h(1)).is_none());
        assert!(c.importable_parent(&h(3)).is_some());
        assert_eq!(c.canonical_after(&h(2), 2), Some(vec![h(3), h(4)]));
        assert_eq!(c.leaves()[0].hash, h(5));
        // A shorter fork does not take over.
        add(&mut c, 14, 3, 7);
        assert_eq!(c.best().hash, h(5));
        assert_eq!(c.leaves().len(), 2);
    }

    #[test]
    fn resume_finalizes_best_minus_two() {
        let canon: Vec<_> = (0..5u8)
            .map(|i| (h(i), i as TimeSlot, h(100 + i)))
            .collect();
        let c = Chain::resume(canon, Arc::new(State::default()));
        assert_eq!(c.best().hash, h(4));
        assert_eq!(c.finalized().hash, h(2));
        assert!(c.best_entry().state.is_some());
        assert!(c.importable_parent(&h(3)).unwrap().state.is_none());
        assert!(c.contains(&h(0)));
        assert_eq!(c.tree_len(), 3);
    }
}
