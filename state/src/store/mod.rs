//! The state store: blocks, headers and states of imported blocks, persisted as the GP state
//! trie (Appendix D) in content-addressed form.
//!
//! * [`Store`]: the interface the node uses. One block's header, body, new trie nodes, values,
//!   index entry and (optionally) the best-block pointer go to the database in ONE atomic
//!   batch ([`Store::commit_block`]), so after a crash the store is exactly at the last
//!   committed block.
//! * [`TrieStore`] implements it over any [`KeyValueDb`] (a column store with atomic batches):
//!   [`MemoryStore`] (tests) and [`RocksStore`] (RocksDB, one column family per [`Column`]).
//!
//! # Layout
//!
//! | column | key | value |
//! | --- | --- | --- |
//! | `nodes` | node hash (32) | node record (see [`trie`]: the 64-octet GP node, +1 octet for branches) |
//! | `values` | `H(v)` (32) | value `v` of more than 32 octets |
//! | `headers` | header hash (32) | encoded header |
//! | `blocks` | header hash (32) | encoded block |
//! | `meta` | `"best"` | header hash of the best block |
//! | `meta` | `"b" ++ header hash` | [`BlockInfo`]: slot (u32 LE) ++ parent (32) ++ state root (32) |
//! | `meta` | `"schema"` | layout version (u32 LE) |
//!
//! Trie nodes are keyed by their GP hash, so the root of a block's trie is its state root,
//! consecutive states share every unchanged subtree, and nothing is stored twice. Committing a
//! block with [`StateUpdate::Changes`] reads and writes only the paths to the changed keys.
//!
//! # Pruning (not implemented)
//!
//! Nodes are shared between states and never deleted. The invariant that makes sharing safe
//! — a node in the store has its whole subtree in the store — also makes pruning simple to
//! add: keep the states of the last N finalized blocks plus all unfinalized ones, and either
//! (a) mark-and-sweep: walk the retained roots, delete unmarked nodes/values (in batches,
//! deleting parents before children so the invariant holds at every crash point), or
//! (b) reference counts per node in a separate column, updated in each commit batch and by a
//! prune batch that removes a dropped root's nodes whose count falls to zero. Headers and
//! blocks of abandoned forks would be deleted together with their `meta` entries.

pub mod memory;
pub mod rocks;
pub mod trie;

use crate::hash::{blake2b_256, Hash, ZERO_HASH};
use crate::merkle::StateKey;
use std::sync::Mutex;
use thiserror::Error;

pub use memory::{MemoryDb, MemoryStore};
pub use rocks::{RocksDb, RocksOptions, RocksStore};

/// A state dictionary: 31-octet state keys and their values.
pub type KeyValues = Vec<(StateKey, Vec<u8>)>;

/// Version of the on-disk layout, stored under `meta:"schema"`.
pub const SCHEMA_VERSION: u32 = 1;

/// Errors of the state store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database failed (I/O error, lock held by another process, ...).
    #[error("store I/O error: {0}")]
    Io(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// Stored data is malformed or does not match its hash.
    #[error("store corrupted: {0}")]
    Corruption(String),
    /// A trie node reachable from a stored root is absent.
    #[error("missing trie node {}", hex::encode(.0))]
    MissingNode(Hash),
    /// A value referenced by a trie leaf is absent.
    #[error("missing state value {}", hex::encode(.0))]
    MissingValue(Hash),
    /// A block (or the parent whose state a change set applies to) is not in the store.
    #[error("unknown block {}", hex::encode(.0))]
    UnknownBlock(Hash),
    /// The committed key-values do not have the state root the commit claims.
    #[error("state root mismatch: commit claims {}, key-values give {}", hex::encode(.claimed), hex::encode(.computed))]
    StateRootMismatch { claimed: Hash, computed: Hash },
    /// The header bytes do not hash to the claimed header hash.
    #[error("header hash mismatch: commit claims {}, header hashes to {}", hex::encode(.claimed), hex::encode(.computed))]
    HeaderHashMismatch { claimed: Hash, computed: Hash },
    /// The store was written with another layout version.
    #[error("store layout version {found}, this build reads {expected}")]
    SchemaMismatch { found: u32, expected: u32 },
}

impl StoreError {
    /// Wraps a backend error.
    pub fn io<E: std::error::Error + Send + Sync + 'static>(e: E) -> Self {
        StoreError::Io(Box::new(e))
    }
}

