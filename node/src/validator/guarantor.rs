//! Guaranteeing (GP v0.7.2 §11.3–11.4, §14; JAMNP-S CE 134/135): packages from the RPC
//! submission queue are refined by the validators assigned to their core, signed by each one
//! that computed the same report, and the guarantee (≥ 2 signatures) is distributed to every
//! validator, whose block author puts it into E_G.
//!
//! - [`assignment`] / [`co_guarantors`]: the core of each validator at a slot (G, eq. 11.21,
//!   from the best state's η_2 and κ).
//! - [`sign_report`] / [`verify_signature`]: `ed25519(X_G ‖ H(E(report)))` (eq. 11.26).
//! - [`Guarantees`]: the pool of pending guarantees, at most one per core, dropped once
//!   included or stale.
//! - [`run`]: the submission consumer; [`serve_share`]: the CE 134 responder, which refines
//!   the bundle itself and signs only a report whose hash matches its own.

use super::{lock, Shared};
use jam_consensus::crypto::{ed25519_verify, JAM_GUARANTEE};
use jam_consensus::refine::{
    compute_work_report, ComputedReport, InMemoryPackageData, RefineConfig,
};
use jam_consensus::reports::{core_assignments, guarantee_message};
use jam_consensus::validator_keys::ValidatorSecrets;
use jam_network::work_messages::{split_extrinsics, CoreMappings, WorkReportSignature};
use jam_network::{Connection, Stream, StreamKind};
use jam_state::codec::{decode_prefix, Encode};
use jam_state::hash::blake2b_256;
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::types::{
    CoreIndex, Ed25519Public, Ed25519Signature, OpaqueHash, ReportGuarantee, TimeSlot,
    ValidatorIndex, ValidatorSignature, WorkPackage, WorkReport, WorkReportHash,
};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a co-guarantor may take to refine a shared package and answer (CE 134).
const SHARE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a package was not guaranteed.
#[derive(Debug, thiserror::Error)]
pub enum GuaranteeError {
    /// This validator is not assigned to the package's core at this slot (GP 11.21).
    #[error("not assigned to core {core} (assigned to {assigned:?})")]
    NotAssigned {
        core: CoreIndex,
        assigned: Option<CoreIndex>,
    },
    /// The best block's state is not available.
    #[error("no best state")]
    NoState,
    /// Refinement failed (GP 14.11 Ξ).
    #[error("refine: {0}")]
    Refine(String),
    /// The shared bundle is malformed (CE 134).
    #[error("bad bundle: {0}")]
    Bundle(String),
    /// Fewer than two guarantors signed (GP 11.23).
    #[error("only {0} signature(s)")]
    TooFewSignatures(usize),
    /// A network error (CE 134).
    #[error("network: {0}")]
    Net(String),
}

/// The core of validator `index` at `slot` under the state's η_2 (G, GP eq. 11.21).
pub fn core_of(params: &Params, state: &State, slot: TimeSlot, index: usize) -> Option<CoreIndex> {
    core_assignments(params, &state.entropy[2], slot)
        .get(index)
        .copied()
}

/// Our validator index in κ and our core at `slot` (GP eq. 11.21), if we are a validator.
pub fn assignment(
    params: &Params,
    state: &State,
    slot: TimeSlot,
    me: &Ed25519Public,
) -> Option<(ValidatorIndex, CoreIndex)> {
    let i = state
        .active_validators
        .iter()
        .position(|v| &v.ed25519 == me)?;
    Some((i as ValidatorIndex, core_of(params, state, slot, i)?))
}

/// The validators (index, Ed25519 key) assigned to `core` at `slot` (GP eq. 11.21).
pub fn co_guarantors(
    params: &Params,
    state: &State,
    slot: TimeSlot,
    core: CoreIndex,
) -> Vec<(ValidatorIndex, Ed25519Public)> {
    core_assignments(params, &state.entropy[2], slot)
        .into_iter()
        .zip(state.active_validators.iter())
        .enumerate()
        .filter(|(_, (c, _))| *c == core)
        .map(|(i, (_, v))| (i as ValidatorIndex, v.ed25519))
        .collect()
}

