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
//! - [`run`]: the submission consumer. Packages go to one worker per core, which guarantees
//!   them one at a time and waits while the core already has [`BACKLOG`] guarantees pending
//!   (the chain takes one report per core and block), so a busy core holds its packages in
//!   the bounded queue instead of refining reports that would go stale. A package for a core
//!   this validator is not assigned to is forwarded to one that is (JAMNP-S CE 133, once).
//! - [`serve_share`]: the CE 134 responder, which refines the bundle itself and signs only a
//!   report whose hash matches its own; [`serve_submission`]: the CE 133 responder.

use super::tracking::Stage;
use super::{lock, Shared};
use jam_consensus::assurances::{fates, CoreFate};
use jam_consensus::crypto::{ed25519_verify, JAM_GUARANTEE};
use jam_consensus::import::check_guarantee;
use jam_consensus::refine::{compute_work_report, ComputedReport, RefineConfig};
use jam_consensus::reports::{core_assignments, guarantee_message};
use jam_consensus::validator_keys::ValidatorSecrets;
use jam_network::work_messages::{
    split_extrinsics, CoreMappings, SegmentsRootMapping, WorkPackageSubmission, WorkReportSignature,
};
use jam_network::{Connection, Stream, StreamKind};
use jam_state::codec::{decode_exact, decode_prefix, Encode};
use jam_state::hash::blake2b_256;
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::types::{
    AvailAssurance, CoreIndex, Ed25519Public, Ed25519Signature, OpaqueHash, ReportGuarantee,
    TimeSlot, ValidatorIndex, ValidatorSignature, WorkExecResult, WorkPackage, WorkReport,
    WorkReportHash,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a co-guarantor may take to refine a shared package and answer (CE 134).
const SHARE_TIMEOUT: Duration = Duration::from_secs(10);

/// A core's worker refines its next package only while fewer guarantees than this are
/// pending for the core.
pub const BACKLOG: usize = 2;

/// The most guarantees pooled per core (from every guarantor of the core).
pub const MAX_POOLED_PER_CORE: usize = 8;

/// Packages queued per core worker.
const CORE_QUEUE: usize = 64;

/// The longest a core's worker waits for room before it refines anyway (the pool is pruned
/// of stale guarantees on every block, so this only bounds a stalled chain).
const MAX_BACKLOG_WAIT: Duration = Duration::from_secs(30);

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
    /// A network error (CE 133/134).
    #[error("network: {0}")]
    Net(String),
    /// No block could include the report (GP §11.4: unknown service, code hash, core not
    /// authorized, already reported, ...).
    #[error("no block could include it: {0}")]
    NotIncludable(String),
    /// The package's anchor is not in the best state's recent history (GP 11.33).
    #[error("anchor {} is not a recent block (GP 11.33)", super::short(.0))]
    AnchorNotRecent(jam_state::types::HeaderHash),
    /// The signatures are not ordered by strictly ascending validator index (GP 11.25).
    #[error("guarantor signatures not sorted by unique validator index")]
    UnorderedSigners,
    /// This node does not guarantee (no submission consumer).
    #[error("this node does not guarantee")]
    NoGuarantor,
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

/// The validators (index, Ed25519 key) assigned to `core` at `slot` (GP eq. 11.21), for a
/// `slot` in the epoch of the state's τ (η_2, κ) or in the epoch before it (η_3, λ: G*,
/// eq. 11.22); none for older slots.
pub fn co_guarantors(
    params: &Params,
    state: &State,
    slot: TimeSlot,
    core: CoreIndex,
) -> Vec<(ValidatorIndex, Ed25519Public)> {
    let (epoch, now) = (
        slot / params.epoch_length,
        state.timeslot / params.epoch_length,
    );
    let (entropy, keys) = if epoch >= now {
        (&state.entropy[2], &state.active_validators)
    } else if epoch + 1 == now {
        (&state.entropy[3], &state.previous_validators)
    } else {
        return Vec::new();
    };
    core_assignments(params, entropy, slot)
        .into_iter()
        .zip(keys.iter())
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

/// Pending guarantees per core, in arrival order (at most [`MAX_POOLED_PER_CORE`] each; GP
/// 11.23 lets a block carry one per core).
#[derive(Debug, Default)]
pub struct Guarantees {
    by_core: BTreeMap<CoreIndex, VecDeque<ReportGuarantee>>,
}

impl Guarantees {
    /// Adds `g` unless its package is already pooled or its core's queue is full; whether it
    /// was added.
    pub fn add(&mut self, g: ReportGuarantee) -> bool {
        let q = self.by_core.entry(g.report.core_index).or_default();
        let h = g.report.package_spec.hash;
        if q.len() >= MAX_POOLED_PER_CORE || q.iter().any(|p| p.report.package_spec.hash == h) {
            return false;
        }
        q.push_back(g);
        true
    }

    /// Guarantees pending for `core`.
    pub fn pending(&self, core: CoreIndex) -> usize {
        self.by_core.get(&core).map_or(0, VecDeque::len)
    }

    /// The guarantees for a block at `slot` on `state` (its parent's posterior state) whose
    /// E_A is `assurances`: for each core free after the assurances (ρ‡ empty: GP 11.2), in
    /// core order, the oldest that `includable` accepts (a block's checks, GP §11.4: see
    /// [`check_guarantee`]). Those it refuses on the way are dropped from the pool and
    /// returned with the reason.
    pub fn select(
        &mut self,
        params: &Params,
        state: &State,
        slot: TimeSlot,
        assurances: &[AvailAssurance],
        mut includable: impl FnMut(&ReportGuarantee) -> Result<(), String>,
    ) -> (Vec<ReportGuarantee>, Vec<(ReportGuarantee, String)>) {
        let fates = fates(params, &state.availability, assurances, slot);
        let (mut picked, mut dropped) = (Vec::new(), Vec::new());
        for (core, q) in self.by_core.iter_mut() {
            if fates
                .get(*core as usize)
                .is_none_or(|f| *f == CoreFate::Engaged)
            {
                continue;
            }
            while let Some(g) = q.front() {
                match includable(g) {
                    Ok(()) => {
                        picked.push(g.clone());
                        break;
                    }
                    Err(e) => dropped.extend(q.pop_front().map(|g| (g, e))),
                }
            }
        }
        self.by_core.retain(|_, q| !q.is_empty());
        (picked, dropped)
    }

    /// Drops guarantees whose package is in `included` or that are stale at `slot`.
    pub fn prune(&mut self, params: &Params, included: &[ReportGuarantee], slot: TimeSlot) {
        let r = params.rotation_period as u32;
        for q in self.by_core.values_mut() {
            q.retain(|g| {
                let h = g.report.package_spec.hash;
                g.slot / r + 1 >= slot / r
                    && !included.iter().any(|i| i.report.package_spec.hash == h)
            });
        }
        self.by_core.retain(|_, q| !q.is_empty());
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_core.values().map(VecDeque::len).sum()
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
    data: super::segments::ImportData,
    core: CoreIndex,
) -> Result<ComputedReport, GuaranteeError> {
    tokio::task::spawn_blocking(move || {
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

/// Whether the next block on our best block could include `g` (GP §11.4, the block's own
/// checks: [`jam_consensus::import::check_guarantee`]): a guarantee that fails here is
/// neither distributed nor pooled.
fn includable(sh: &Shared, g: &ReportGuarantee) -> Result<(), GuaranteeError> {
    let (state, root) = {
        let c = lock(&sh.chain);
        let e = c.best_entry();
        (e.state.clone().ok_or(GuaranteeError::NoState)?, e.root)
    };
    let slot = state.timeslot.max(g.slot) + 1;
    check_guarantee(&sh.params, &state, root, g, slot)
        .map_err(|e| GuaranteeError::NotIncludable(e.to_string()))
}

/// A package to guarantee.
pub(super) struct Job {
    pub core: CoreIndex,
    pub package: WorkPackage,
    pub extrinsics: Vec<Vec<u8>>,
    /// Received from another node over CE 133: never forwarded again.
    pub forwarded: bool,
}

/// The submission consumer (see the module docs): RPC submissions and CE 133 packages
/// (`jobs`) go to one worker per core.
pub(super) async fn run(
    sh: Arc<Shared>,
    keys: Arc<ValidatorSecrets>,
    mut rx: mpsc::Receiver<crate::rpc::Submission>,
    mut jobs: mpsc::Receiver<Job>,
) {
    let mut workers: HashMap<CoreIndex, mpsc::Sender<Job>> = HashMap::new();
    loop {
        let job = tokio::select! {
            sub = rx.recv() => match sub {
                Some(crate::rpc::Submission::WorkPackage {
                    core,
                    package,
                    extrinsics,
                    ..
                }) => Job {
                    core,
                    package: *package,
                    extrinsics,
                    forwarded: false,
                },
                Some(crate::rpc::Submission::Preimage { service, preimage, .. }) => {
                    super::preimages::submit(&sh, service, preimage).await;
                    continue;
                }
                None => return,
            },
            job = jobs.recv() => match job {
                Some(job) => job,
                None => return,
            },
        };
        let core = job.core;
        let tx = workers.entry(core).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(CORE_QUEUE);
            tokio::spawn(core_worker(sh.clone(), keys.clone(), core, rx));
            tx
        });
        if let Err(e) = tx.try_send(job) {
            let job = match e {
                mpsc::error::TrySendError::Full(j) | mpsc::error::TrySendError::Closed(j) => j,
            };
            let why = format!("core {core} queue full ({CORE_QUEUE} packages)");
            sh.log(format_args!(
                "package {}: dropped: {why}",
                super::short(&job.package.hash())
            ));
            lock(&sh.packages).fail(job.package.hash(), core, why);
        }
    }
}

/// Whether we are assigned to `core` at the best block.
fn assigned_here(sh: &Shared, keys: &ValidatorSecrets, core: CoreIndex) -> bool {
    best_state(sh).is_ok_and(|(state, slot)| {
        assignment(&sh.params, &state, slot, &keys.ed25519_public()).map(|(_, c)| c) == Some(core)
    })
}

/// Guarantees a core's packages one at a time (see the module docs).
async fn core_worker(
    sh: Arc<Shared>,
    keys: Arc<ValidatorSecrets>,
    core: CoreIndex,
    mut jobs: mpsc::Receiver<Job>,
) {
    while let Some(job) = jobs.recv().await {
        let hash = job.package.hash();
        // The same package sent to several nodes reaches us more than once (CE 133): a
        // report for it known here (ours or a guarantee received) is enough.
        let known = lock(&sh.packages)
            .get(&hash)
            .is_some_and(|p| p.stage() >= Some(Stage::Refined));
        if known {
            sh.log(format_args!(
                "package {} on core {core}: already refined, skipped",
                super::short(&hash)
            ));
            continue;
        }
        if assigned_here(&sh, &keys, core) {
            let t0 = std::time::Instant::now();
            while lock(&sh.guarantees).pending(core) >= BACKLOG && t0.elapsed() < MAX_BACKLOG_WAIT {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let r = guarantee(&sh, &keys, &job).await;
        match r {
            Ok(g) => sh.log(format_args!(
                "package {} on core {core}: guaranteed with {} signatures (CE 135 sent)",
                super::short(&hash),
                g.signatures.len()
            )),
            // Not (or no longer, after a rotation) ours: to a validator assigned to the core.
            Err(GuaranteeError::NotAssigned { .. } | GuaranteeError::TooFewSignatures(_))
                if !job.forwarded =>
            {
                match forward(&sh, &job).await {
                    Ok(i) => sh.log(format_args!(
                        "package {} on core {core}: forwarded to validator {i} (CE 133)",
                        super::short(&hash)
                    )),
                    Err(e) => {
                        sh.log(format_args!(
                            "package {} on core {core}: not forwarded: {e}",
                            super::short(&hash)
                        ));
                        lock(&sh.packages).fail(hash, core, e.to_string());
                    }
                }
            }
            Err(e) => {
                sh.log(format_args!(
                    "package {} on core {core}: not guaranteed: {e}",
                    super::short(&hash)
                ));
                lock(&sh.packages).fail(hash, core, e.to_string());
            }
        }
    }
}

/// Sends a package to a validator assigned to its core (JAMNP-S CE 133); the one chosen.
async fn forward(sh: &Arc<Shared>, job: &Job) -> Result<ValidatorIndex, GuaranteeError> {
    let (state, slot) = best_state(sh)?;
    let hash = job.package.hash();
    let peers: Vec<(ValidatorIndex, Connection)> = {
        let p = lock(&sh.peers);
        co_guarantors(&sh.params, &state, slot, job.core)
            .into_iter()
            .filter_map(|(i, k)| p.get(&k).map(|p| (i, p.conn.clone())))
            .collect()
    };
    if peers.is_empty() {
        return Err(GuaranteeError::Net(format!(
            "no connection to a guarantor of core {}",
            job.core
        )));
    }
    // Spread packages over the core's guarantors by their hash.
    let first = hash.0[0] as usize % peers.len();
    let mut last = String::new();
    for k in 0..peers.len() {
        let (i, conn) = &peers[(first + k) % peers.len()];
        let sub = WorkPackageSubmission {
            core: job.core,
            package: job.package.clone(),
        };
        let r = tokio::time::timeout(
            SHARE_TIMEOUT,
            conn.submit_work_package(&sub, &job.extrinsics),
        )
        .await;
        match r {
            Ok(Ok(())) => return Ok(*i),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "timed out".into(),
        }
    }
    Err(GuaranteeError::Net(format!("CE 133: {last}")))
}

/// JAMNP-S CE 133, guarantor side: `Core Index ++ Work-Package`, the extrinsics, FIN; the
/// package is checked against the limits and queued for its core's worker (it is not
/// forwarded again).
pub(super) async fn serve_submission(sh: &Arc<Shared>, mut s: Stream) {
    let r = async {
        let net = |e: &dyn std::fmt::Display| GuaranteeError::Net(e.to_string());
        let first = s.recv_raw().await.map_err(|e| net(&e))?;
        let sub: WorkPackageSubmission =
            decode_exact(&first, &sh.params).map_err(|e| GuaranteeError::Bundle(e.to_string()))?;
        let data = s.recv_raw().await.map_err(|e| net(&e))?;
        s.recv_fin().await.map_err(|e| net(&e))?;
        let extrinsics = split_extrinsics(&sub.package, &data)
            .map_err(|e| GuaranteeError::Bundle(e.to_string()))?;
        crate::rpc::validate_work_package(&sh.params, &sub.package, &extrinsics)
            .map_err(GuaranteeError::Bundle)?;
        if usize::from(sub.core) >= sh.params.cores() {
            return Err(GuaranteeError::Bundle(format!("core {}", sub.core)));
        }
        let hash = sub.package.hash();
        let queue = sh
            .guarantor
            .get()
            .cloned()
            .ok_or(GuaranteeError::NoGuarantor)?;
        lock(&sh.packages).reach(hash, Some(sub.core), Stage::Submitted, None);
        queue
            .try_send(Job {
                core: sub.core,
                package: sub.package,
                extrinsics,
                forwarded: true,
            })
            .map_err(|_| GuaranteeError::Net("submission queue full".into()))?;
        s.finish().map_err(|e| net(&e))?;
        Ok::<_, GuaranteeError>(hash)
    }
    .await;
    match r {
        Ok(h) => sh.log(format_args!(
            "package {} received (CE 133)",
            super::short(&h)
        )),
        Err(e) => {
            sh.log(format_args!("package submission refused (CE 133): {e}"));
            s.reset(jam_network::stream::codes::REFUSED);
        }
    }
}

/// Refines, collects co-guarantor signatures (CE 134), pools and distributes (CE 135).
async fn guarantee(
    sh: &Arc<Shared>,
    keys: &Arc<ValidatorSecrets>,
    job: &Job,
) -> Result<ReportGuarantee, GuaranteeError> {
    let core = job.core;
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
    // GP 11.33: a report whose anchor left the recent history β_H would be refused by every
    // author; say so now rather than refine it.
    let anchor = job.package.context.anchor;
    if !state
        .recent_blocks
        .history
        .iter()
        .any(|b| b.header_hash == anchor)
    {
        return Err(GuaranteeError::AnchorNotRecent(anchor));
    }
    let package = job.package.clone();
    // Imports (GP §14.3-14.4): ⊞ lookups and segments, local or fetched over CE 139.
    let data = super::segments::resolve(sh, &state, &package, job.extrinsics.clone(), &[], None)
        .await
        .map_err(GuaranteeError::Refine)?;
    let mappings = data.mappings();
    let computed = refine(sh.params.clone(), state.clone(), package, data, core).await?;
    sh.segments.keep(
        computed.report.package_spec.exports_root,
        computed.exports.clone(),
    );
    sh.segments.note_report(&computed.report);
    let (report, bundle) = (computed.report.clone(), computed.bundle.clone());
    note_refined(sh, &report);
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
        let mappings = mappings.clone();
        asks.spawn(async move {
            let r =
                tokio::time::timeout(SHARE_TIMEOUT, share(&conn, core, mappings, &bundle)).await;
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
    includable(sh, &g)?;
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
    mappings: Vec<SegmentsRootMapping>,
    bundle: &[u8],
) -> Result<WorkReportSignature, GuaranteeError> {
    let net = |e: &dyn std::fmt::Display| GuaranteeError::Net(e.to_string());
    let mut s = conn
        .open_stream(StreamKind::WORK_PACKAGE_SHARING)
        .await
        .map_err(|e| net(&e))?;
    s.send(&CoreMappings { core, mappings })
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
        let (package, n): (WorkPackage, usize) = decode_prefix(&bundle, &sh.params)
            .map_err(|e| GuaranteeError::Bundle(e.to_string()))?;
        // The bundle is E(p, X#, S#, J#) (GP eq. 14.16): extrinsics, then the imported
        // segments and their justifications.
        let xlen: usize = package
            .items
            .iter()
            .flat_map(|i| i.extrinsic.iter().map(|x| x.len as usize))
            .sum();
        let rest = &bundle[n..];
        if rest.len() < xlen {
            return Err(GuaranteeError::Bundle(
                "bundle shorter than its extrinsics".into(),
            ));
        }
        let extrinsics = split_extrinsics(&package, &rest[..xlen])
            .map_err(|e| GuaranteeError::Bundle(e.to_string()))?;
        let imports: usize = package.items.iter().map(|i| i.import_segments.len()).sum();
        let bundled = super::segments::split_bundle_imports(&sh.params, &rest[xlen..], imports)
            .map_err(GuaranteeError::Bundle)?;
        let (state, slot) = best_state(sh)?;
        let mine = assignment(&sh.params, &state, slot, &keys.ed25519_public());
        if mine.map(|(_, c)| c) != Some(m.core) {
            return Err(GuaranteeError::NotAssigned {
                core: m.core,
                assigned: mine.map(|(_, c)| c),
            });
        }
        // Imports: the ⊞ roots from our own view (β, E_G seen), the guarantor's CE 134
        // mappings only for hashes we cannot resolve; the segments from the bundle, each
        // checked by Ξ against its root. A wrong mapping gives a report whose lookup the
        // chain rejects (GP 11.x), so we still sign only what we computed.
        let data =
            super::segments::resolve(sh, &state, &package, extrinsics, &m.mappings, Some(bundled))
                .await
                .map_err(GuaranteeError::Refine)?;
        let computed = refine(sh.params.clone(), state, package, data, m.core).await?;
        sh.segments.keep(
            computed.report.package_spec.exports_root,
            computed.exports.clone(),
        );
        sh.segments.note_report(&computed.report);
        // A co-guarantor serves shards too (GP §14.4.1: every guarantor holds the chunks).
        sh.availability
            .store
            .hold(&computed, slot)
            .map_err(|e| GuaranteeError::Refine(format!("availability: {e}")))?;
        let report = computed.report;
        note_refined(sh, &report);
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

/// Records that a report for the package exists, with its work results ([`super::tracking`]).
fn note_refined(sh: &Shared, report: &WorkReport) {
    let results = report.results.iter().map(|r| describe(&r.result)).collect();
    let mut t = lock(&sh.packages);
    let hash = report.package_spec.hash;
    t.reach(hash, Some(report.core_index), Stage::Refined, None);
    t.set_results(hash, results);
}

/// A work result as people read it: the output blob or the error.
pub fn describe(r: &WorkExecResult) -> String {
    match r {
        WorkExecResult::Ok(o) => format!("ok 0x{}", hex::encode(&o.0)),
        WorkExecResult::OutOfGas => "out of gas".into(),
        WorkExecResult::Panic => "panic".into(),
        WorkExecResult::BadExports => "bad export count".into(),
        WorkExecResult::BadCode => "BAD (code not available)".into(),
        WorkExecResult::CodeOversize => "BIG (code too large)".into(),
    }
}

/// JAMNP-S CE 135, receiving side: checks the signatures against the assignment and pools it.
pub(super) fn receive(sh: &Shared, g: ReportGuarantee) -> Result<bool, GuaranteeError> {
    let (state, _) = best_state(sh)?;
    if g.signatures.len() < 2 {
        return Err(GuaranteeError::TooFewSignatures(g.signatures.len()));
    }
    // GP 11.25: guarantor indices strictly ascending (so distinct).
    if g.signatures
        .windows(2)
        .any(|w| w[0].validator_index >= w[1].validator_index)
    {
        return Err(GuaranteeError::UnorderedSigners);
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
    includable(sh, &g)?;
    note_refined(sh, &g.report);
    // Its exports can be imported by later packages (located by package hash or root).
    sh.segments.note_report(&g.report);
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
    fn pool_queues_per_core_selects_the_oldest_and_prunes() {
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
        assert!(!pool.add(g(0, 1, 1)), "the same package twice");
        assert!(pool.add(g(0, 1, 2)));
        assert!(pool.add(g(1, 1, 3)));
        assert_eq!((pool.pending(0), pool.pending(1)), (2, 1));
        let ok = |_: &ReportGuarantee| Ok(());
        let (sel, _) = pool.select(&params, &state, 2, &[], ok);
        let picked: Vec<_> = sel
            .iter()
            .map(|g| g.report.package_spec.hash.0[0])
            .collect();
        assert_eq!(picked, vec![1, 3], "one per core, the oldest");
        // An engaged core (ρ holds a report) gets none, unless the block's assurances free it.
        let mut busy = state.clone();
        busy.availability[0] = Some(jam_state::types::AvailabilityAssignment {
            report: g(0, 1, 9).report,
            timeout: 1,
        });
        let (sel, _) = pool.select(&params, &busy, 2, &[], ok);
        assert_eq!(sel.len(), 1);
        assert_eq!(sel[0].report.core_index, 1);
        let v = params.validators();
        let assure_core_0: Vec<AvailAssurance> = (0..v as u16)
            .map(|i| {
                let mut bitfield = jam_state::types::AvailabilityBitfield::zeroed(&params);
                bitfield.set_bit(0, true);
                AvailAssurance {
                    anchor: OpaqueHash::default(),
                    bitfield,
                    validator_index: i,
                    signature: Ed25519Signature::default(),
                }
            })
            .collect();
        assert_eq!(
            pool.select(&params, &busy, 2, &assure_core_0, ok).0.len(),
            2
        );
        // A guarantee no block could include is dropped, and the next one taken.
        let (sel, dropped) = pool.select(&params, &state, 2, &[], |g: &ReportGuarantee| {
            if g.report.package_spec.hash.0[0] == 1 {
                Err("bad".to_string())
            } else {
                Ok(())
            }
        });
        let picked: Vec<_> = sel
            .iter()
            .map(|g| g.report.package_spec.hash.0[0])
            .collect();
        assert_eq!(picked, vec![2, 3]);
        assert_eq!(dropped.len(), 1);
        assert_eq!(
            (
                dropped[0].0.report.package_spec.hash.0[0],
                dropped[0].1.as_str()
            ),
            (1, "bad")
        );
        assert_eq!(pool.len(), 2);
        pool.prune(&params, &[g(0, 1, 2)], 2);
        assert_eq!(pool.len(), 1);
        for i in 10..10 + MAX_POOLED_PER_CORE as u8 {
            pool.add(g(1, 1, i));
        }
        assert_eq!(pool.pending(1), MAX_POOLED_PER_CORE, "bounded per core");
        pool.prune(&params, &[], 1 + 3 * params.rotation_period as u32);
        assert_eq!(pool.len(), 0);
    }

    /// A started node with validator `me`'s keys on the dev genesis: no peers, no clock (it
    /// authors nothing); for calling the CE 135 [`receive`] on its [`Shared`].
    async fn lone_node(
        params: &Params,
        state: &State,
        keys: &[ValidatorSecrets],
        me: usize,
    ) -> (super::super::Node, std::path::PathBuf) {
        let base =
            std::env::temp_dir().join(format!("jam-guarantor-receive-{}-{me}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let cfg = super::super::NodeConfig {
            name: format!("node {me}"),
            params: params.clone(),
            ring: Arc::new(RingContext::new(params.validators()).unwrap()),
            genesis_header: jam_consensus::genesis::genesis_header(state),
            genesis_state: state.clone(),
            keys: keys[me].clone(),
            network_key: ed25519_dalek::SigningKey::from_bytes(&[me as u8 + 1; 32]),
            base_path: base.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            peers: vec![],
            tickets: false,
            last_slot: None,
            grid: false,
            verbose: false,
        };
        let node = super::super::Node::start(cfg).await.expect("a node");
        (node, base)
    }

    /// CE 135: a received guarantee is pooled only with ≥ 2 signatures, each by a validator
    /// assigned to the report's core at the guarantee's slot, over that very report (GP
    /// 11.23–11.26).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn receive_rejects_bad_signatures_unassigned_signers_and_single_signatures() {
        let (params, mut state, keys) = setup();
        // A recent block to anchor a demo package on (the genesis history is empty).
        state
            .recent_blocks
            .history
            .push(jam_state::types::BlockInfo {
                header_hash: OpaqueHash([7; 32]),
                ..Default::default()
            });
        let (node, base) = lone_node(&params, &state, &keys, 0).await;
        let sh = &node.shared;
        let slot = state.timeslot;
        let on_core: Vec<usize> = co_guarantors(&params, &state, slot, 0)
            .into_iter()
            .map(|(i, _)| i as usize)
            .collect();
        let off_core: Vec<usize> = co_guarantors(&params, &state, slot, 1)
            .into_iter()
            .map(|(i, _)| i as usize)
            .collect();
        assert!(on_core.len() >= 2 && !off_core.is_empty());
        let report = |h: u8| {
            let mut r = WorkReport::default();
            r.package_spec.hash = OpaqueHash([h; 32]);
            r
        };
        let sig = |i: usize, r: &WorkReport| ValidatorSignature {
            validator_index: i as ValidatorIndex,
            signature: sign_report(&keys[i], r),
        };
        // Signatures in ascending validator order, as GP 11.25 asks (checked on its own in
        // `receive_rejects_a_repeated_signer`).
        let g = |r: &WorkReport, mut signatures: Vec<ValidatorSignature>| {
            signatures.sort_by_key(|s| s.validator_index);
            ReportGuarantee {
                report: r.clone(),
                slot,
                signatures,
            }
        };
        let refused = |r: Result<bool, GuaranteeError>| {
            assert!(
                matches!(
                    r,
                    Err(GuaranteeError::NotAssigned {
                        core: 0,
                        assigned: None
                    })
                ),
                "{r:?}"
            )
        };
        let (_, b) = (report(1), report(2));
        // A report some block could include: the demo package refined on this state.
        let context = jam_state::types::RefineContext {
            anchor: OpaqueHash([7; 32]),
            state_root: OpaqueHash(state.state_root()),
            lookup_anchor: OpaqueHash([7; 32]),
            ..Default::default()
        };
        let a = compute_work_report(
            &params,
            &RefineConfig::default(),
            &state,
            &jam_consensus::refine::InMemoryPackageData::default(),
            &jam_consensus::genesis::demo_work_package(context, b"J\x03keyvalue"),
            0,
        )
        .unwrap()
        .report;
        let (v0, v1) = (on_core[0], on_core[1]);

        // Signatures over a different report (all of them, or one of two).
        refused(receive(sh, g(&a, vec![sig(v0, &b), sig(v1, &b)])));
        refused(receive(sh, g(&a, vec![sig(v0, &a), sig(v1, &b)])));
        // A signer not assigned to the core (a valid signature of its own), a signature
        // under another validator's index, an index outside κ.
        refused(receive(sh, g(&a, vec![sig(v0, &a), sig(off_core[0], &a)])));
        let mut forged = sig(off_core[0], &a);
        forged.validator_index = v1 as ValidatorIndex;
        refused(receive(sh, g(&a, vec![sig(v0, &a), forged])));
        let mut outside = sig(v1, &a);
        outside.validator_index = 200;
        refused(receive(sh, g(&a, vec![sig(v0, &a), outside])));
        // Fewer than two signatures.
        assert!(matches!(
            receive(sh, g(&a, vec![sig(v0, &a)])),
            Err(GuaranteeError::TooFewSignatures(1))
        ));
        assert!(matches!(
            receive(sh, g(&a, vec![])),
            Err(GuaranteeError::TooFewSignatures(0))
        ));
        assert_eq!(lock(&sh.guarantees).len(), 0, "nothing refused is pooled");

        // One that no block could include (here: no work results, anchor not recent) is not.
        assert!(matches!(
            receive(sh, g(&b, vec![sig(v0, &b), sig(v1, &b)])),
            Err(GuaranteeError::NotIncludable(_))
        ));
        // A proper guarantee is pooled, once.
        assert!(receive(sh, g(&a, vec![sig(v0, &a), sig(v1, &a)])).unwrap());
        assert!(!receive(sh, g(&a, vec![sig(v0, &a), sig(v1, &a)])).unwrap());
        assert_eq!(lock(&sh.guarantees).len(), 1);
        drop(node);
        let _ = std::fs::remove_dir_all(&base);
    }

    /// CE 135: the same validator twice is not two guarantors (GP 11.25: the guarantor indices
    /// are unique), so such a guarantee has one signature and must not be pooled.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn receive_rejects_a_repeated_signer() {
        let (params, state, keys) = setup();
        let (node, base) = lone_node(&params, &state, &keys, 1).await;
        let sh = &node.shared;
        let slot = state.timeslot;
        let v0 = co_guarantors(&params, &state, slot, 0)[0].0;
        let mut r = WorkReport::default();
        r.package_spec.hash = OpaqueHash([3; 32]);
        let s = ValidatorSignature {
            validator_index: v0,
            signature: sign_report(&keys[v0 as usize], &r),
        };
        let got = receive(
            sh,
            ReportGuarantee {
                report: r,
                slot,
                signatures: vec![s.clone(), s],
            },
        );
        // Two assigned signers, both valid, but in descending order (GP 11.25).
        let on_core = co_guarantors(&params, &state, slot, 0);
        let (lo, hi) = (on_core[0].0, on_core[1].0);
        let mut r2 = WorkReport::default();
        r2.package_spec.hash = OpaqueHash([4; 32]);
        let sig = |i: ValidatorIndex| ValidatorSignature {
            validator_index: i,
            signature: sign_report(&keys[i as usize], &r2),
        };
        let unordered = receive(
            sh,
            ReportGuarantee {
                report: r2.clone(),
                slot,
                signatures: vec![sig(hi), sig(lo)],
            },
        );
        let pooled = lock(&sh.guarantees).len();
        drop(node);
        let _ = std::fs::remove_dir_all(&base);
        assert!(
            matches!(got, Err(GuaranteeError::UnorderedSigners)),
            "a repeated signer was accepted: {got:?}"
        );
        assert!(
            matches!(unordered, Err(GuaranteeError::UnorderedSigners)),
            "unordered signers were accepted: {unordered:?}"
        );
        assert_eq!(pooled, 0);
    }
}
