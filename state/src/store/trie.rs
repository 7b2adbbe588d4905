//! The GP state trie (Appendix D) as stored nodes: node records keyed by node hash.
//!
//! A node's hash is exactly [`crate::merkle::leaf_hash`] / [`crate::merkle::branch_hash`], so a
//! stored trie's root is the state root `M_σ`. Bit order, key order and node heads all come from
//! [`crate::merkle::Gp`] (the GP v0.7.2 [`TrieLayout`]), so this module follows `merkle.rs`.
//! The record stored for a node is the 64-octet node of GP D.3/D.4 that is hashed, and for a
//! branch one more octet: the first bit of the left child's hash, which the branch encoding
//! drops (GP D.3) but which is needed to look the left child up. `H(record[..64])` always
//! equals the key, so every loaded record is checked against it.
//!
//! * 64 octets, first bit 1: a leaf. Head `embedded_leaf_head(n)`: embedded value of `n <= 32`
//!   octets at `record[32..]`; head `REGULAR_LEAF_HEAD`: the value is stored apart, keyed by
//!   its hash `record[32..64]`.
//! * 65 octets, first bit 0: a branch; the left child's hash is `record[..32]` with its first
//!   bit restored from `record[64]` (`left[0] & !BRANCH_MASK`), the right child's hash is
//!   `record[32..64]`.
//!
//! The subtree of a node never changes (content addressing), so a node that is in the store has
//! its whole subtree there too: writers add a node only in the same atomic batch as its
//! descendants that were missing, and may stop descending at any node already present.

use super::StoreError;
use crate::hash::{blake2b_256, Hash, ZERO_HASH};
use crate::merkle::{trie_key_cmp, Gp, StateKey, TrieLayout};
use std::collections::HashMap;

/// Length of the hashed part of a node record.
pub const NODE_LEN: usize = 64;
/// Length of a branch record: the node plus the left child's dropped bit.
pub const BRANCH_RECORD_LEN: usize = NODE_LEN + 1;
/// Values up to this length are embedded in their leaf.
pub const MAX_EMBEDDED: usize = 32;

/// Bit `i` of a key as the trie reads it (`bits(k)_i`, [`Gp`]).
#[inline(always)]
pub fn bit(key: &StateKey, i: usize) -> bool {
    Gp::bit(key, i)
}

/// The bits of a node's first octet that the branch encoding drops (its first bit).
const DROPPED: u8 = !Gp::BRANCH_MASK;

/// A decoded node record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Branch { left: Hash, right: Hash },
    Leaf { key: StateKey, value: LeafValue },
}

/// A leaf's value: embedded (at most 32 octets) or by hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeafValue {
    Embedded(Vec<u8>),
    Hashed(Hash),
}

/// The record and hash of the branch `B(left, right)`.
pub fn branch_record(left: &Hash, right: &Hash) -> (Hash, Vec<u8>) {
    let mut rec = vec![0u8; BRANCH_RECORD_LEN];
    rec[..32].copy_from_slice(left);
    rec[0] &= Gp::BRANCH_MASK;
    rec[32..64].copy_from_slice(right);
    rec[64] = left[0] & DROPPED;
    (blake2b_256(&rec[..NODE_LEN]), rec)
}

/// The record and hash of the leaf `L(key, value)`, and the value's hash when it is stored
/// apart (longer than 32 octets).
pub fn leaf_record(key: &StateKey, value: &[u8]) -> (Hash, Vec<u8>, Option<Hash>) {
    let mut rec = vec![0u8; NODE_LEN];
    rec[1..32].copy_from_slice(key);
    let value_hash = if value.len() <= MAX_EMBEDDED {
        rec[0] = Gp::embedded_leaf_head(value.len() as u8);
        rec[32..32 + value.len()].copy_from_slice(value);
        None
    } else {
        rec[0] = Gp::REGULAR_LEAF_HEAD;
        let vh = blake2b_256(value);
        rec[32..].copy_from_slice(&vh);
        Some(vh)
    };
    (blake2b_256(&rec), rec, value_hash)
}

