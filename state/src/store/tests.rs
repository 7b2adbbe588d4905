//! Tests of the store, each run against both backends.

use super::*;
use crate::hash::ZERO_HASH;
use crate::merkle::{state_root, trie_key_cmp};
use std::collections::{BTreeMap, HashSet};

/// xorshift64*: deterministic test data without a dependency.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn key(&mut self) -> StateKey {
        let mut k = [0u8; 31];
        for c in k.chunks_mut(8) {
            let b = self.next().to_le_bytes();
            c.copy_from_slice(&b[..c.len()]);
        }
        k
    }
    fn value(&mut self) -> Vec<u8> {
        // Embedded (<= 32) and hashed (> 32) values, a few large ones.
        let len = match self.below(10) {
            0 => 0,
            1..=5 => self.below(33),
            6..=8 => 33 + self.below(200),
            _ => 1000 + self.below(5000),
        } as usize;
        let b = self.next() as u8;
        (0..len).map(|i| b.wrapping_add(i as u8)).collect()
    }
}

fn sorted(map: &BTreeMap<StateKey, Vec<u8>>) -> Vec<(StateKey, Vec<u8>)> {
    let mut v: Vec<_> = map.iter().map(|(k, v)| (*k, v.clone())).collect();
    v.sort_by(|a, b| trie_key_cmp(&a.0, &b.0));
    v
}

fn commit(n: u32, parent: Hash, state: StateUpdate, root: Hash) -> BlockCommit {
    let header = format!("header {n} parent {}", hex::encode(parent)).into_bytes();
    BlockCommit {
        header_hash: blake2b_256(&header),
        header,
        block: format!("block {n}").into_bytes(),
        slot: n,
        parent,
        state,
        state_root: root,
        make_best: true,
    }
}

/// All node hashes of the trie of `kvs`.
fn trie_nodes(kvs: &[(StateKey, Vec<u8>)]) -> HashSet<Hash> {
    let mut p = trie::Pending::default();
    trie::build_full(&mut p, &trie::sort_dedup(kvs.to_vec()));
    p.nodes.keys().copied().collect()
}

/// Opens a store of one backend in a (fresh) directory.
type Opener = Box<dyn Fn(&std::path::Path) -> Box<dyn Backend>>;

fn backends() -> Vec<(&'static str, Opener)> {
    vec![
        ("memory", Box::new(|_| Box::new(MemoryStore::new()))),
        (
            "rocks",
            Box::new(|dir| Box::new(RocksStore::open(dir).unwrap())),
        ),
    ]
}

/// A store with its column counts, so one test body covers both backends.
trait Backend: Store {
    fn nodes(&self) -> usize;
    fn values(&self) -> usize;
    fn raw(&self) -> &dyn KeyValueDb;
}

impl<B: KeyValueDb> Backend for TrieStore<B> {
    fn nodes(&self) -> usize {
        self.node_count().unwrap()
    }
    fn values(&self) -> usize {
        self.value_count().unwrap()
    }
    fn raw(&self) -> &dyn KeyValueDb {
        self.db()
    }
}

fn for_each_backend(f: impl Fn(&str, &dyn Backend)) {
    for (name, open) in backends() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        f(name, store.as_ref());
    }
}

#[test]
fn empty_store() {
    for_each_backend(|name, s| {
        assert_eq!(s.best_block().unwrap(), None, "{name}");
        assert_eq!(s.state(&[1; 32]).unwrap(), None, "{name}");
        assert_eq!(s.header(&[1; 32]).unwrap(), None, "{name}");
        assert_eq!(s.state_at_root(&ZERO_HASH).unwrap(), vec![], "{name}");
        assert!(
            matches!(s.state_at_root(&[9; 32]), Err(StoreError::MissingNode(h)) if h == [9; 32]),
            "{name}"
        );
    });
}