/// `H(E(report))`: the work-report hash a guarantor signs (GP eq. 11.26).
pub fn report_hash(report: &WorkReport) -> WorkReportHash {
    OpaqueHash(blake2b_256(&report.encode()))
}

/// A guarantor's signature `ed25519(X_G ‖ H(E(report)))` (GP eq. 11.26).
pub fn sign_report(keys: &ValidatorSecrets, report: &WorkReport) -> Ed25519Signature {
    keys.ed25519_sign(JAM_GUARANTEE, report_hash(report).as_bytes())
}

/// Whether `sig` is `key`'s guarantee signature on `report` (GP eq. 11.26).
pub fn verify_signature(key: &Ed25519Public, report: &WorkReport, sig: &Ed25519Signature) -> bool {
    ed25519_verify(&key.0, &guarantee_message(report), &sig.0)
}

/// Pending guarantees, at most one per core (the first; GP 11.23 allows one per core and block).
#[derive(Debug, Default)]
pub struct Guarantees {
    by_core: BTreeMap<CoreIndex, ReportGuarantee>,
}

impl Guarantees {
    /// Adds `g` unless its core already has one; whether it was added.
    pub fn add(&mut self, g: ReportGuarantee) -> bool {
        if self.by_core.contains_key(&g.report.core_index) {
            return false;
        }
        self.by_core.insert(g.report.core_index, g);
        true
    }

    /// The guarantees for a block at `slot` on `state`: for free cores (ρ empty), in core
    /// order, whose signatures are from the current or previous rotation (GP 11.23–11.25).
    pub fn select(&self, params: &Params, state: &State, slot: TimeSlot) -> Vec<ReportGuarantee> {
        let r = params.rotation_period as u32;
        self.by_core
            .values()
            .filter(|g| {
                g.slot <= slot
                    && g.slot / r + 1 >= slot / r
                    && state
                        .availability
                        .get(g.report.core_index as usize)
                        .is_some_and(|a| a.is_none())
            })
            .cloned()
            .collect()
    }

    /// Drops guarantees whose package is in `included` or that are stale at `slot`.
    pub fn prune(&mut self, params: &Params, included: &[ReportGuarantee], slot: TimeSlot) {
        let r = params.rotation_period as u32;
        self.by_core.retain(|_, g| {
            let h = g.report.package_spec.hash;
            g.slot / r + 1 >= slot / r && !included.iter().any(|i| i.report.package_spec.hash == h)
        });
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_core.len()
    }
}

/// Refining runs here: one pool for the node's guarantor work, off the tokio workers.
fn refine_pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .thread_name(|i| format!("refine-{i}"))
            .build()
            .expect("a refine pool")
    })
}

/// Ξ(p, c) against `state` on the refine pool (GP 14.11): the report, its audit bundle and
/// the erasure-coded chunks of the bundle and exports.
async fn refine(
    params: Arc<Params>,
    state: Arc<State>,
    package: WorkPackage,
    extrinsics: Vec<Vec<u8>>,
    core: CoreIndex,
) -> Result<ComputedReport, GuaranteeError> {
    tokio::task::spawn_blocking(move || {
        let mut data = InMemoryPackageData::default();
        for x in extrinsics {
            data.add_extrinsic(x);
        }
        refine_pool().install(|| {
            compute_work_report(
                &params,
                &RefineConfig::default(),
                &*state,
                &data,
                &package,
                core,
            )
            .map_err(|e| GuaranteeError::Refine(e.to_string()))
        })
    })
    .await
    .map_err(|e| GuaranteeError::Refine(e.to_string()))?
}

/// The best block's state and the guarantee slot (its slot).
fn best_state(sh: &Shared) -> Result<(Arc<State>, TimeSlot), GuaranteeError> {
    let c = lock(&sh.chain);
    let state = c
        .best_entry()
        .state
        .clone()
        .ok_or(GuaranteeError::NoState)?;
    let slot = state.timeslot;
    Ok((state, slot))
}