/// Decodes the record stored under `hash`, checking that it hashes to `hash`.
pub fn decode(hash: &Hash, rec: &[u8]) -> Result<Node, StoreError> {
    let corrupt =
        |why: &str| StoreError::Corruption(format!("trie node {}: {why}", hex::encode(hash)));
    if rec.len() < NODE_LEN {
        return Err(corrupt("record too short"));
    }
    if blake2b_256(&rec[..NODE_LEN]) != *hash {
        return Err(corrupt("record does not hash to its key"));
    }
    let head = rec[0];
    if head & DROPPED == 0 {
        if rec.len() != BRANCH_RECORD_LEN || rec[64] & !DROPPED != 0 {
            return Err(corrupt("malformed branch record"));
        }
        let mut left = [0u8; 32];
        left.copy_from_slice(&rec[..32]);
        left[0] |= rec[64];
        let mut right = [0u8; 32];
        right.copy_from_slice(&rec[32..64]);
        return Ok(Node::Branch { left, right });
    }
    if rec.len() != NODE_LEN {
        return Err(corrupt("malformed leaf record"));
    }
    let mut key = [0u8; 31];
    key.copy_from_slice(&rec[1..32]);
    let value = if head == Gp::REGULAR_LEAF_HEAD {
        let mut vh = [0u8; 32];
        vh.copy_from_slice(&rec[32..]);
        LeafValue::Hashed(vh)
    } else {
        let len = (0..=MAX_EMBEDDED as u8)
            .find(|&n| Gp::embedded_leaf_head(n) == head)
            .ok_or_else(|| corrupt("malformed leaf header"))? as usize;
        if rec[32 + len..].iter().any(|&b| b != 0) {
            return Err(corrupt("malformed embedded-value leaf"));
        }
        LeafValue::Embedded(rec[32..32 + len].to_vec())
    };
    Ok(Node::Leaf { key, value })
}