#[test]
fn round_trip_full_state() {
    for_each_backend(|name, s| {
        let mut rng = Rng(0x1234_5678);
        let map: BTreeMap<StateKey, Vec<u8>> = (0..500).map(|_| (rng.key(), rng.value())).collect();
        let kvs: Vec<_> = map.iter().map(|(k, v)| (*k, v.clone())).collect();
        let root = state_root(&kvs);
        let c = commit(1, ZERO_HASH, StateUpdate::Full(kvs), root);
        let (hh, header, block) = (c.header_hash, c.header.clone(), c.block.clone());
        s.commit_block(c).unwrap();

        let best = s.best_block().unwrap().unwrap();
        assert_eq!(
            best,
            BestBlock {
                hash: hh,
                slot: 1,
                parent: ZERO_HASH,
                state_root: root
            },
            "{name}"
        );
        assert_eq!(s.state_root(&hh).unwrap(), Some(root));
        assert_eq!(s.header(&hh).unwrap(), Some(header));
        assert_eq!(s.block(&hh).unwrap(), Some(block));
        let loaded = s.state(&hh).unwrap().unwrap();
        assert_eq!(loaded, sorted(&map), "{name}");
        assert_eq!(crate::merkle::state_root_sorted(&loaded).unwrap(), root);
        for (k, v) in map.iter().take(50) {
            assert_eq!(s.state_value(&root, k).unwrap().as_ref(), Some(v), "{name}");
        }
        assert_eq!(s.state_value(&root, &rng.key()).unwrap(), None);
        let big = map
            .values()
            .filter(|v| v.len() > 32)
            .collect::<HashSet<_>>()
            .len();
        assert_eq!(
            s.values(),
            big,
            "{name}: one stored value per distinct long value"
        );
    });
}

#[test]
fn changes_and_full_commits_agree() {
    for_each_backend(|name, s| {
        let full = MemoryStore::new();
        let mut rng = Rng(42);
        let mut map: BTreeMap<StateKey, Vec<u8>> = BTreeMap::new();
        let mut parent = ZERO_HASH;
        for n in 1..=60u32 {
            let mut changes = Vec::new();
            // Grow, churn, shrink to one and to zero entries, regrow.
            let (inserts, deletes) = match n {
                1..=20 => (15, 3),
                21..=30 => (5, 5),
                31 => (0, usize::MAX),
                32 => (1, 0),
                33 => (0, 1),
                _ => (4, 2),
            };
            let keys: Vec<StateKey> = map.keys().copied().collect();
            if deletes == usize::MAX {
                changes.extend(keys.iter().map(|k| (*k, None)));
            } else if !keys.is_empty() {
                for _ in 0..deletes {
                    changes.push((keys[rng.below(keys.len() as u64) as usize], None));
                }
            }
            for _ in 0..inserts {
                let k = if !keys.is_empty() && rng.below(3) == 0 {
                    keys[rng.below(keys.len() as u64) as usize]
                } else {
                    rng.key()
                };
                changes.push((k, Some(rng.value())));
            }
            // A repeated key: the last change wins.
            if let Some((k, _)) = changes.first().cloned() {
                changes.push((k, Some(b"last wins".to_vec())));
            }
            for (k, v) in &changes {
                match v {
                    Some(v) => map.insert(*k, v.clone()),
                    None => map.remove(k),
                };
            }
            let expect = sorted(&map);
            let root = state_root(&expect);
            let c = commit(n, parent, StateUpdate::Changes(changes), root);
            let hh = c.header_hash;
            s.commit_block(c)
                .unwrap_or_else(|e| panic!("{name}: block {n}: {e}"));
            full.commit_block(commit(n, parent, StateUpdate::Full(expect.clone()), root))
                .unwrap();
            assert_eq!(s.state(&hh).unwrap().unwrap(), expect, "{name}: block {n}");
            parent = hh;
        }
        // Both hold exactly the union of the committed tries.
        assert_eq!(s.nodes(), full.node_count().unwrap(), "{name}");
        assert_eq!(s.values(), full.value_count().unwrap(), "{name}");
    });
}

