//! State serialization (GP v0.7.2 D.1–D.2) on the block-import traces: every step of the six
//! trace sets and every `genesis.bin` decodes, its pre- and post-state key/values parse into a
//! typed `State`, re-serialise to the identical key/values, and Merklize to the stated root.

use jam_conformance::vectors::jam_vectors_dir;
use jam_state::codec::decode_exact;
use jam_state::hash::blake2b_256;
use jam_state::keys::{self, KeyKind, StateKey};
use jam_state::merkle;
use jam_state::params::Params;
use jam_state::state::{State, StateRootCache};
use jam_state::trace::{Genesis, RawState, TraceStep};
use jam_state::types::OpaqueHash;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SETS: [&str; 6] = [
    "fallback",
    "safrole",
    "storage",
    "storage_light",
    "preimages",
    "preimages_light",
];

/// What kinds of keys a raw state holds (service-data kinds recognised where the key shows it).
#[derive(Default)]
struct KeyStats {
    components: BTreeSet<u8>,
    services: BTreeSet<u32>,
    preimages: usize,
    lookups: usize,
    other_data: usize,
    /// States whose service data are all preimages with their lookups, so that the account
    /// footprint (`a_i`, `a_o`) can be recomputed from the key/values.
    footprints_checked: usize,
    footprint_errors: Vec<String>,
}

impl KeyStats {
    fn add(&mut self, raw: &RawState) {
        let mut preimage_hashes = Vec::new();
        for kv in &raw.keyvals {
            if let KeyKind::ServiceData(s) = keys::classify(&kv.key) {
                let h = OpaqueHash(blake2b_256(&kv.value));
                if keys::preimage_key(s, &h) == kv.key {
                    preimage_hashes.push((s, h, kv.value.len() as u32));
                }
            }
        }
        let lookup_keys: BTreeSet<StateKey> = preimage_hashes
            .iter()
            .map(|(s, h, l)| keys::lookup_key(*s, h, *l))
            .collect();
        for kv in &raw.keyvals {
            match keys::classify(&kv.key) {
                KeyKind::Component(i) => {
                    self.components.insert(i);
                }
                KeyKind::ServiceInfo(s) => {
                    self.services.insert(s);
                }
                KeyKind::ServiceData(_) => {}
            }
        }
        let data = raw
            .keyvals
            .iter()
            .filter(|kv| matches!(keys::classify(&kv.key), KeyKind::ServiceData(_)))
            .count();
        let lookups = raw
            .keyvals
            .iter()
            .filter(|kv| lookup_keys.contains(&kv.key))
            .count();
        self.preimages += preimage_hashes.len();
        self.lookups += lookups;
        self.other_data += data - preimage_hashes.len() - lookups;
        if data == preimage_hashes.len() + lookups && lookups == preimage_hashes.len() {
            self.check_footprints(raw, &preimage_hashes);
        }
    }

    /// GP 9.8: `a_i = 2·|a_l| + |a_s|`, `a_o = Σ_(h,z)∈a_l (81 + z) + Σ_(k,v)∈a_s (34 + |k| + |v|)`,
    /// here with no storage, checked against the decoded `ServiceInfo` (field order sanity).
    fn check_footprints(&mut self, raw: &RawState, preimages: &[(u32, OpaqueHash, u32)]) {
        let params = Params::tiny();
        let state = match raw.to_state(&params) {
            Ok(s) => s,
            Err(_) => return,
        };
        for (s, info) in &state.accounts {
            let mine: Vec<_> = preimages.iter().filter(|(t, _, _)| t == s).collect();
            let items = 2 * mine.len() as u32;
            let octets: u64 = mine.iter().map(|(_, _, z)| 81 + *z as u64).sum();
            if (info.items, info.bytes) != (items, octets) {
                self.footprint_errors.push(format!(
                    "service {s}: items/bytes {}/{} but key/values give {items}/{octets}",
                    info.items, info.bytes
                ));
            }
        }
        self.footprints_checked += 1;
    }
}