/// Read access to stored node records and out-of-leaf values.
pub trait NodeSource {
    fn node_record(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError>;
    fn value(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError>;

    /// Loads and decodes the node `hash`; [`StoreError::MissingNode`] if absent.
    fn node(&self, hash: &Hash) -> Result<Node, StoreError> {
        match self.node_record(hash)? {
            Some(rec) => decode(hash, &rec),
            None => Err(StoreError::MissingNode(*hash)),
        }
    }

    /// Resolves a leaf value, checking the hash of one stored apart.
    fn leaf_value(&self, value: LeafValue) -> Result<Vec<u8>, StoreError> {
        match value {
            LeafValue::Embedded(v) => Ok(v),
            LeafValue::Hashed(vh) => {
                let v = self.value(&vh)?.ok_or(StoreError::MissingValue(vh))?;
                if blake2b_256(&v) != vh {
                    return Err(StoreError::Corruption(format!(
                        "value {} does not hash to its key",
                        hex::encode(vh)
                    )));
                }
                Ok(v)
            }
        }
    }
}

/// All key-values of the trie under `root`, in trie order ([`trie_key_cmp`]).
pub fn load_all<S: NodeSource + ?Sized>(
    src: &S,
    root: &Hash,
) -> Result<Vec<(StateKey, Vec<u8>)>, StoreError> {
    let mut out = Vec::new();
    if *root != ZERO_HASH {
        load_into(src, root, 0, &mut out)?;
    }
    Ok(out)
}

fn load_into<S: NodeSource + ?Sized>(
    src: &S,
    hash: &Hash,
    depth: usize,
    out: &mut Vec<(StateKey, Vec<u8>)>,
) -> Result<(), StoreError> {
    match src.node(hash)? {
        Node::Branch { left, right } => {
            if depth >= 248 {
                return Err(StoreError::Corruption(format!(
                    "trie deeper than 248 bits at {}",
                    hex::encode(hash)
                )));
            }
            if left != ZERO_HASH {
                load_into(src, &left, depth + 1, out)?;
            }
            if right != ZERO_HASH {
                load_into(src, &right, depth + 1, out)?;
            }
        }
        Node::Leaf { key, value } => {
            out.push((key, src.leaf_value(value)?));
        }
    }
    Ok(())
}

/// The value of `key` in the trie under `root`, walking one path.
pub fn lookup<S: NodeSource + ?Sized>(
    src: &S,
    root: &Hash,
    key: &StateKey,
) -> Result<Option<Vec<u8>>, StoreError> {
    let mut hash = *root;
    let mut depth = 0;
    loop {
        if hash == ZERO_HASH {
            return Ok(None);
        }
        match src.node(&hash)? {
            Node::Branch { left, right } => {
                if depth >= 248 {
                    return Err(StoreError::Corruption(format!(
                        "trie deeper than 248 bits at {}",
                        hex::encode(hash)
                    )));
                }
                hash = if bit(key, depth) { right } else { left };
                depth += 1;
            }
            Node::Leaf { key: k, value } => {
                return if &k == key {
                    src.leaf_value(value).map(Some)
                } else {
                    Ok(None)
                };
            }
        }
    }
}

/// Nodes and values produced by a trie update, not yet known to be absent from the store.
#[derive(Default)]
pub struct Pending {
    pub nodes: HashMap<Hash, Vec<u8>>,
    pub values: HashMap<Hash, Vec<u8>>,
}

/// A subtree after an update.
#[derive(Clone, Copy, Debug)]
enum Sub {
    Empty,
    Leaf(Hash),
    Branch(Hash),
    /// An untouched stored subtree (non-empty) whose kind has not been looked at.
    Stored(Hash),
}

impl Sub {
    fn hash(self) -> Hash {
        match self {
            Sub::Empty => ZERO_HASH,
            Sub::Leaf(h) | Sub::Branch(h) | Sub::Stored(h) => h,
        }
    }
}

/// A leaf ready to be placed: its key, hash and record.
struct LeafEntry {
    key: StateKey,
    hash: Hash,
    record: Vec<u8>,
}

impl Pending {
    fn new_leaf(&mut self, key: &StateKey, value: &[u8]) -> LeafEntry {
        let (hash, record, vh) = leaf_record(key, value);
        if let Some(vh) = vh {
            self.values.entry(vh).or_insert_with(|| value.to_vec());
        }
        LeafEntry {
            key: *key,
            hash,
            record,
        }
    }

    fn branch(&mut self, left: Sub, right: Sub) -> Sub {
        let (h, rec) = branch_record(&left.hash(), &right.hash());
        self.nodes.entry(h).or_insert(rec);
        Sub::Branch(h)
    }

    /// `M(d)` over leaves sorted strictly ascending in trie order that share `depth` bits.
    fn build(&mut self, leaves: &[LeafEntry], depth: usize) -> Sub {
        match leaves {
            [] => Sub::Empty,
            [leaf] => {
                self.nodes
                    .entry(leaf.hash)
                    .or_insert_with(|| leaf.record.clone());
                Sub::Leaf(leaf.hash)
            }
            _ => {
                let split = leaves.partition_point(|l| !bit(&l.key, depth));
                let (l, r) = leaves.split_at(split);
                let lh = self.build(l, depth + 1);
                let rh = self.build(r, depth + 1);
                self.branch(lh, rh)
            }
        }
    }
}

/// Sorts `(key, value)` pairs into trie order keeping the last value of a repeated key.
pub fn sort_dedup<V>(mut items: Vec<(StateKey, V)>) -> Vec<(StateKey, V)> {
    // Stable: equal keys keep input order, then the last of each run wins.
    items.sort_by(|a, b| trie_key_cmp(&a.0, &b.0));
    let mut out: Vec<(StateKey, V)> = Vec::with_capacity(items.len());
    for item in items {
        match out.last_mut() {
            Some(last) if last.0 == item.0 => *last = item,
            _ => out.push(item),
        }
    }
    out
}

/// Builds the whole trie of `kvs` (sorted strictly ascending in trie order) into `pending`;
/// returns the root.
pub fn build_full(pending: &mut Pending, kvs: &[(StateKey, Vec<u8>)]) -> Hash {
    let leaves: Vec<LeafEntry> = kvs.iter().map(|(k, v)| pending.new_leaf(k, v)).collect();
    pending.build(&leaves, 0).hash()
}

/// Applies `changes` (sorted strictly ascending in trie order; `None` deletes) to the stored
/// trie under `root`, adding the new nodes to `pending`; returns the new root. Only the paths
/// to changed keys are read.
pub fn apply_changes<S: NodeSource + ?Sized>(
    src: &S,
    pending: &mut Pending,
    root: &Hash,
    changes: &[(StateKey, Option<Vec<u8>>)],
) -> Result<Hash, StoreError> {
    Ok(update(src, pending, root, 0, changes)?.hash())
}

fn update<S: NodeSource + ?Sized>(
    src: &S,
    pending: &mut Pending,
    hash: &Hash,
    depth: usize,
    changes: &[(StateKey, Option<Vec<u8>>)],
) -> Result<Sub, StoreError> {
    if *hash == ZERO_HASH {
        let leaves: Vec<LeafEntry> = changes
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| pending.new_leaf(k, v)))
            .collect();
        return Ok(pending.build(&leaves, depth));
    }
    if changes.is_empty() {
        return Ok(Sub::Stored(*hash));
    }
    let rec = src
        .node_record(hash)?
        .ok_or(StoreError::MissingNode(*hash))?;
    match decode(hash, &rec)? {
        Node::Branch { left, right } => {
            if depth >= 248 {
                return Err(StoreError::Corruption(format!(
                    "trie deeper than 248 bits at {}",
                    hex::encode(hash)
                )));
            }
            let split = changes.partition_point(|(k, _)| !bit(k, depth));
            let (lc, rc) = changes.split_at(split);
            let l = update(src, pending, &left, depth + 1, lc)?;
            let r = update(src, pending, &right, depth + 1, rc)?;
            Ok(match (l, r) {
                (Sub::Empty, Sub::Empty) => Sub::Empty,
                (Sub::Empty, only) | (only, Sub::Empty) => match resolve(src, only)? {
                    // A lone leaf moves up: its hash does not depend on its depth.
                    leaf @ Sub::Leaf(_) => leaf,
                    _ => pending.branch(l, r),
                },
                _ => pending.branch(l, r),
            })
        }
        Node::Leaf { key, .. } => {
            // Merge the stored leaf with the changes under this point and rebuild.
            let mut leaves = Vec::with_capacity(changes.len() + 1);
            let mut kept = changes.iter().any(|(k, _)| *k == key);
            for (k, v) in changes {
                if !kept && trie_key_cmp(&key, k) == std::cmp::Ordering::Less {
                    leaves.push(LeafEntry {
                        key,
                        hash: *hash,
                        record: rec.clone(),
                    });
                    kept = true;
                }
                if let Some(v) = v {
                    leaves.push(pending.new_leaf(k, v));
                }
            }
            if !kept {
                leaves.push(LeafEntry {
                    key,
                    hash: *hash,
                    record: rec,
                });
            }
            Ok(pending.build(&leaves, depth))
        }
    }
}