#[test]
fn shared_subtrees_stored_once() {
    for_each_backend(|name, s| {
        let mut rng = Rng(7);
        let mut map: BTreeMap<StateKey, Vec<u8>> =
            (0..1000).map(|_| (rng.key(), rng.value())).collect();
        let a = sorted(&map);
        let ra = state_root(&a);
        let ca = commit(1, ZERO_HASH, StateUpdate::Full(a.clone()), ra);
        let ha = ca.header_hash;
        s.commit_block(ca).unwrap();
        let nodes_a = trie_nodes(&a);
        assert_eq!(s.nodes(), nodes_a.len(), "{name}");

        // Change one value: only the path from the root to that leaf is new.
        let k = *map.keys().nth(500).unwrap();
        map.insert(k, b"changed".to_vec());
        let b = sorted(&map);
        let rb = state_root(&b);
        s.commit_block(commit(2, ha, StateUpdate::Full(b.clone()), rb))
            .unwrap();
        let nodes_b = trie_nodes(&b);
        let union: HashSet<_> = nodes_a.union(&nodes_b).collect();
        assert_eq!(s.nodes(), union.len(), "{name}");
        let added = union.len() - nodes_a.len();
        assert!(
            added <= 32,
            "{name}: one changed leaf added {added} nodes to a 1000-leaf trie"
        );

        // Re-committing an identical state (another block) adds no node and no value.
        let (n0, v0) = (s.nodes(), s.values());
        s.commit_block(commit(3, ha, StateUpdate::Full(b), rb))
            .unwrap();
        assert_eq!((s.nodes(), s.values()), (n0, v0), "{name}");
    });
}

#[test]
fn rejected_commits_write_nothing() {
    for_each_backend(|name, s| {
        let kvs = vec![([1u8; 31], vec![1u8; 40]), ([2u8; 31], vec![2u8])];
        let root = state_root(&kvs);
        let c1 = commit(1, ZERO_HASH, StateUpdate::Full(kvs.clone()), root);
        let h1 = c1.header_hash;
        s.commit_block(c1).unwrap();
        let before = (s.nodes(), s.values(), s.best_block().unwrap());

        let mut bad = commit(
            2,
            h1,
            StateUpdate::Changes(vec![([3u8; 31], Some(vec![7u8; 99]))]),
            root,
        );
        let bad_hash = bad.header_hash;
        assert!(
            matches!(
                s.commit_block(bad.clone()),
                Err(StoreError::StateRootMismatch { .. })
            ),
            "{name}"
        );
        bad.header_hash = [0; 32];
        assert!(
            matches!(
                s.commit_block(bad),
                Err(StoreError::HeaderHashMismatch { .. })
            ),
            "{name}"
        );
        let orphan = commit(2, [5; 32], StateUpdate::Changes(vec![]), root);
        assert!(
            matches!(s.commit_block(orphan), Err(StoreError::UnknownBlock(h)) if h == [5; 32]),
            "{name}"
        );

        assert_eq!(
            (s.nodes(), s.values(), s.best_block().unwrap()),
            before,
            "{name}"
        );
        assert_eq!(s.header(&bad_hash).unwrap(), None);
        assert_eq!(s.state_root(&bad_hash).unwrap(), None);
    });
}

#[test]
fn best_block_pointer() {
    for_each_backend(|name, s| {
        let kvs = vec![([1u8; 31], vec![1u8])];
        let root = state_root(&kvs);
        let c1 = commit(1, ZERO_HASH, StateUpdate::Full(kvs), root);
        let h1 = c1.header_hash;
        s.commit_block(c1).unwrap();
        let mut c2 = commit(
            2,
            h1,
            StateUpdate::Changes(vec![([1u8; 31], None)]),
            ZERO_HASH,
        );
        c2.make_best = false;
        let h2 = c2.header_hash;
        s.commit_block(c2).unwrap();
        assert_eq!(s.best_block().unwrap().unwrap().hash, h1, "{name}");
        assert_eq!(s.state(&h2).unwrap(), Some(vec![]), "{name}");
        s.set_best_block(&h2).unwrap();
        let best = s.best_block().unwrap().unwrap();
        assert_eq!(
            (best.hash, best.slot, best.parent, best.state_root),
            (h2, 2, h1, ZERO_HASH),
            "{name}"
        );
        assert!(
            matches!(s.set_best_block(&[8; 32]), Err(StoreError::UnknownBlock(_))),
            "{name}"
        );
    });
}