/// A block's state in a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateUpdate {
    /// The complete state dictionary (any order; a repeated key's last value wins).
    Full(KeyValues),
    /// Changes against the parent block's state: `Some` sets, `None` removes (any order; a
    /// repeated key's last change wins). The parent must be in the store, or be the zero hash
    /// (genesis: changes against the empty state).
    Changes(Vec<(StateKey, Option<Vec<u8>>)>),
}

/// Everything stored for one imported block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockCommit {
    /// `H(E(header))`; checked against `header`.
    pub header_hash: Hash,
    /// The encoded header.
    pub header: Vec<u8>,
    /// The encoded block.
    pub block: Vec<u8>,
    /// The header's time slot.
    pub slot: u32,
    /// The parent's header hash (the zero hash for genesis).
    pub parent: Hash,
    /// The posterior state, in full or as changes against the parent's.
    pub state: StateUpdate,
    /// The posterior state root `M_σ`; checked against the key-values.
    pub state_root: Hash,
    /// Move the best-block pointer to this block in the same batch.
    pub make_best: bool,
}

impl BlockCommit {
    /// The commit of an imported `block` (header hash `header_hash`) whose posterior state
    /// `post` (root `state_root`) is stored as its changes against the parent's state `prior`.
    pub fn imported(
        block: &crate::types::Block,
        header_hash: Hash,
        prior: &crate::state::State,
        post: &crate::state::State,
        state_root: Hash,
        make_best: bool,
    ) -> BlockCommit {
        use crate::codec::Encode;
        let changes = post.changes_since(prior);
        let mut update: Vec<_> = changes.set.into_iter().map(|(k, v)| (k, Some(v))).collect();
        update.extend(changes.removed.into_iter().map(|k| (k, None)));
        BlockCommit {
            header_hash,
            header: block.header.encode(),
            block: block.encode(),
            slot: block.header.slot,
            parent: block.header.parent.0,
            state: StateUpdate::Changes(update),
            state_root,
            make_best,
        }
    }
}

/// What the store keeps about each block beside its header and body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    pub slot: u32,
    pub parent: Hash,
    pub state_root: Hash,
}

impl BlockInfo {
    const LEN: usize = 4 + 32 + 32;

    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::LEN);
        v.extend_from_slice(&self.slot.to_le_bytes());
        v.extend_from_slice(&self.parent);
        v.extend_from_slice(&self.state_root);
        v
    }

    fn decode(hash: &Hash, b: &[u8]) -> Result<Self, StoreError> {
        if b.len() != Self::LEN {
            return Err(StoreError::Corruption(format!(
                "block info of {} has {} octets",
                hex::encode(hash),
                b.len()
            )));
        }
        let mut parent = [0u8; 32];
        parent.copy_from_slice(&b[4..36]);
        let mut state_root = [0u8; 32];
        state_root.copy_from_slice(&b[36..68]);
        Ok(BlockInfo {
            slot: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            parent,
            state_root,
        })
    }
}

/// The best block (the head the node builds on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BestBlock {
    pub hash: Hash,
    pub slot: u32,
    pub parent: Hash,
    pub state_root: Hash,
}

/// The state store interface.
pub trait Store: Send + Sync {
    /// Stores a block, its header, its state's new trie nodes and values and its index entry
    /// (and moves the best-block pointer if `make_best`) in one atomic write. Checks the
    /// header hash and the state root first; on any error nothing is written.
    fn commit_block(&self, commit: BlockCommit) -> Result<(), StoreError>;
    /// The best block, `None` for an empty store.
    fn best_block(&self) -> Result<Option<BestBlock>, StoreError>;
    /// Moves the best-block pointer to a stored block (fork choice).
    fn set_best_block(&self, header_hash: &Hash) -> Result<(), StoreError>;
    /// The slot, parent and state root of a stored block.
    fn block_info(&self, header_hash: &Hash) -> Result<Option<BlockInfo>, StoreError>;
    /// The encoded header of a stored block.
    fn header(&self, header_hash: &Hash) -> Result<Option<Vec<u8>>, StoreError>;
    /// The encoded block.
    fn block(&self, header_hash: &Hash) -> Result<Option<Vec<u8>>, StoreError>;
    /// The posterior state root of a stored block.
    fn state_root(&self, header_hash: &Hash) -> Result<Option<Hash>, StoreError> {
        Ok(self.block_info(header_hash)?.map(|i| i.state_root))
    }
    /// All key-values of the trie with root `root`, in trie order
    /// ([`crate::merkle::trie_key_cmp`]); every node and value is checked against its hash,
    /// so the result's root is `root`.
    fn state_at_root(&self, root: &Hash) -> Result<KeyValues, StoreError>;
    /// The posterior state of a stored block (see [`Store::state_at_root`]).
    fn state(&self, header_hash: &Hash) -> Result<Option<KeyValues>, StoreError> {
        match self.block_info(header_hash)? {
            Some(info) => self.state_at_root(&info.state_root).map(Some),
            None => Ok(None),
        }
    }
    /// One value of the trie with root `root`, reading only the path to `key`.
    fn state_value(&self, root: &Hash, key: &StateKey) -> Result<Option<Vec<u8>>, StoreError>;
}