/// Checks one raw state; `Err` names the first problem.
fn check_state(raw: &RawState, params: &Params, what: &str) -> Result<(), String> {
    let state = raw.to_state(params).map_err(|e| format!("{what}: {e}"))?;
    let kvs = state.to_key_values();
    let mut expected = raw.pairs();
    expected.sort_by_key(|a| a.0);
    if kvs.len() != expected.len() {
        return Err(format!(
            "{what}: {} key/values re-serialised, {} expected",
            kvs.len(),
            expected.len()
        ));
    }
    if let Some(((k, v), (_, w))) = expected.iter().zip(&kvs).find(|(a, b)| a != b) {
        return Err(format!(
            "{what}: key 0x{} ({:?}) re-serialises differently ({} vs {} bytes)",
            hex::encode(k),
            keys::classify(k),
            v.len(),
            w.len()
        ));
    }
    let file_root = raw.computed_root();
    if file_root != raw.state_root {
        return Err(format!(
            "{what}: round trip ok, but merkle::state_root(keyvals) = {file_root}, state_root = {}",
            raw.state_root
        ));
    }
    if merkle::state_root(&kvs) != raw.state_root.0 {
        return Err(format!("{what}: root of re-serialised key/values differs"));
    }
    if state.state_root() != raw.state_root.0 {
        return Err(format!("{what}: State::state_root differs"));
    }
    let mut cache = StateRootCache::default();
    if state.state_root_cached(&mut cache) != raw.state_root.0
        || state.state_root_cached(&mut cache) != raw.state_root.0
    {
        return Err(format!("{what}: State::state_root_cached differs"));
    }
    Ok(())
}

fn files_of(set: &str) -> Vec<PathBuf> {
    let dir = jam_vectors_dir().join("traces").join(set);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "bin")
                && p.file_name().is_some_and(|n| n != "genesis.bin")
        })
        .collect();
    files.sort();
    files
}

fn check_step(path: &Path, params: &Params) -> Result<(TraceStep, Result<(), String>), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let step: TraceStep = decode_exact(&bytes, params).map_err(|e| format!("decode: {e}"))?;
    let r = check_state(&step.pre_state, params, "pre_state")
        .and_then(|()| check_state(&step.post_state, params, "post_state"));
    Ok((step, r))
}

#[test]
fn trace_states_round_trip() {
    let params = Params::tiny();
    let mut failures = Vec::new();
    let mut steps = 0;
    let mut genesis_count = 0;
    let mut report = Vec::new();
    for set in SETS {
        let genesis_path = jam_vectors_dir()
            .join("traces")
            .join(set)
            .join("genesis.bin");
        let mut stats = KeyStats::default();
        match std::fs::read(&genesis_path)
            .map_err(|e| e.to_string())
            .and_then(|b| decode_exact::<Genesis>(&b, &params).map_err(|e| format!("decode: {e}")))
        {
            Ok(g) => {
                genesis_count += 1;
                stats.add(&g.state);
                if let Err(e) = check_state(&g.state, &params, "state") {
                    failures.push(format!("{set}/genesis.bin: {e}"));
                }
            }
            Err(e) => failures.push(format!("{set}/genesis.bin: {e}")),
        }
        let files = files_of(set);
        type Checked = Result<(TraceStep, Result<(), String>), String>;
        let results: Vec<(PathBuf, Checked)> = files
            .par_iter()
            .map(|p| (p.clone(), check_step(p, &params)))
            .collect();
        let mut max_keys = 0;
        for (p, r) in results {
            steps += 1;
            match r {
                Ok((step, r)) => {
                    stats.add(&step.pre_state);
                    stats.add(&step.post_state);
                    max_keys = max_keys.max(step.post_state.keyvals.len());
                    if let Err(e) = r {
                        failures.push(format!("{}: {e}", p.display()));
                    }
                }
                Err(e) => failures.push(format!("{}: {e}", p.display())),
            }
        }
        report.push(format!(
            "{set}: {} steps; components {:?}; services {:?}; max keys {max_keys}; \
             service data seen: {} preimages, {} lookups (of present preimages), {} other \
             (storage or lookups of absent preimages); account footprints recomputed in {} states",
            files.len(),
            stats.components,
            stats.services,
            stats.preimages,
            stats.lookups,
            stats.other_data,
            stats.footprints_checked
        ));
        for e in &stats.footprint_errors {
            failures.push(format!("{set}: footprint {e}"));
        }
    }
    for r in &report {
        eprintln!("{r}");
    }
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    eprintln!(
        "trace states: {} steps + {genesis_count} genesis, {} failed",
        steps,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} trace states failed",
        failures.len()
    );
    assert_eq!(steps, 600, "expected 600 trace steps");
    assert_eq!(genesis_count, 6, "expected 6 genesis files");
}

