//! Crash consistency of the RocksDB store: a child process (this test binary re-invoked with
//! `JAM_STORE_CRASH_DIR` set) commits blocks in a loop and is killed with SIGKILL mid-way;
//! the reopened store must be exactly at a committed block: the last one the child reported,
//! or the one it was committing when killed, with that block's complete state.

use jam_state::hash::{blake2b_256, Hash, ZERO_HASH};
use jam_state::merkle::{state_root, state_root_sorted, StateKey};
use jam_state::store::{BlockCommit, RocksStore, StateUpdate, Store};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DIR_VAR: &str = "JAM_STORE_CRASH_DIR";

/// The changes of block `n`: deterministic, so the parent can replay them.
fn changes(n: u32) -> Vec<(StateKey, Option<Vec<u8>>)> {
    let mut x = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::new();
    for i in 0..40u32 {
        let mut k = [0u8; 31];
        // A bounded key space (so later blocks update and delete earlier keys).
        k[..8].copy_from_slice(&(next() % 3000).to_le_bytes());
        let v = match i % 8 {
            0 => None,
            1 => Some(vec![n as u8; 20_000]), // big values make big batches
            _ => Some(next().to_le_bytes().repeat(1 + i as usize % 6)),
        };
        out.push((k, v));
    }
    out
}

fn header(n: u32, parent: &Hash) -> Vec<u8> {
    let mut h = format!("header {n} ").into_bytes();
    h.extend_from_slice(parent);
    h
}

fn apply(map: &mut BTreeMap<StateKey, Vec<u8>>, n: u32) {
    for (k, v) in changes(n) {
        match v {
            Some(v) => map.insert(k, v),
            None => map.remove(&k),
        };
    }
}

/// The child: resumes at the store's best block and commits blocks until killed.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return; // a plain test run: nothing to do
    };
    let store = RocksStore::open(&dir).unwrap();
    let (mut n, mut parent, mut map) = match store.best_block().unwrap() {
        Some(best) => {
            let map: BTreeMap<_, _> = store
                .state(&best.hash)
                .unwrap()
                .unwrap()
                .into_iter()
                .collect();
            (best.slot, best.hash, map)
        }
        None => (0, ZERO_HASH, BTreeMap::new()),
    };
    let mut out = std::io::stdout().lock();
    loop {
        n += 1;
        apply(&mut map, n);
        let kvs: Vec<_> = map.iter().map(|(k, v)| (*k, v.clone())).collect();
        let header = header(n, &parent);
        let header_hash = blake2b_256(&header);
        writeln!(out, "begin {n}").unwrap();
        out.flush().unwrap();
        store
            .commit_block(BlockCommit {
                header_hash,
                header,
                block: vec![n as u8; 1000],
                slot: n,
                parent,
                state: StateUpdate::Changes(changes(n)),
                state_root: state_root(&kvs),
                make_best: true,
            })
            .unwrap();
        parent = header_hash;
        writeln!(out, "committed {n}").unwrap();
        out.flush().unwrap();
    }
}

/// Runs the child until it has reported `at_least` commits and SIGKILLs it; returns the last
/// commit it reported. With `mid_commit = Some(f)` it instead waits for the start of commit
/// `at_least` and kills `f` times the child's typical commit duration later (measured from
/// the commits before), so that the kill lands inside `commit_block`: in the trie update for
/// small `f`, in the RocksDB write for `f` near 1.
fn run_and_kill(dir: &std::path::Path, at_least: u32, mid_commit: Option<f64>) -> u32 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(DIR_VAR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = 0;
    let mut began = Instant::now();
    let mut durations = Vec::new();
    let mut delay = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("committed ") {
            last = n.trim().parse().unwrap();
            durations.push(began.elapsed());
            if mid_commit.is_none() && last >= at_least {
                delay = Some(Duration::ZERO);
                break;
            }
        } else if let Some(n) = line.strip_prefix("begin ") {
            began = Instant::now();
            let n: u32 = n.trim().parse().unwrap();
            if let (Some(f), true) = (mid_commit, n >= at_least && !durations.is_empty()) {
                durations.sort();
                delay = Some(durations[durations.len() / 2].mul_f64(f));
                break;
            }
        }
        assert!(Instant::now() < deadline, "child too slow");
    }
    let delay = delay.unwrap_or_else(|| panic!("child exited early: {:?}", child.wait()));
    std::thread::sleep(delay.saturating_sub(began.elapsed()));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    // What the child printed before it died.
    for line in lines {
        if let Some(n) = line.unwrap().strip_prefix("committed ") {
            last = n.trim().parse().unwrap();
        }
    }
    last
}

#[test]
fn killed_writer_recovers_at_last_commit() {
    if std::env::var(DIR_VAR).is_ok() {
        return; // inside the child
    }
    let dir = tempfile::tempdir().unwrap();
    let mut reported = 0;
    // Kill between commits and inside them, at different points of `commit_block`.
    let rounds = [
        None,
        Some(0.2),
        Some(0.6),
        Some(0.9),
        None,
        Some(0.95),
        Some(1.0),
        Some(1.05),
    ];
    for (round, mid_commit) in rounds.into_iter().enumerate() {
        let last = run_and_kill(dir.path(), reported + 3, mid_commit);
        let store = RocksStore::open(dir.path()).unwrap();
        let best = store
            .best_block()
            .unwrap()
            .expect("a best block after commits");
        assert!(
            best.slot == last || best.slot == last + 1,
            "round {round}: child reported block {last}, store is at {}",
            best.slot
        );
        // The best block's state loads completely and recomputes to the stored root ...
        let kvs = store.state(&best.hash).unwrap().unwrap();
        assert_eq!(
            state_root_sorted(&kvs).unwrap(),
            best.state_root,
            "round {round}"
        );
        // ... and is exactly the state after replaying blocks 1..=slot.
        let mut map = BTreeMap::new();
        for n in 1..=best.slot {
            apply(&mut map, n);
        }
        let expect: BTreeMap<_, _> = kvs.into_iter().collect();
        assert_eq!(expect, map, "round {round}");
        // Every ancestor is complete: header, block, index entry, state root.
        let mut h = best.hash;
        for n in (1..=best.slot).rev() {
            let info = store
                .block_info(&h)
                .unwrap()
                .unwrap_or_else(|| panic!("block {n} missing"));
            assert_eq!(info.slot, n);
            let header = store.header(&h).unwrap().unwrap();
            assert_eq!(blake2b_256(&header), h);
            assert_eq!(store.block(&h).unwrap().unwrap(), vec![n as u8; 1000]);
            let kvs = store.state_at_root(&info.state_root).unwrap();
            assert_eq!(
                state_root_sorted(&kvs).unwrap(),
                info.state_root,
                "block {n}"
            );
            h = info.parent;
        }
        assert_eq!(h, ZERO_HASH);
        eprintln!(
            "round {round} ({mid_commit:?}): killed after block {last} was reported; store at {}",
            best.slot
        );
        reported = best.slot;
    }
}
