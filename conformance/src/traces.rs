//! Block-import traces (`traces/<set>/NNNNNNNN.bin`, schema `traces/schema.asn`, tiny spec):
//! each step's block is imported on its `pre_state` and the posterior is compared with
//! `post_state`, root and key/values. A rejected block passes when `post_state` equals `pre_state`.
//!
//! The headers of the folder's `genesis.bin` and of the blocks of earlier steps form the ancestor
//! set (lookup-anchor checks); they are read once per folder and cached for the process.

use crate::{CaseError, CaseOutcome, CaseResult, Mismatch};
use jam_consensus::bandersnatch::{RingCache, RingContext};
use jam_consensus::import::{import_block, ImportContext, ImportError};
use jam_state::codec::{decode_exact, Decode, Reader};
use jam_state::keys::{self, component, KeyKind, StateKey};
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::trace::{Genesis, RawState, TraceStep};
use jam_state::types::{Block, HeaderHash, TimeSlot};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Runs one trace step (one case).
pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    vec![CaseOutcome::of_file(path, run_step(path).result)]
}

/// What running one step did: the verdict, and what the import did, for reports and timing.
#[derive(Clone, Debug)]
pub struct StepRun {
    /// `Ok` when the outcome is the vector's.
    pub result: CaseResult,
    /// The import's error when the block was rejected.
    pub rejected: Option<ImportError>,
    /// Wall time of `import_block` alone (no decoding, no serialisation); `None` if not run.
    pub import_time: Option<Duration>,
}

/// Runs one trace step: imports its block on its pre-state and compares with its post-state.
pub fn run_step(path: &Path) -> StepRun {
    let mut run = StepRun {
        result: Ok(()),
        rejected: None,
        import_time: None,
    };
    run.result = step(path, &mut run);
    run
}

fn step(path: &Path, run: &mut StepRun) -> CaseResult {
    let params = Params::tiny();
    let bytes = std::fs::read(path).map_err(|e| CaseError::failed(format!("read: {e}")))?;
    let step: TraceStep =
        decode_exact(&bytes, &params).map_err(|e| CaseError::failed(format!("decode: {e}")))?;
    let pre = step
        .pre_state
        .to_state(&params)
        .map_err(|e| CaseError::failed(format!("pre_state: {e}")))?;

    let mut ctx = ImportContext::with_ring(ring(&params)?);
    ctx.prior_state_root = Some(step.pre_state.state_root);
    ctx.ancestry = Some(ancestry(path, &params)?);

    let start = Instant::now();
    let result = import_block(&params, &ctx, &pre, &step.block);
    run.import_time = Some(start.elapsed());

    // An invalid block leaves the state as it was.
    let expect_rejection = step.post_state.state_root == step.pre_state.state_root;
    match result {
        Ok((post, _)) => {
            let got = RawState::from_state(&post);
            compare(&params, &step.post_state, &got, &post).map_err(|mut e| {
                if let CaseError::Mismatch(m) = &mut e {
                    if expect_rejection {
                        m.field = format!("block accepted, but the vector rejects it; {}", m.field);
                    }
                }
                e
            })
        }
        Err(err) if expect_rejection => {
            run.rejected = Some(err);
            Ok(())
        }
        Err(err) => Err(CaseError::failed(format!("block rejected: {err}"))),
    }
}

/// The ring context for `V` keys, shared by every case of the process.
fn ring(params: &Params) -> Result<Arc<RingContext>, CaseError> {
    static CACHE: OnceLock<RingCache> = OnceLock::new();
    CACHE
        .get_or_init(RingCache::new)
        .get(params.validators())
        .map_err(|e| CaseError::failed(format!("ring context: {e}")))
}

/// The headers of a trace folder: genesis and every step's block, by step file.
struct FolderHeaders {
    genesis: Option<(HeaderHash, TimeSlot)>,
    steps: BTreeMap<PathBuf, (HeaderHash, TimeSlot)>,
}

fn folder_headers(dir: &Path, params: &Params) -> Result<Arc<FolderHeaders>, String> {
    type Slot = Arc<OnceLock<Result<Arc<FolderHeaders>, String>>>;
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Slot>>> = OnceLock::new();
    let slot: Slot = {
        let mut map = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(dir.to_path_buf()).or_default().clone()
    };
    slot.get_or_init(|| read_folder_headers(dir, params).map(Arc::new))
        .clone()
}

fn read_folder_headers(dir: &Path, params: &Params) -> Result<FolderHeaders, String> {
    let genesis_path = dir.join("genesis.bin");
    let genesis = if genesis_path.exists() {
        let bytes = std::fs::read(&genesis_path).map_err(|e| format!("genesis: {e}"))?;
        let g: Genesis = decode_exact(&bytes, params).map_err(|e| format!("genesis: {e}"))?;
        Some((g.header.hash(), g.header.slot))
    } else {
        None
    };
    let mut steps = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let p = entry.map_err(|e| e.to_string())?.path();
        let is_step = p.extension().is_some_and(|e| e == "bin")
            && p.file_name().is_some_and(|n| n != "genesis.bin");
        if !is_step {
            continue;
        }
        let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        // Only the block is needed: skip the pre-state, decode the block, ignore the rest.
        let mut r = Reader::new(&bytes, params);
        RawState::decode(&mut r)
            .and_then(|_| Block::decode(&mut r))
            .map(|b| steps.insert(p.clone(), (b.header.hash(), b.header.slot)))
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(FolderHeaders { genesis, steps })
}

