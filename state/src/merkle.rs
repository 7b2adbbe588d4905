//! State Merklization (GP v0.7.2 Appendix D, D.2) and general Merklization (Appendix E, E.1).
//!
//! * [`state_root`] / [`state_root_sorted`]: the binary Patricia Merkle trie root `M_σ` over
//!   31-octet state keys (branch nodes `B`, embedded-value and regular leaves `L`, Blake2b-256).
//! * [`merkle_node`] (`N`), [`merkle_wb`] (`M_B`, well-balanced), [`merkle_cd`] (`M`,
//!   constant-depth), [`merkle_trace`] (`T`), [`constancy_preprocess`] (`C`),
//!   [`merkle_justification`] (`J_x`) and [`merkle_leaf_page`] (`L_x`): pure functions over a
//!   caller-supplied hash function (normally [`blake2b_256`]).

use crate::hash::{blake2b_256, Hash, ZERO_HASH};
use std::collections::BTreeMap;
use thiserror::Error;

/// A state key: 31 octets (GP D.1, the output of the key constructor `C`).
pub type StateKey = [u8; 31];

/// Errors of the state Merklization entry points that take pre-sorted input.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum MerkleError {
    /// `state_root_sorted` was given keys that are not strictly ascending in trie order
    /// ([`trie_key_cmp`]): out of order or duplicated at this index.
    #[error("state keys not strictly ascending in trie order at index {index}")]
    NotSorted { index: usize },
}

// ---------------------------------------------------------------------------
// State Merklization (Appendix D)
// ---------------------------------------------------------------------------

/// How a trie reads key bits and lays out its node heads.
///
/// [`Gp`] is GP v0.7.2 (`bits` with the most significant bit of each octet first), used for
/// every state root. [`LegacyLsbFirst`] is the layout from before GP 0.4.0's reversal of the
/// trie key bit order, in which the public `trie/trie.json` vectors were made (they were never
/// regenerated: davxy/jam-test-vectors issue #81); it exists only to run those vectors, which
/// still check the trie's structure (branch/leaf split, embedded values, hashing).
pub trait TrieLayout {
    /// Bit `i` of a key (`bits(k)_i`).
    fn bit(key: &StateKey, i: usize) -> bool;
    /// The order of keys in the trie (lexicographic on `bits(k)`).
    fn key_cmp(a: &StateKey, b: &StateKey) -> std::cmp::Ordering;
    /// The head octet of a leaf with an embedded value of `len <= 32` octets.
    fn embedded_leaf_head(len: u8) -> u8;
    /// The head octet of a leaf holding its value's hash.
    const REGULAR_LEAF_HEAD: u8;
    /// The mask clearing the first bit of a branch's left hash (the branch marker 0).
    const BRANCH_MASK: u8;
}

/// GP v0.7.2 (D.3, D.4): bits most significant first; trie order is plain byte order.
pub enum Gp {}

impl TrieLayout for Gp {
    #[inline(always)]
    fn bit(key: &StateKey, i: usize) -> bool {
        (key[i >> 3] >> (7 - (i & 7))) & 1 == 1
    }
    #[inline(always)]
    fn key_cmp(a: &StateKey, b: &StateKey) -> std::cmp::Ordering {
        a.cmp(b)
    }
    #[inline(always)]
    fn embedded_leaf_head(len: u8) -> u8 {
        // bits: [1, 0] ++ the low 6 bits of E_1(|v|).
        0b1000_0000 | len
    }
    const REGULAR_LEAF_HEAD: u8 = 0b1100_0000;
    const BRANCH_MASK: u8 = 0b0111_1111;
}

/// The pre-GP-0.4.0 layout of `trie/trie.json`: bits least significant first.
pub enum LegacyLsbFirst {}

impl TrieLayout for LegacyLsbFirst {
    #[inline(always)]
    fn bit(key: &StateKey, i: usize) -> bool {
        (key[i >> 3] >> (i & 7)) & 1 == 1
    }
    fn key_cmp(a: &StateKey, b: &StateKey) -> std::cmp::Ordering {
        let i = a.iter().zip(b).position(|(x, y)| x != y);
        i.map_or(std::cmp::Ordering::Equal, |i| {
            a[i].reverse_bits().cmp(&b[i].reverse_bits())
        })
    }
    fn embedded_leaf_head(len: u8) -> u8 {
        0b01 | (len << 2)
    }
    const REGULAR_LEAF_HEAD: u8 = 0b11;
    const BRANCH_MASK: u8 = 0b1111_1110;
}