/// Looks at a stored subtree's root to tell a leaf from a branch.
fn resolve<S: NodeSource + ?Sized>(src: &S, sub: Sub) -> Result<Sub, StoreError> {
    Ok(match sub {
        Sub::Stored(h) => match src.node(&h)? {
            Node::Leaf { .. } => Sub::Leaf(h),
            Node::Branch { .. } => Sub::Branch(h),
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{branch_hash, leaf_hash, state_root};

    #[test]
    fn records_hash_like_merkle() {
        let key = [7u8; 31];
        for len in [0usize, 1, 31, 32, 33, 100] {
            let value: Vec<u8> = (0..len as u8).collect();
            let (h, rec, vh) = leaf_record(&key, &value);
            assert_eq!(h, leaf_hash(&key, &value));
            assert_eq!(vh.is_some(), len > 32);
            let expect = if len > 32 {
                LeafValue::Hashed(blake2b_256(&value))
            } else {
                LeafValue::Embedded(value.clone())
            };
            assert_eq!(decode(&h, &rec).unwrap(), Node::Leaf { key, value: expect });
        }
        for first in [0u8, 1, 0x7f, 0x80, 0xfe, 0xff] {
            let mut left = [0x55u8; 32];
            left[0] = first;
            let right = [0xaau8; 32];
            let (h, rec) = branch_record(&left, &right);
            assert_eq!(h, branch_hash(&left, &right));
            assert_eq!(decode(&h, &rec).unwrap(), Node::Branch { left, right });
        }
    }

    #[test]
    fn decode_rejects_tampering() {
        let (h, mut rec, _) = leaf_record(&[1u8; 31], b"abc");
        rec[40] ^= 1;
        assert!(matches!(decode(&h, &rec), Err(StoreError::Corruption(_))));
        let (h, mut rec) = branch_record(&[3u8; 32], &[4u8; 32]);
        rec[64] = !DROPPED;
        assert!(matches!(decode(&h, &rec), Err(StoreError::Corruption(_))));
    }

    #[test]
    fn build_full_matches_state_root() {
        let mut kvs: Vec<(StateKey, Vec<u8>)> = Vec::new();
        for i in 0..200u32 {
            let mut k = [0u8; 31];
            k[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
            kvs.push((k, vec![i as u8; (i % 70) as usize]));
        }
        let expect = state_root(&kvs);
        let sorted = sort_dedup(kvs);
        let mut p = Pending::default();
        assert_eq!(build_full(&mut p, &sorted), expect);
        assert_eq!(build_full(&mut Pending::default(), &[]), ZERO_HASH);
    }
}