/// The ancestor set of a step: the genesis header and the blocks of the earlier steps.
fn ancestry(path: &Path, params: &Params) -> Result<HashMap<HeaderHash, TimeSlot>, CaseError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let headers = folder_headers(dir, params).map_err(CaseError::failed)?;
    let mut set: HashMap<HeaderHash, TimeSlot> = headers
        .steps
        .range(..path.to_path_buf())
        .map(|(_, &(h, t))| (h, t))
        .collect();
    if let Some((h, t)) = headers.genesis {
        set.insert(h, t);
    }
    Ok(set)
}

/// Compares the computed posterior with the vector's: root, then key/values; on a mismatch
/// names the first differing key, what it belongs to and (for typed components) the first
/// differing field.
fn compare(params: &Params, expected: &RawState, got: &RawState, got_state: &State) -> CaseResult {
    let e: BTreeMap<StateKey, &[u8]> = expected
        .keyvals
        .iter()
        .map(|kv| (kv.key, kv.value.as_slice()))
        .collect();
    let g: BTreeMap<StateKey, &[u8]> = got
        .keyvals
        .iter()
        .map(|kv| (kv.key, kv.value.as_slice()))
        .collect();
    let first = e
        .keys()
        .chain(g.keys())
        .filter(|k| e.get(*k) != g.get(*k))
        .min()
        .copied();
    let Some(key) = first else {
        if expected.state_root != got.state_root {
            return Err(CaseError::mismatch(
                "post_state.state_root (key/values equal)",
                expected.state_root,
                got.state_root,
            ));
        }
        return Ok(());
    };
    let (ev, gv) = (e.get(&key).copied(), g.get(&key).copied());
    let mut field = format!("post_state[0x{}] ({})", hex::encode(key), owner(&key));
    let mut detail = (show(ev), show(gv));
    // For a typed part of the state, the first differing field is more telling.
    if let Ok(exp_state) = expected.to_state(params) {
        if let (Ok(ej), Ok(gj)) = (
            serde_json::to_value(part(&exp_state, &key)),
            serde_json::to_value(part(got_state, &key)),
        ) {
            if let Some(Mismatch {
                field: f,
                expected: x,
                got: y,
            }) = crate::diff::first_diff(&ej, &gj)
            {
                field = format!("{field} at {f}");
                detail = (x, y);
            }
        }
    }
    Err(CaseError::Mismatch(Mismatch {
        field,
        expected: detail.0,
        got: detail.1,
    }))
}

/// What a state key belongs to, in words.
fn owner(key: &StateKey) -> String {
    match keys::classify(key) {
        KeyKind::Component(i) => component::name(i).to_string(),
        KeyKind::ServiceInfo(s) => format!("service {s} account info"),
        KeyKind::ServiceData(s) => format!("service {s} storage/preimage/lookup item"),
    }
}

/// The typed part of `state` a key holds, as JSON (component or account info; raw data else).
fn part(state: &State, key: &StateKey) -> serde_json::Value {
    use serde_json::to_value as j;
    let v = match keys::classify(key) {
        KeyKind::Component(i) => match i {
            component::AUTH_POOLS => j(&state.auth_pools),
            component::AUTH_QUEUES => j(&state.auth_queues),
            component::RECENT_BLOCKS => j(&state.recent_blocks),
            component::SAFROLE => j(&state.safrole),
            component::DISPUTES => j(&state.disputes),
            component::ENTROPY => j(state.entropy),
            component::STAGING_VALIDATORS => j(&state.staging_validators),
            component::ACTIVE_VALIDATORS => j(&state.active_validators),
            component::PREVIOUS_VALIDATORS => j(&state.previous_validators),
            component::AVAILABILITY => j(&state.availability),
            component::TIMESLOT => j(state.timeslot),
            component::PRIVILEGES => j(&state.privileges),
            component::STATISTICS => j(&state.statistics),
            component::READY_QUEUE => j(&state.ready_queue),
            component::ACCUMULATED => j(&state.accumulated),
            component::ACCUMULATION_OUTPUTS => j(&state.accumulation_outputs),
            _ => Ok(serde_json::Value::Null),
        },
        KeyKind::ServiceInfo(s) => j(state.accounts.get(&s)),
        KeyKind::ServiceData(_) => j(state.service_data.get(key).map(|v| short_hex(v))),
    };
    v.unwrap_or(serde_json::Value::Null)
}

fn show(v: Option<&[u8]>) -> String {
    v.map_or_else(|| "<absent>".into(), short_hex)
}

/// `0x…` hex of at most 32 octets of each end, with the length when shortened.
fn short_hex(v: &[u8]) -> String {
    if v.len() <= 64 {
        format!("0x{}", hex::encode(v))
    } else {
        format!(
            "0x{}…{} ({} octets)",
            hex::encode(&v[..32]),
            hex::encode(&v[v.len() - 32..]),
            v.len()
        )
    }
}