/// The submission consumer: guarantees each work package (see the module docs).
pub(super) async fn run(
    sh: Arc<Shared>,
    keys: Arc<ValidatorSecrets>,
    mut rx: mpsc::Receiver<crate::rpc::Submission>,
) {
    while let Some(sub) = rx.recv().await {
        let crate::rpc::Submission::WorkPackage {
            core,
            package,
            extrinsics,
            ..
        } = sub
        else {
            continue;
        };
        let hash = package.hash();
        match guarantee(&sh, &keys, *package, extrinsics, core).await {
            Ok(g) => {
                sh.log(format_args!(
                    "package {} on core {core}: guaranteed with {} signatures (CE 135 sent)",
                    super::short(&hash),
                    g.signatures.len()
                ));
            }
            Err(e) => sh.log(format_args!(
                "package {} on core {core}: not guaranteed: {e}",
                super::short(&hash)
            )),
        }
    }
}

/// Refines, collects co-guarantor signatures (CE 134), pools and distributes (CE 135).
async fn guarantee(
    sh: &Arc<Shared>,
    keys: &Arc<ValidatorSecrets>,
    package: WorkPackage,
    extrinsics: Vec<Vec<u8>>,
    core: CoreIndex,
) -> Result<ReportGuarantee, GuaranteeError> {
    let (state, slot) = best_state(sh)?;
    let me = keys.ed25519_public();
    let mine = assignment(&sh.params, &state, slot, &me);
    let Some((my_index, c)) = mine.filter(|(_, c)| *c == core) else {
        return Err(GuaranteeError::NotAssigned {
            core,
            assigned: mine.map(|(_, c)| c),
        });
    };
    debug_assert_eq!(c, core);
    let computed = refine(sh.params.clone(), state.clone(), package, extrinsics, core).await?;
    let (report, bundle) = (computed.report.clone(), computed.bundle.clone());
    let hash = report_hash(&report);
    let mut sigs = vec![ValidatorSignature {
        validator_index: my_index,
        signature: sign_report(keys, &report),
    }];
    let others: Vec<_> = co_guarantors(&sh.params, &state, slot, core)
        .into_iter()
        .filter(|(i, _)| *i != my_index)
        .collect();
    let mut asks = tokio::task::JoinSet::new();
    for (i, key) in others {
        let conn = lock(&sh.peers).get(&key).map(|p| p.conn.clone());
        let Some(conn) = conn else { continue };
        let bundle = bundle.clone();
        asks.spawn(async move {
            let r = tokio::time::timeout(SHARE_TIMEOUT, share(&conn, core, &bundle)).await;
            (i, key, r)
        });
    }
    while let Some(Ok((i, key, r))) = asks.join_next().await {
        match r {
            Ok(Ok(s)) if s.report_hash == hash && verify_signature(&key, &report, &s.signature) => {
                sigs.push(ValidatorSignature {
                    validator_index: i,
                    signature: s.signature,
                });
            }
            Ok(Ok(_)) => sh.log(format_args!(
                "co-guarantor {i}: different report or bad signature (CE 134)"
            )),
            Ok(Err(e)) => sh.log(format_args!("co-guarantor {i}: {e} (CE 134)")),
            Err(_) => sh.log(format_args!("co-guarantor {i}: timed out (CE 134)")),
        }
    }
    if sigs.len() < 2 {
        return Err(GuaranteeError::TooFewSignatures(sigs.len()));
    }
    sigs.sort_by_key(|s| s.validator_index);
    sigs.truncate(3);
    let g = ReportGuarantee {
        report,
        slot,
        signatures: sigs,
    };
    // Hold the chunks for the assurers (CE 137) before anyone can see the guarantee.
    sh.availability
        .store
        .hold(&computed, slot)
        .map_err(|e| GuaranteeError::Refine(format!("availability: {e}")))?;
    lock(&sh.guarantees).add(g.clone());
    let conns: Vec<Connection> = lock(&sh.peers).values().map(|p| p.conn.clone()).collect();
    for conn in conns {
        let g = g.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(SHARE_TIMEOUT, conn.distribute_work_report(&g)).await;
        });
    }
    Ok(g)
}