/// The order of keys in the GP trie: plain byte order of the 31-octet keys (bits are read
/// most significant first), so a `BTreeMap<StateKey, _>` iterates in trie order.
#[inline]
pub fn trie_key_cmp(a: &StateKey, b: &StateKey) -> std::cmp::Ordering {
    Gp::key_cmp(a, b)
}

/// The leaf node hash `H(L(k, v))` (GP D.4).
#[inline]
pub fn leaf_hash(key: &StateKey, value: &[u8]) -> Hash {
    leaf_hash_in::<Gp>(key, value)
}

/// The branch node hash `H(B(l, r))` (GP D.3): a 0 bit, then `bits(l)` without its first
/// bit, then `bits(r)`.
#[inline]
pub fn branch_hash(left: &Hash, right: &Hash) -> Hash {
    branch_hash_in::<Gp>(left, right)
}

#[inline]
fn leaf_hash_in<L: TrieLayout>(key: &StateKey, value: &[u8]) -> Hash {
    let mut node = [0u8; 64];
    if value.len() <= 32 {
        node[0] = L::embedded_leaf_head(value.len() as u8);
        node[1..32].copy_from_slice(key);
        node[32..32 + value.len()].copy_from_slice(value);
    } else {
        node[0] = L::REGULAR_LEAF_HEAD;
        node[1..32].copy_from_slice(key);
        node[32..].copy_from_slice(&blake2b_256(value));
    }
    blake2b_256(&node)
}

#[inline]
fn branch_hash_in<L: TrieLayout>(left: &Hash, right: &Hash) -> Hash {
    let mut node = [0u8; 64];
    node[..32].copy_from_slice(left);
    node[0] &= L::BRANCH_MASK;
    node[32..].copy_from_slice(right);
    blake2b_256(&node)
}

/// Owned or borrowed state keys.
trait KeyRef {
    fn key(&self) -> &StateKey;
}

impl KeyRef for StateKey {
    #[inline(always)]
    fn key(&self) -> &StateKey {
        self
    }
}

impl KeyRef for &StateKey {
    #[inline(always)]
    fn key(&self) -> &StateKey {
        self
    }
}

/// `M(d)` over a slice of entries sorted strictly ascending in trie order, all of which
/// agree on their first `depth` bits. Splits by binary search; allocates nothing.
fn trie_root<L: TrieLayout, K: KeyRef, V: AsRef<[u8]>>(entries: &[(K, V)], depth: usize) -> Hash {
    match entries {
        [] => ZERO_HASH,
        [(k, v)] => leaf_hash_in::<L>(k.key(), v.as_ref()),
        _ => {
            // Distinct 31-octet keys always differ within 248 bits, so `depth < 248` here.
            let split = entries.partition_point(|(k, _)| !L::bit(k.key(), depth));
            let (l, r) = entries.split_at(split);
            let lh = trie_root::<L, _, _>(l, depth + 1);
            let rh = trie_root::<L, _, _>(r, depth + 1);
            branch_hash_in::<L>(&lh, &rh)
        }
    }
}

fn check_sorted<L: TrieLayout, K: KeyRef, V>(entries: &[(K, V)]) -> Result<(), MerkleError> {
    for (i, w) in entries.windows(2).enumerate() {
        if L::key_cmp(w[0].0.key(), w[1].0.key()) != std::cmp::Ordering::Less {
            return Err(MerkleError::NotSorted { index: i + 1 });
        }
    }
    Ok(())
}

/// The state root `M_σ` (GP D.5) of key/value pairs already sorted strictly ascending by
/// [`trie_key_cmp`]. The hot path: no sorting, no allocation, one O(n) order check.
pub fn state_root_sorted<V: AsRef<[u8]>>(kvs: &[(StateKey, V)]) -> Result<Hash, MerkleError> {
    check_sorted::<Gp, _, _>(kvs)?;
    Ok(trie_root::<Gp, _, _>(kvs, 0))
}

/// Like [`state_root_sorted`] for entries holding borrowed keys.
pub fn state_root_sorted_refs<V: AsRef<[u8]>>(kvs: &[(&StateKey, V)]) -> Result<Hash, MerkleError> {
    check_sorted::<Gp, _, _>(kvs)?;
    Ok(trie_root::<Gp, _, _>(kvs, 0))
}