#[test]
fn corruption_is_detected() {
    for_each_backend(|name, s| {
        let kvs = vec![([1u8; 31], vec![1u8; 50]), ([2u8; 31], vec![2u8])];
        let root = state_root(&kvs);
        let c = commit(1, ZERO_HASH, StateUpdate::Full(kvs.clone()), root);
        let hh = c.header_hash;
        s.commit_block(c).unwrap();
        // Overwrite the long value with other bytes under the same key.
        let mut batch = Batch::default();
        batch.put(Column::Values, &blake2b_256(&kvs[0].1), b"not the value");
        s.raw().write(batch).unwrap();
        assert!(
            matches!(s.state(&hh), Err(StoreError::Corruption(_))),
            "{name}"
        );
        // And a trie node.
        let mut batch = Batch::default();
        batch.put(Column::Nodes, &root, &[0u8; 65]);
        s.raw().write(batch).unwrap();
        assert!(
            matches!(s.state(&hh), Err(StoreError::Corruption(_))),
            "{name}"
        );
    });
}

#[test]
fn rocks_reopen_resumes_at_best_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(99);
    let mut map: BTreeMap<StateKey, Vec<u8>> = BTreeMap::new();
    let mut parent = ZERO_HASH;
    {
        let s = RocksStore::open(dir.path()).unwrap();
        for n in 1..=5u32 {
            let changes: Vec<_> = (0..20).map(|_| (rng.key(), Some(rng.value()))).collect();
            for (k, v) in &changes {
                map.insert(*k, v.clone().unwrap());
            }
            let root = state_root(&sorted(&map));
            let c = commit(n, parent, StateUpdate::Changes(changes), root);
            parent = c.header_hash;
            s.commit_block(c).unwrap();
        }
        // A second open of the same directory fails while the first holds its lock.
        assert!(matches!(
            RocksStore::open(dir.path()),
            Err(StoreError::Io(_))
        ));
    }
    let s = RocksStore::open(dir.path()).unwrap();
    let best = s.best_block().unwrap().unwrap();
    assert_eq!((best.hash, best.slot), (parent, 5));
    let expect = sorted(&map);
    assert_eq!(best.state_root, state_root(&expect));
    assert_eq!(s.state(&best.hash).unwrap().unwrap(), expect);
    assert_eq!(
        s.header(&best.hash).unwrap().map(|h| blake2b_256(&h)),
        Some(best.hash)
    );
    // Import continues on top of the reopened store.
    let k = rng.key();
    map.insert(k, b"after reopen".to_vec());
    let root = state_root(&sorted(&map));
    s.commit_block(commit(
        6,
        parent,
        StateUpdate::Changes(vec![(k, Some(b"after reopen".to_vec()))]),
        root,
    ))
    .unwrap();
    assert_eq!(s.best_block().unwrap().unwrap().slot, 6);
}

#[test]
fn deep_paths_grow_and_collapse() {
    // Keys agreeing on long prefixes give chains of one-sided branches; deleting down to one
    // key under such a chain must float the lone leaf up to where the chain began.
    let mut universe = Vec::new();
    for i in 0..16u8 {
        let mut k = [0u8; 31];
        k[30] = i & 0b0111; // differ only in the last three bits (depth 245..=247)
        k[0] = ((i >> 3) & 1) << 7; // or also in the very first bit
        universe.push(k);
    }
    universe.push([0xff; 31]);
    for_each_backend(|name, s| {
        let mut rng = Rng(5);
        let mut map: BTreeMap<StateKey, Vec<u8>> = BTreeMap::new();
        let mut parent = ZERO_HASH;
        for n in 1..=150u32 {
            let mut changes = Vec::new();
            for _ in 0..1 + rng.below(4) {
                let k = universe[rng.below(universe.len() as u64) as usize];
                let v = if rng.below(2) == 0 {
                    None
                } else {
                    Some(rng.value())
                };
                match &v {
                    Some(v) => map.insert(k, v.clone()),
                    None => map.remove(&k),
                };
                changes.push((k, v));
            }
            let expect = sorted(&map);
            let c = commit(
                n,
                parent,
                StateUpdate::Changes(changes),
                state_root(&expect),
            );
            parent = c.header_hash;
            s.commit_block(c)
                .unwrap_or_else(|e| panic!("{name}: block {n}: {e}"));
            assert_eq!(
                s.state(&parent).unwrap().unwrap(),
                expect,
                "{name}: block {n}"
            );
        }
    });
}