/// JAMNP-S CE 134, guarantor side: `Core ++ Mappings`, the bundle, FIN; then the answer.
async fn share(
    conn: &Connection,
    core: CoreIndex,
    bundle: &[u8],
) -> Result<WorkReportSignature, GuaranteeError> {
    let net = |e: &dyn std::fmt::Display| GuaranteeError::Net(e.to_string());
    let mut s = conn
        .open_stream(StreamKind::WORK_PACKAGE_SHARING)
        .await
        .map_err(|e| net(&e))?;
    s.send(&CoreMappings {
        core,
        mappings: Vec::new(),
    })
    .await
    .map_err(|e| net(&e))?;
    s.send_raw(bundle).await.map_err(|e| net(&e))?;
    s.finish().map_err(|e| net(&e))?;
    let r: WorkReportSignature = s.recv().await.map_err(|e| net(&e))?;
    let _ = s.recv_fin().await;
    Ok(r)
}

/// JAMNP-S CE 134, co-guarantor side: refines the bundle's package itself and answers with its
/// signature only if it is assigned to the core (GP 11.21); never signs a report it did not
/// compute.
pub(super) async fn serve_share(sh: &Arc<Shared>, keys: &Arc<ValidatorSecrets>, mut s: Stream) {
    let r = async {
        let net = |e: &dyn std::fmt::Display| GuaranteeError::Net(e.to_string());
        let m: CoreMappings = s.recv().await.map_err(|e| net(&e))?;
        let bundle = s.recv_raw().await.map_err(|e| net(&e))?;
        s.recv_fin().await.map_err(|e| net(&e))?;
        if !m.mappings.is_empty() {
            return Err(GuaranteeError::Bundle("imports are not supported".into()));
        }
        let (package, n): (WorkPackage, usize) = decode_prefix(&bundle, &sh.params)
            .map_err(|e| GuaranteeError::Bundle(e.to_string()))?;
        if package.items.iter().any(|i| !i.import_segments.is_empty()) {
            return Err(GuaranteeError::Bundle("imports are not supported".into()));
        }
        let extrinsics = split_extrinsics(&package, &bundle[n..])
            .map_err(|e| GuaranteeError::Bundle(e.to_string()))?;
        let (state, slot) = best_state(sh)?;
        let mine = assignment(&sh.params, &state, slot, &keys.ed25519_public());
        if mine.map(|(_, c)| c) != Some(m.core) {
            return Err(GuaranteeError::NotAssigned {
                core: m.core,
                assigned: mine.map(|(_, c)| c),
            });
        }
        let computed = refine(sh.params.clone(), state, package, extrinsics, m.core).await?;
        // A co-guarantor serves shards too (GP §14.4.1: every guarantor holds the chunks).
        sh.availability
            .store
            .hold(&computed, slot)
            .map_err(|e| GuaranteeError::Refine(format!("availability: {e}")))?;
        let report = computed.report;
        let answer = WorkReportSignature {
            report_hash: report_hash(&report),
            signature: sign_report(keys, &report),
        };
        s.send(&answer).await.map_err(|e| net(&e))?;
        s.finish().map_err(|e| net(&e))?;
        Ok::<_, GuaranteeError>(m.core)
    }
    .await;
    match r {
        Ok(core) => sh.log(format_args!(
            "signed a shared report for core {core} (CE 134)"
        )),
        Err(e) => {
            sh.log(format_args!("shared package refused (CE 134): {e}"));
            s.reset(jam_network::stream::codes::REFUSED);
        }
    }
}