/// Consecutive steps chain: each step's pre-state is the previous step's post-state, and the
/// first step starts from genesis.
#[test]
fn trace_steps_chain() {
    let params = Params::tiny();
    for set in SETS {
        let g: Genesis = decode_exact(
            &std::fs::read(
                jam_vectors_dir()
                    .join("traces")
                    .join(set)
                    .join("genesis.bin"),
            )
            .unwrap(),
            &params,
        )
        .unwrap();
        let mut prev_root = g.state.state_root;
        let mut roots = BTreeMap::new();
        for p in files_of(set) {
            let step: TraceStep = decode_exact(&std::fs::read(&p).unwrap(), &params).unwrap();
            assert_eq!(
                step.pre_state.state_root,
                prev_root,
                "{}: pre_state root is not the previous post_state root",
                p.display()
            );
            assert_eq!(
                step.block.header.parent_state_root,
                step.pre_state.state_root,
                "{}: header parent_state_root",
                p.display()
            );
            prev_root = step.post_state.state_root;
            roots.insert(p, prev_root);
        }
        assert_eq!(roots.len(), 100, "{set}");
    }
}

/// Prints (asserts nothing about time) what serialising and Merklizing a state costs, uncached
/// and with `StateRootCache` carried from one step's post-state to the next.
#[test]
fn trace_state_root_cost() {
    let params = Params::tiny();
    for set in ["storage", "preimages"] {
        let states: Vec<State> = files_of(set)
            .iter()
            .map(|p| {
                let step: TraceStep = decode_exact(&std::fs::read(p).unwrap(), &params).unwrap();
                step.post_state.to_state(&params).unwrap()
            })
            .collect();
        let t = std::time::Instant::now();
        let mut bytes = 0;
        for s in &states {
            bytes += s
                .to_key_values()
                .iter()
                .map(|(_, v)| v.len())
                .sum::<usize>();
        }
        let kv_time = t.elapsed();
        let t = std::time::Instant::now();
        let roots: Vec<_> = states.iter().map(State::state_root).collect();
        let root_time = t.elapsed();
        let mut cache = StateRootCache::default();
        let t = std::time::Instant::now();
        for (s, r) in states.iter().zip(&roots) {
            assert_eq!(s.state_root_cached(&mut cache), *r);
        }
        let cached_time = t.elapsed();
        let n = states.len() as u32;
        eprintln!(
            "{set}: {n} states, {} KiB serialised on average; per state: to_key_values {:?}, \
             state_root {:?}, state_root_cached {:?}",
            bytes / states.len() / 1024,
            kv_time / n,
            root_time / n,
            cached_time / n
        );
    }
}

/// The two recorded fuzz sessions (`shared/fuzz-proto/examples/{forks,no_forks}`) start with an
/// `Initialize` message whose key/values must parse into a `State`, re-serialise identically and
/// Merklize to the root the reference target answered with.
#[test]
fn fuzz_initialize_states_round_trip() {
    use jam_state::codec::{Decode, Reader};
    use jam_state::trace::KeyValue;
    use jam_state::types::Header;
    let params = Params::tiny();
    let dir = jam_vectors_dir()
        .join("..")
        .join("fuzz-proto")
        .join("examples");
    let mut checked = 0;
    for session in ["forks", "no_forks"] {
        let msg = std::fs::read(dir.join(session).join("00000001_fuzzer_initialize.bin")).unwrap();
        let reply =
            std::fs::read(dir.join(session).join("00000001_target_state_root.bin")).unwrap();
        assert_eq!(msg[0], 1, "{session}: Initialize tag");
        assert_eq!(
            (reply[0], reply.len()),
            (2, 33),
            "{session}: StateRoot reply"
        );
        let mut r = Reader::new(&msg[1..], &params);
        let _header = Header::decode(&mut r).unwrap();
        let keyvals = Vec::<KeyValue>::decode(&mut r).unwrap();
        let raw = RawState {
            state_root: OpaqueHash::from_slice(&reply[1..]).unwrap(),
            keyvals,
        };
        check_state(&raw, &params, session).unwrap();
        checked += 1;
    }
    assert_eq!(checked, 2);
}