/// The state root `M_σ` (GP D.5) of key/value pairs in any order.
///
/// Sorts a vector of references once (skipped when the input is already in trie order).
/// If a key occurs more than once, the last occurrence wins, as when inserting the pairs
/// into a map in order.
pub fn state_root<V: AsRef<[u8]>>(kvs: &[(StateKey, V)]) -> Hash {
    state_root_in::<Gp, V>(kvs)
}

/// [`state_root`] under another trie layout (for the legacy `trie.json` vectors).
pub fn state_root_in<L: TrieLayout, V: AsRef<[u8]>>(kvs: &[(StateKey, V)]) -> Hash {
    if check_sorted::<L, _, _>(kvs).is_ok() {
        return trie_root::<L, _, _>(kvs, 0);
    }
    let mut refs: Vec<(&StateKey, &[u8])> = kvs.iter().map(|(k, v)| (k, v.as_ref())).collect();
    // Stable sort keeps equal keys in input order; keep the last of each run.
    refs.sort_by(|a, b| L::key_cmp(a.0, b.0));
    let mut w = 0;
    for i in 0..refs.len() {
        if w > 0 && refs[w - 1].0 == refs[i].0 {
            refs[w - 1] = refs[i];
        } else {
            refs[w] = refs[i];
            w += 1;
        }
    }
    refs.truncate(w);
    trie_root::<L, _, _>(&refs, 0)
}

/// The state root `M_σ` of a map: its iteration order is already the GP trie order.
pub fn state_root_map<V: AsRef<[u8]>>(map: &BTreeMap<StateKey, V>) -> Hash {
    let refs: Vec<(&StateKey, &[u8])> = map.iter().map(|(k, v)| (k, v.as_ref())).collect();
    trie_root::<Gp, _, _>(&refs, 0)
}

// ---------------------------------------------------------------------------
// General Merklization (Appendix E)
// ---------------------------------------------------------------------------

const NODE_PREFIX: &[u8] = b"node";
const LEAF_PREFIX: &[u8] = b"leaf";

/// The node function `N(v, H)` (GP E.1): the zero hash for an empty sequence, the item
/// itself for a single item, otherwise `H("node" ++ N(left) ++ N(right))` splitting at
/// `ceil(|v|/2)`.
pub fn merkle_node<T, H>(v: &[T], hash: H) -> Vec<u8>
where
    T: AsRef<[u8]>,
    H: Fn(&[u8]) -> Hash,
{
    match v {
        [] => ZERO_HASH.to_vec(),
        [x] => x.as_ref().to_vec(),
        _ => node_hash(v, &hash).to_vec(),
    }
}

/// `N(v, H)` for `|v| >= 2`, which is always a hash. Reuses one buffer per level.
fn node_hash<T: AsRef<[u8]>, H: Fn(&[u8]) -> Hash>(v: &[T], hash: &H) -> Hash {
    debug_assert!(v.len() >= 2);
    let mid = v.len().div_ceil(2);
    let (l, r) = v.split_at(mid);
    let mut buf = Vec::with_capacity(NODE_PREFIX.len() + 64);
    buf.extend_from_slice(NODE_PREFIX);
    push_node(&mut buf, l, hash);
    push_node(&mut buf, r, hash);
    hash(&buf)
}

fn push_node<T: AsRef<[u8]>, H: Fn(&[u8]) -> Hash>(buf: &mut Vec<u8>, v: &[T], hash: &H) {
    match v {
        [] => buf.extend_from_slice(&ZERO_HASH),
        [x] => buf.extend_from_slice(x.as_ref()),
        _ => buf.extend_from_slice(&node_hash(v, hash)),
    }
}

/// The well-balanced binary Merkle function `M_B(v, H)` (GP E.1): `H(v_0)` for a single
/// item, otherwise `N(v, H)` (the zero hash when empty).
pub fn merkle_wb<T, H>(v: &[T], hash: H) -> Hash
where
    T: AsRef<[u8]>,
    H: Fn(&[u8]) -> Hash,
{
    match v {
        [] => ZERO_HASH,
        [x] => hash(x.as_ref()),
        _ => node_hash(v, &hash),
    }
}