/// The columns of a [`KeyValueDb`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    Nodes,
    Values,
    Headers,
    Blocks,
    Meta,
}

impl Column {
    pub const ALL: [Column; 5] = [
        Column::Nodes,
        Column::Values,
        Column::Headers,
        Column::Blocks,
        Column::Meta,
    ];

    /// The column family name.
    pub fn name(self) -> &'static str {
        match self {
            Column::Nodes => "nodes",
            Column::Values => "values",
            Column::Headers => "headers",
            Column::Blocks => "blocks",
            Column::Meta => "meta",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A write batch: applied all or nothing.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub puts: Vec<(Column, Vec<u8>, Vec<u8>)>,
}

impl Batch {
    pub fn put(&mut self, col: Column, key: &[u8], value: &[u8]) {
        self.puts.push((col, key.to_vec(), value.to_vec()));
    }
}

/// A column key-value database with atomic batches: what [`TrieStore`] needs of a backend.
pub trait KeyValueDb: Send + Sync {
    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Whether `key` is present (backends may avoid copying the value).
    fn contains(&self, col: Column, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.get(col, key)?.is_some())
    }
    /// Applies the whole batch atomically (and durably as far as the backend promises).
    fn write(&self, batch: Batch) -> Result<(), StoreError>;
    /// Number of entries in a column (diagnostics and tests; may scan).
    fn count(&self, col: Column) -> Result<usize, StoreError>;
}

const BEST_KEY: &[u8] = b"best";
const SCHEMA_KEY: &[u8] = b"schema";

fn info_key(hash: &Hash) -> [u8; 33] {
    let mut k = [0u8; 33];
    k[0] = b'b';
    k[1..].copy_from_slice(hash);
    k
}

/// [`Store`] over a [`KeyValueDb`].
pub struct TrieStore<B: KeyValueDb> {
    db: B,
    /// Serializes commits (read parent trie, then write), so that two commits never race on
    /// the best-block pointer.
    commit_lock: Mutex<()>,
}

impl<B: KeyValueDb> trie::NodeSource for TrieStore<B> {
    fn node_record(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get(Column::Nodes, hash)
    }
    fn value(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get(Column::Values, hash)
    }
}