/// JAMNP-S CE 135, receiving side: checks the signatures against the assignment and pools it.
pub(super) fn receive(sh: &Shared, g: ReportGuarantee) -> Result<bool, GuaranteeError> {
    let (state, _) = best_state(sh)?;
    if g.signatures.len() < 2 {
        return Err(GuaranteeError::TooFewSignatures(g.signatures.len()));
    }
    let assigned = co_guarantors(&sh.params, &state, g.slot, g.report.core_index);
    for s in &g.signatures {
        let ok = assigned
            .iter()
            .find(|(i, _)| *i == s.validator_index)
            .is_some_and(|(_, k)| verify_signature(k, &g.report, &s.signature));
        if !ok {
            return Err(GuaranteeError::NotAssigned {
                core: g.report.core_index,
                assigned: None,
            });
        }
    }
    Ok(lock(&sh.guarantees).add(g))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_consensus::bandersnatch::RingContext;
    use jam_consensus::genesis::genesis_state;
    use jam_consensus::validator_keys::dev_validators;

    fn setup() -> (Params, State, Vec<ValidatorSecrets>) {
        let params = Params::tiny();
        let ring = RingContext::new(params.validators()).unwrap();
        let keys = dev_validators(params.validators());
        let vals: Vec<_> = keys.iter().map(|k| k.validator_data()).collect();
        (
            params.clone(),
            genesis_state(&params, &ring, &vals).unwrap(),
            keys,
        )
    }

    #[test]
    fn assignment_covers_every_core_and_rotates() {
        let (params, state, keys) = setup();
        let v = params.validators();
        let c = params.cores();
        for slot in [0, params.rotation_period as u32] {
            let mut per_core = vec![0; c];
            for (i, k) in keys.iter().enumerate() {
                let (idx, core) = assignment(&params, &state, slot, &k.ed25519_public()).unwrap();
                assert_eq!(idx as usize, i);
                per_core[core as usize] += 1;
                assert!(co_guarantors(&params, &state, slot, core)
                    .iter()
                    .any(|(j, key)| *j == idx && key == &k.ed25519_public()));
            }
            assert!(per_core.iter().all(|&n| n == v / c), "{per_core:?}");
        }
        let r = params.rotation_period as u32;
        for i in 0..v {
            let a = core_of(&params, &state, 0, i).unwrap();
            let b = core_of(&params, &state, r, i).unwrap();
            assert_eq!(b as usize, (a as usize + 1) % c);
        }
        assert_eq!(
            assignment(&params, &state, 0, &Ed25519Public::default()),
            None
        );
    }

    #[test]
    fn signatures_verify_only_for_the_signed_report_and_key() {
        let (_, _, keys) = setup();
        let report = WorkReport::default();
        let sig = sign_report(&keys[0], &report);
        assert!(verify_signature(&keys[0].ed25519_public(), &report, &sig));
        assert!(!verify_signature(&keys[1].ed25519_public(), &report, &sig));
        let mut other = report.clone();
        other.core_index = 1;
        assert!(!verify_signature(&keys[0].ed25519_public(), &other, &sig));
    }

    #[test]
    fn pool_keeps_one_per_core_and_prunes() {
        let (params, state, _) = setup();
        let g = |core, slot, h: u8| {
            let mut report = WorkReport {
                core_index: core,
                ..Default::default()
            };
            report.package_spec.hash = OpaqueHash([h; 32]);
            ReportGuarantee {
                report,
                slot,
                signatures: vec![],
            }
        };
        let mut pool = Guarantees::default();
        assert!(pool.add(g(0, 1, 1)));
        assert!(!pool.add(g(0, 1, 2)));
        assert!(pool.add(g(1, 1, 3)));
        assert_eq!(pool.select(&params, &state, 2).len(), 2);
        assert_eq!(pool.select(&params, &state, 0).len(), 0);
        pool.prune(&params, &[g(1, 1, 3)], 2);
        assert_eq!(pool.len(), 1);
        pool.prune(&params, &[], 1 + 3 * params.rotation_period as u32);
        assert_eq!(pool.len(), 0);
    }
}