/// The constancy preprocessor `C(v, H)` (GP E.1): each item hashed with the prefix
/// `"leaf"`, padded with zero hashes to the next power of two (at least one item).
pub fn constancy_preprocess<T, H>(v: &[T], hash: H) -> Vec<Hash>
where
    T: AsRef<[u8]>,
    H: Fn(&[u8]) -> Hash,
{
    let len = v.len().max(1).next_power_of_two();
    let mut out = Vec::with_capacity(len);
    let mut buf = Vec::new();
    for x in v {
        buf.clear();
        buf.extend_from_slice(LEAF_PREFIX);
        buf.extend_from_slice(x.as_ref());
        out.push(hash(&buf));
    }
    out.resize(len, ZERO_HASH);
    out
}

/// The constant-depth binary Merkle function `M(v, H) = N(C(v, H), H)` (GP E.1).
pub fn merkle_cd<T, H>(v: &[T], hash: H) -> Hash
where
    T: AsRef<[u8]>,
    H: Fn(&[u8]) -> Hash,
{
    let c = constancy_preprocess(v, &hash);
    match c.as_slice() {
        [x] => *x,
        _ => node_hash(&c, &hash),
    }
}

/// The trace function `T(v, i, H)` (GP E.1): the opposite node at each level, top to
/// bottom, on the path to item `i`. Empty if `v` has at most one item or `i` is out of range.
pub fn merkle_trace<T, H>(v: &[T], i: usize, hash: H) -> Vec<Vec<u8>>
where
    T: AsRef<[u8]>,
    H: Fn(&[u8]) -> Hash,
{
    let mut out = Vec::new();
    if i >= v.len() {
        return out;
    }
    let (mut v, mut i) = (v, i);
    while v.len() > 1 {
        let mid = v.len().div_ceil(2);
        let (l, r) = v.split_at(mid);
        let (same, other, offset) = if i < mid { (l, r, 0) } else { (r, l, mid) };
        out.push(merkle_node(other, &hash));
        v = same;
        i -= offset;
    }
    out
}

/// The paged justification `J_x(v, i, H)` (GP E.1): the Merkle path to the `i`-th page of
/// `2^x` leaves in the constant-depth tree of `v`.
pub fn merkle_justification<T, H>(v: &[T], i: usize, x: u32, hash: H) -> Vec<Hash>
where
    T: AsRef<[u8]>,
    H: Fn(&[u8]) -> Hash,
{
    let c = constancy_preprocess(v, &hash);
    let depth = ceil_log2(v.len().max(1));
    let keep = depth.saturating_sub(x as usize);
    let Some(index) = 1usize.checked_shl(x).and_then(|p| p.checked_mul(i)) else {
        return Vec::new();
    };
    merkle_trace(&c, index, &hash)
        .into_iter()
        .take(keep)
        .map(|n| n.try_into().unwrap_or(ZERO_HASH))
        .collect()
}

/// The leaf page `L_x(v, i, H)` (GP E.1): the `"leaf"`-prefixed hashes of the items of the
/// `i`-th page of `2^x` items.
pub fn merkle_leaf_page<T, H>(v: &[T], i: usize, x: u32, hash: H) -> Vec<Hash>
where
    T: AsRef<[u8]>,
    H: Fn(&[u8]) -> Hash,
{
    let Some(size) = 1usize.checked_shl(x) else {
        return Vec::new();
    };
    let start = size.saturating_mul(i).min(v.len());
    let end = start.saturating_add(size).min(v.len());
    let mut buf = Vec::new();
    v[start..end]
        .iter()
        .map(|l| {
            buf.clear();
            buf.extend_from_slice(LEAF_PREFIX);
            buf.extend_from_slice(l.as_ref());
            hash(&buf)
        })
        .collect()
}

fn ceil_log2(n: usize) -> usize {
    debug_assert!(n >= 1);
    (usize::BITS - (n - 1).leading_zeros()) as usize
}

/// [`merkle_wb`] with Blake2b-256.
pub fn merkle_wb_blake2b<T: AsRef<[u8]>>(v: &[T]) -> Hash {
    merkle_wb(v, blake2b_256)
}