impl<B: KeyValueDb> TrieStore<B> {
    /// Wraps a database, writing the layout version into an empty one and checking it
    /// otherwise.
    pub fn with_db(db: B) -> Result<Self, StoreError> {
        match db.get(Column::Meta, SCHEMA_KEY)? {
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_slice())
                    .map(u32::from_le_bytes)
                    .map_err(|_| StoreError::Corruption("malformed schema version".into()))?;
                if found != SCHEMA_VERSION {
                    return Err(StoreError::SchemaMismatch {
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
            None => {
                let mut b = Batch::default();
                b.put(Column::Meta, SCHEMA_KEY, &SCHEMA_VERSION.to_le_bytes());
                db.write(b)?;
            }
        }
        Ok(TrieStore {
            db,
            commit_lock: Mutex::new(()),
        })
    }

    /// The underlying database.
    pub fn db(&self) -> &B {
        &self.db
    }

    /// Number of stored trie nodes (diagnostics; may scan).
    pub fn node_count(&self) -> Result<usize, StoreError> {
        self.db.count(Column::Nodes)
    }

    /// Number of stored out-of-leaf values (diagnostics; may scan).
    pub fn value_count(&self) -> Result<usize, StoreError> {
        self.db.count(Column::Values)
    }

    /// Adds to `batch` the pending nodes reachable from `hash` that the store lacks, with the
    /// values of new leaves. Stops at nodes already stored: their subtrees are complete.
    fn collect_new(
        &self,
        pending: &mut trie::Pending,
        hash: &Hash,
        batch: &mut Batch,
    ) -> Result<(), StoreError> {
        if *hash == ZERO_HASH {
            return Ok(());
        }
        let Some(rec) = pending.nodes.remove(hash) else {
            // Not built by this update: an untouched stored subtree.
            return Ok(());
        };
        if self.db.contains(Column::Nodes, hash)? {
            return Ok(());
        }
        match trie::decode(hash, &rec)? {
            trie::Node::Branch { left, right } => {
                self.collect_new(pending, &left, batch)?;
                self.collect_new(pending, &right, batch)?;
            }
            trie::Node::Leaf {
                value: trie::LeafValue::Hashed(vh),
                ..
            } => {
                if !self.db.contains(Column::Values, &vh)? {
                    let v = match pending.values.get(&vh) {
                        Some(v) => v,
                        None => return Err(StoreError::MissingValue(vh)),
                    };
                    batch.put(Column::Values, &vh, v);
                }
            }
            trie::Node::Leaf { .. } => {}
        }
        batch.put(Column::Nodes, hash, &rec);
        Ok(())
    }
}

impl<B: KeyValueDb> Store for TrieStore<B> {
    fn commit_block(&self, c: BlockCommit) -> Result<(), StoreError> {
        let computed = blake2b_256(&c.header);
        if computed != c.header_hash {
            return Err(StoreError::HeaderHashMismatch {
                claimed: c.header_hash,
                computed,
            });
        }
        let _guard = self.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut pending = trie::Pending::default();
        let root = match c.state {
            StateUpdate::Full(kvs) => trie::build_full(&mut pending, &trie::sort_dedup(kvs)),
            StateUpdate::Changes(changes) => {
                let base = match self.block_info(&c.parent)? {
                    Some(parent) => parent.state_root,
                    // Genesis: changes against the empty state.
                    None if c.parent == ZERO_HASH => ZERO_HASH,
                    None => return Err(StoreError::UnknownBlock(c.parent)),
                };
                trie::apply_changes(self, &mut pending, &base, &trie::sort_dedup(changes))?
            }
        };
        if root != c.state_root {
            return Err(StoreError::StateRootMismatch {
                claimed: c.state_root,
                computed: root,
            });
        }
        let mut batch = Batch::default();
        self.collect_new(&mut pending, &root, &mut batch)?;
        batch.put(Column::Headers, &c.header_hash, &c.header);
        batch.put(Column::Blocks, &c.header_hash, &c.block);
        let info = BlockInfo {
            slot: c.slot,
            parent: c.parent,
            state_root: root,
        };
        batch.put(Column::Meta, &info_key(&c.header_hash), &info.encode());
        if c.make_best {
            batch.put(Column::Meta, BEST_KEY, &c.header_hash);
        }
        self.db.write(batch)
    }

    fn best_block(&self) -> Result<Option<BestBlock>, StoreError> {
        let Some(v) = self.db.get(Column::Meta, BEST_KEY)? else {
            return Ok(None);
        };
        let hash: Hash = v
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corruption("malformed best-block pointer".into()))?;
        let info = self.block_info(&hash)?.ok_or_else(|| {
            StoreError::Corruption(format!(
                "best block {} has no index entry",
                hex::encode(hash)
            ))
        })?;
        Ok(Some(BestBlock {
            hash,
            slot: info.slot,
            parent: info.parent,
            state_root: info.state_root,
        }))
    }

    fn set_best_block(&self, header_hash: &Hash) -> Result<(), StoreError> {
        let _guard = self.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.block_info(header_hash)?.is_none() {
            return Err(StoreError::UnknownBlock(*header_hash));
        }
        let mut batch = Batch::default();
        batch.put(Column::Meta, BEST_KEY, header_hash);
        self.db.write(batch)
    }

    fn block_info(&self, header_hash: &Hash) -> Result<Option<BlockInfo>, StoreError> {
        match self.db.get(Column::Meta, &info_key(header_hash))? {
            Some(b) => BlockInfo::decode(header_hash, &b).map(Some),
            None => Ok(None),
        }
    }

    fn header(&self, header_hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get(Column::Headers, header_hash)
    }

    fn block(&self, header_hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get(Column::Blocks, header_hash)
    }

    fn state_at_root(&self, root: &Hash) -> Result<KeyValues, StoreError> {
        trie::load_all(self, root)
    }

    fn state_value(&self, root: &Hash, key: &StateKey) -> Result<Option<Vec<u8>>, StoreError> {
        trie::lookup(self, root, key)
    }
}

#[cfg(test)]
pub(crate) mod tests;