/// [`merkle_cd`] with Blake2b-256.
pub fn merkle_cd_blake2b<T: AsRef<[u8]>>(v: &[T]) -> Hash {
    merkle_cd(v, blake2b_256)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> StateKey {
        let mut k = [0u8; 31];
        k[0] = b;
        k
    }

    #[test]
    fn empty_state_is_zero_hash() {
        let none: &[(StateKey, Vec<u8>)] = &[];
        assert_eq!(state_root(none), ZERO_HASH);
        assert_eq!(state_root_sorted(none), Ok(ZERO_HASH));
        assert_eq!(state_root_map::<Vec<u8>>(&BTreeMap::new()), ZERO_HASH);
    }

    #[test]
    fn single_entry_is_leaf_hash() {
        let kv = [(key(7), vec![1u8, 2, 3])];
        assert_eq!(state_root(&kv), leaf_hash(&key(7), &[1, 2, 3]));
    }

    #[test]
    fn order_and_duplicates() {
        let a = (key(0x10), vec![1u8; 40]);
        let b = (key(0x80), vec![2u8; 3]);
        let c = (key(0x11), vec![]);
        // Trie order (most significant bit first) is byte order: 0x10, 0x11, 0x80.
        let sorted = [a.clone(), c.clone(), b.clone()];
        let root = state_root_sorted(&sorted).unwrap();
        assert_eq!(state_root(&[b.clone(), a.clone(), c.clone()]), root);
        // The legacy layout orders keys differently (0x80 first) and gives another root.
        assert_ne!(state_root_in::<LegacyLsbFirst, _>(&sorted), root);
        // Last occurrence wins.
        let stale = (key(0x80), vec![9u8; 3]);
        assert_eq!(state_root(&[stale, b.clone(), a.clone(), c.clone()]), root);
        let map: BTreeMap<_, _> = sorted.iter().cloned().collect();
        assert_eq!(state_root_map(&map), root);
        assert_eq!(
            state_root_sorted(&[a.clone(), b.clone(), c.clone()]),
            Err(MerkleError::NotSorted { index: 2 })
        );
        assert_eq!(
            state_root_sorted(&[a.clone(), a.clone()]),
            Err(MerkleError::NotSorted { index: 1 })
        );
    }

    #[test]
    fn trie_order() {
        use std::cmp::Ordering::*;
        let mut a = [0u8; 31];
        let mut b = [0u8; 31];
        assert_eq!(trie_key_cmp(&a, &b), Equal);
        a[0] = 0x01;
        b[0] = 0x80;
        assert_eq!(trie_key_cmp(&a, &b), Less);
        assert_eq!(LegacyLsbFirst::key_cmp(&a, &b), Greater);
        a[0] = 0;
        b[0] = 0;
        a[30] = 0x01;
        b[30] = 0x02;
        assert_eq!(trie_key_cmp(&a, &b), Less);
        assert_eq!(trie_key_cmp(&b, &a), Greater);
        a[17] = 1;
        assert_eq!(trie_key_cmp(&a, &b), Greater);
        // Agrees with comparing the bit strings.
        fn bits<L: TrieLayout>(k: &StateKey) -> Vec<bool> {
            (0..248).map(|i| L::bit(k, i)).collect()
        }
        for (x, y) in [(0x12u8, 0x21u8), (0xf0, 0x0f), (0x01, 0x03)] {
            let mut p = [0u8; 31];
            let mut q = [0u8; 31];
            p[5] = x;
            q[5] = y;
            assert_eq!(trie_key_cmp(&p, &q), bits::<Gp>(&p).cmp(&bits::<Gp>(&q)));
            assert_eq!(
                LegacyLsbFirst::key_cmp(&p, &q),
                bits::<LegacyLsbFirst>(&p).cmp(&bits::<LegacyLsbFirst>(&q))
            );
        }
    }

    #[test]
    fn keys_sharing_a_long_prefix() {
        // Keys differing only in the last bit of the trie path (the low bit of octet 30).
        let mut k1 = [0xffu8; 31];
        let k2 = [0xffu8; 31];
        k1[30] = 0xfe;
        let root = state_root(&[(k2, vec![1u8]), (k1, vec![2u8])]);
        // Recompute by hand: 247 shared bits, then the split at bit 247.
        let mut h = branch_hash(&leaf_hash(&k1, &[2]), &leaf_hash(&k2, &[1]));
        for depth in (0..247).rev() {
            h = if Gp::bit(&k1, depth) {
                branch_hash(&ZERO_HASH, &h)
            } else {
                branch_hash(&h, &ZERO_HASH)
            };
        }
        assert_eq!(root, h);
    }

    #[test]
    fn well_balanced_small_cases() {
        let none: [&[u8]; 0] = [];
        assert_eq!(merkle_wb(&none, blake2b_256), ZERO_HASH);
        assert_eq!(merkle_wb(&[b"abc"], blake2b_256), blake2b_256(b"abc"));
        let v: [&[u8]; 3] = [b"a", b"b", b"c"];
        // N([a,b,c]) = H("node" ++ N([a,b]) ++ c), N([a,b]) = H("node" ++ a ++ b).
        let ab = blake2b_256(b"nodeab");
        let mut want = b"node".to_vec();
        want.extend_from_slice(&ab);
        want.extend_from_slice(b"c");
        assert_eq!(merkle_wb(&v, blake2b_256), blake2b_256(&want));
        assert_eq!(merkle_node(&v, blake2b_256), blake2b_256(&want).to_vec());
        assert_eq!(merkle_node(&v[..1], blake2b_256), b"a".to_vec());
    }

    #[test]
    fn constant_depth_small_cases() {
        let none: [&[u8]; 0] = [];
        assert_eq!(merkle_cd(&none, blake2b_256), ZERO_HASH);
        let one: [&[u8]; 1] = [b"x"];
        assert_eq!(merkle_cd(&one, blake2b_256), blake2b_256(b"leafx"));
        let three: [&[u8]; 3] = [b"x", b"y", b"z"];
        let c = constancy_preprocess(&three, blake2b_256);
        assert_eq!(c.len(), 4);
        assert_eq!(c[3], ZERO_HASH);
        let l = blake2b_256(&[b"node".as_slice(), &c[0], &c[1]].concat());
        let r = blake2b_256(&[b"node".as_slice(), &c[2], &c[3]].concat());
        let root = blake2b_256(&[b"node".as_slice(), &l, &r].concat());
        assert_eq!(merkle_cd(&three, blake2b_256), root);
    }

    /// Folds a trace back up to the root of `N(v)`, mirroring the split rule.
    fn fold_trace(len: usize, i: usize, item: Vec<u8>, trace: &[Vec<u8>]) -> Vec<u8> {
        // Recompute the list of (is_left, sibling) from the top down, then fold bottom up.
        let (mut n, mut i) = (len, i);
        let mut sides = Vec::new();
        while n > 1 {
            let mid = n.div_ceil(2);
            if i < mid {
                sides.push(true);
                n = mid;
            } else {
                sides.push(false);
                i -= mid;
                n -= mid;
            }
        }
        let mut acc = item;
        for (is_left, sib) in sides.iter().zip(trace).rev() {
            let mut buf = b"node".to_vec();
            if *is_left {
                buf.extend_from_slice(&acc);
                buf.extend_from_slice(sib);
            } else {
                buf.extend_from_slice(sib);
                buf.extend_from_slice(&acc);
            }
            acc = blake2b_256(&buf).to_vec();
        }
        acc
    }

    #[test]
    fn trace_and_justification_verify() {
        for n in 1..20usize {
            let items: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; 1 + i % 5]).collect();
            let root = merkle_node(&items, blake2b_256);
            for i in 0..n {
                let t = merkle_trace(&items, i, blake2b_256);
                assert_eq!(fold_trace(n, i, items[i].clone(), &t), root, "n={n} i={i}");
            }
            // Page size 1 (x = 0): justification of leaf i against the constant-depth root.
            let cd = merkle_cd(&items, blake2b_256);
            let c = constancy_preprocess(&items, blake2b_256);
            for i in 0..n {
                let j = merkle_justification(&items, i, 0, blake2b_256);
                let leaf = merkle_leaf_page(&items, i, 0, blake2b_256);
                assert_eq!(leaf, vec![c[i]]);
                let j: Vec<Vec<u8>> = j.iter().map(|h| h.to_vec()).collect();
                assert_eq!(fold_trace(c.len(), i, c[i].to_vec(), &j), cd.to_vec());
            }
        }
        assert!(merkle_trace(&[b"a"], 3, blake2b_256).is_empty());
        assert!(merkle_leaf_page(&[b"a"], 3, 1, blake2b_256).is_empty());
        assert!(merkle_justification(&[b"a"], 3, 99, blake2b_256).is_empty());
    }
}
