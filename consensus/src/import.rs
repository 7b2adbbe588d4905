//! Block import (GP v0.7.2 §4–13): header checks (§5, seal and entropy §6.4–6.5) and the
//! sub-transitions in GP order, from the prior state σ to the posterior σ'.
//!
//! [`import_block`] is a pure function: it borrows the prior [`State`] and the block and returns
//! the posterior state, or an [`ImportError`] naming the first check that failed (the prior state
//! is never modified). The order is:
//!
//! 1. header: author index, slot (`H_t > τ`, and not after the wall clock when one is given),
//!    parent (`H_p` = the newest recent-history entry's header hash, or the context's), parent
//!    state root `H_r = M_σ(σ)`, extrinsic hash `H_x` (GP 5.4);
//! 2. disputes (§10): ψ', ρ†, and the offenders marker `H_o`;
//! 3. Safrole (§6): τ', η', κ', λ', γ' with the epoch and winning-tickets markers `H_e`, `H_w`,
//!    then the seal `H_s` and entropy source `H_v` under κ'[H_i], γ'_s and η'_3;
//! 4. recent history β† (§7, parent state-root fix-up);
//! 5. assurances (§11.2): ρ‡ and the newly available reports W;
//! 6. guarantees (§11.4): ρ', with the lookup-anchor ancestry check (11.35) when the context
//!    knows the ancestry;
//! 7. accumulation (§12): ϑ', ξ', δ‡, χ', ι', φ', θ';
//! 8. recent history β' (§7) with the accumulation-output root;
//! 9. preimages (§12.4): checked against δ, integrated into δ‡ giving δ';
//! 10. authorizations α' (§8) and statistics π' (§13).
//!
//! The seal and entropy signatures (steps 3's last part) are verified on another rayon task
//! while steps 4–10 run; a bad seal is still the error reported, whatever steps 4–10 found.

use crate::accumulate::{self, AccumulateConfig, AccumulateInput, AccumulateState, PartialState};
use crate::assurances::{self, AssurancesError};
use crate::bandersnatch::{self, RingContext, IETF_SIGNATURE_LEN};
use crate::crypto::{JAM_ENTROPY, JAM_FALLBACK_SEAL, JAM_TICKET_SEAL};
use crate::disputes::{self, DisputesError};
use crate::preimages::{self, PreimageState, PreimagesError};
use crate::reports::{self, ReportsError, ReportsInput, ReportsState};
use crate::safrole::{self, SafroleError, SafroleInput, SafroleState};
use crate::{authorizations, history, statistics};
use jam_state::codec::Encode;
use jam_state::hash::blake2b_256;
use jam_state::keys::{self, StateKey};
use jam_state::params::Params;
use jam_state::state::{AccumulationOutput, SafroleGamma, State};
use jam_state::types::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What block import needs beyond the prior state: cached crypto parameters and chain context.
#[derive(Clone, Debug)]
pub struct ImportContext {
    /// Ring parameters for rings of `V` keys (γ'_z, ticket proofs).
    pub ring: Arc<RingContext>,
    /// Accumulation knobs (JIP-1 `log` gas).
    pub accumulate: AccumulateConfig,
    /// `M_σ(σ)` of the prior state when the caller has it cached; computed otherwise.
    pub prior_state_root: Option<StateRoot>,
    /// The hash of the prior (parent) header when known; otherwise the newest entry of β_H.
    pub parent_hash: Option<HeaderHash>,
    /// The ancestor set `A` (GP 5.3) as header hash ↦ slot, for the lookup-anchor check (11.35).
    /// `None`: the ancestry is unknown and the check is skipped.
    pub ancestry: Option<HashMap<HeaderHash, TimeSlot>>,
    /// The current wall-clock slot `⌊T/P⌋`, if any: blocks from the future are rejected.
    pub now_slot: Option<TimeSlot>,
    /// Decoded Bandersnatch keys (block authors), shared by clones of the context: callers
    /// importing many blocks clone one context so keys are decoded once.
    pub keys: Arc<bandersnatch::KeyCache>,
}

impl ImportContext {
    /// A context with a ring for `params`' validator count and nothing else known.
    pub fn new(params: &Params) -> Result<Self, bandersnatch::BandersnatchError> {
        Ok(Self::with_ring(Arc::new(RingContext::new(
            params.validators(),
        )?)))
    }

    /// A context around an existing ring context (e.g. from a [`bandersnatch::RingCache`]).
    pub fn with_ring(ring: Arc<RingContext>) -> Self {
        ImportContext {
            ring,
            accumulate: AccumulateConfig::default(),
            prior_state_root: None,
            parent_hash: None,
            ancestry: None,
            now_slot: None,
            keys: Default::default(),
        }
    }
}

/// What a successful import yields besides the posterior state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportOutput {
    /// `H(E(H))`: the imported block's header hash.
    pub header_hash: HeaderHash,
    /// `Y(H_v)`: the block's entropy contribution.
    pub entropy: Entropy,
    /// The reports made available by this block (W), in core order.
    pub available: Vec<WorkPackageHash>,
    /// How many work reports were accumulated.
    pub accumulated_reports: usize,
    /// The accumulation-output root appended to β_B.
    pub accumulate_root: OpaqueHash,
}

/// Why a block is invalid. The prior state is unchanged whatever the error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// `H_p` is not the hash of the parent header.
    #[error("bad parent: header names {got}, the parent is {expected}")]
    BadParent {
        expected: HeaderHash,
        got: HeaderHash,
    },
    /// `H_r` is not the prior state's root.
    #[error("bad parent state root: header has {got}, the prior state's root is {expected}")]
    BadParentStateRoot { expected: StateRoot, got: StateRoot },
    /// `H_t ≤ τ`, or `H_t` is in the future.
    #[error("bad slot {slot} (prior slot {prior})")]
    BadSlot { slot: TimeSlot, prior: TimeSlot },
    /// `H_x` is not the extrinsic's hash.
    #[error("bad extrinsic hash: header has {got}, the extrinsic hashes to {expected}")]
    BadExtrinsicHash {
        expected: OpaqueHash,
        got: OpaqueHash,
    },
    /// `H_i ≥ V`.
    #[error("author index {0} out of range")]
    BadAuthorIndex(ValidatorIndex),
    /// The seal `H_s` does not verify for the slot's sealing key.
    #[error("bad block seal")]
    BadSeal,
    /// The entropy source `H_v` does not verify (or is not a VRF signature).
    #[error("bad entropy source signature")]
    BadEntropy,
    /// `H_e` differs from the epoch marker Safrole computes.
    #[error("bad epoch marker")]
    BadEpochMark,
    /// `H_w` differs from the winning-tickets marker Safrole computes.
    #[error("bad winning-tickets marker")]
    BadTicketsMark,
    /// `H_o` differs from the offenders the disputes extrinsic yields.
    #[error("bad offenders marker")]
    BadOffendersMark,
    /// A report's lookup anchor is not a known ancestor with that slot (GP 11.35).
    #[error("lookup anchor {hash} (slot {slot}) is not a known ancestor")]
    UnknownLookupAnchor { hash: HeaderHash, slot: TimeSlot },
    /// Safrole rejected the tickets extrinsic (or the slot).
    #[error("safrole: {0}")]
    Safrole(#[from] SafroleError),
    /// The disputes extrinsic is invalid.
    #[error("disputes: {0}")]
    Disputes(#[from] DisputesError),
    /// The assurances extrinsic is invalid.
    #[error("assurances: {0}")]
    Assurances(#[from] AssurancesError),
    /// The guarantees extrinsic is invalid.
    #[error("guarantees: {0}")]
    Reports(#[from] ReportsError),
    /// The preimages extrinsic is invalid.
    #[error("preimages: {0}")]
    Preimages(#[from] PreimagesError),
}

/// Imports `block` on top of `state` (GP §4–13): checks the header and runs every
/// sub-transition in GP order. Returns the posterior state σ' and what the block yielded, or the
/// first failing check; `state` itself is never modified.
pub fn import_block(
    params: &Params,
    ctx: &ImportContext,
    state: &State,
    block: &Block,
) -> Result<(State, ImportOutput), ImportError> {
    let header = &block.header;
    let ext = &block.extrinsic;
    let slot = header.slot;

    // §5: header fields checkable on the prior state alone.
    if header.author_index as usize >= params.validators() {
        return Err(ImportError::BadAuthorIndex(header.author_index));
    }
    if slot <= state.timeslot || ctx.now_slot.is_some_and(|now| slot > now) {
        return Err(ImportError::BadSlot {
            slot,
            prior: state.timeslot,
        });
    }
    let parent = ctx
        .parent_hash
        .or_else(|| state.recent_blocks.history.last().map(|b| b.header_hash));
    if let Some(expected) = parent {
        if header.parent != expected {
            return Err(ImportError::BadParent {
                expected,
                got: header.parent,
            });
        }
    }
    let prior_root = ctx
        .prior_state_root
        .unwrap_or_else(|| OpaqueHash(state.state_root()));
    if header.parent_state_root != prior_root {
        return Err(ImportError::BadParentStateRoot {
            expected: prior_root,
            got: header.parent_state_root,
        });
    }
    let x = extrinsic_hash(ext);
    if header.extrinsic_hash != x {
        return Err(ImportError::BadExtrinsicHash {
            expected: x,
            got: header.extrinsic_hash,
        });
    }

    // §10: disputes (ψ', ρ†) and the offenders marker.
    let disputed = disputes::transition(
        params,
        &state.disputes,
        &state.availability,
        state.timeslot,
        &state.active_validators,
        &state.previous_validators,
        &ext.disputes,
    )?;
    if header.offenders_mark != disputed.offenders_mark {
        return Err(ImportError::BadOffendersMark);
    }

    // §6: Safrole, its markers, then the seal and entropy under the posterior keys.
    let entropy_output =
        bandersnatch::VrfOutput::decode(&header.entropy_source.0).ok_or(ImportError::BadEntropy)?;
    let vrf_entropy = OpaqueHash(entropy_output.hash());
    let prior_safrole = SafroleState {
        tau: state.timeslot,
        eta: state.entropy,
        lambda: state.previous_validators.clone(),
        kappa: state.active_validators.clone(),
        gamma_k: state.safrole.gamma_k.clone(),
        iota: state.staging_validators.clone(),
        gamma_a: state.safrole.gamma_a.clone(),
        gamma_s: state.safrole.gamma_s.clone(),
        gamma_z: state.safrole.gamma_z,
    };
    let (sf, markers) = safrole::transition(
        params,
        &ctx.ring,
        &prior_safrole,
        &SafroleInput {
            slot,
            entropy: vrf_entropy,
            extrinsic: &ext.tickets,
            post_offenders: &disputed.psi.offenders,
        },
    )?;
    if header.epoch_mark != markers.epoch_mark {
        return Err(ImportError::BadEpochMark);
    }
    if header.tickets_mark != markers.tickets_mark {
        return Err(ImportError::BadTicketsMark);
    }
    let author = sf
        .kappa
        .get(header.author_index as usize)
        .ok_or(ImportError::BadAuthorIndex(header.author_index))?
        .bandersnatch;
    let sealer = slot_sealer(params, &sf.gamma_s, slot).ok_or(ImportError::BadSeal)?;

    // The seal and entropy checks (pure crypto) run beside the rest of the transition; a bad
    // seal is reported first whatever the rest found, so the result does not depend on timing.
    let eta3 = sf.eta[3];
    let (sealed, posterior) = rayon::join(
        || {
            let author = SealAuthor {
                key: &author,
                decoded: ctx.keys.decode(&author.0),
            };
            verify_seal_and_entropy_decoded(header, author, &sealer, &eta3, &entropy_output)
        },
        || apply_extrinsics(params, ctx, state, block, disputed, sf, vrf_entropy),
    );
    sealed.map_err(|e| match e {
        SealCheckError::BadSeal => ImportError::BadSeal,
        SealCheckError::BadEntropy => ImportError::BadEntropy,
    })?;
    posterior
}

/// The sub-transitions after Safrole (GP §7–13), given ψ'/ρ† from disputes and the posterior
/// Safrole components.
fn apply_extrinsics(
    params: &Params,
    ctx: &ImportContext,
    state: &State,
    block: &Block,
    disputed: disputes::DisputesPosterior,
    sf: SafroleState,
    vrf_entropy: Entropy,
) -> Result<(State, ImportOutput), ImportError> {
    let header = &block.header;
    let ext = &block.extrinsic;
    let slot = header.slot;

    // §7: β† (the parent's state root fills in the newest entry).
    let beta_dagger =
        history::with_parent_state_root(&state.recent_blocks, header.parent_state_root);

    // §11.2: assurances (ρ‡ and the available reports W).
    let assured = assurances::transition(
        params,
        &disputed.rho,
        &sf.kappa,
        &ext.assurances,
        slot,
        &header.parent,
    )?;

    // §11.4: guarantees (ρ').
    if let Some(ancestry) = &ctx.ancestry {
        for g in &ext.guarantees {
            let c = &g.report.context;
            if ancestry.get(&c.lookup_anchor) != Some(&c.lookup_anchor_slot) {
                return Err(ImportError::UnknownLookupAnchor {
                    hash: c.lookup_anchor,
                    slot: c.lookup_anchor_slot,
                });
            }
        }
    }
    let known_packages = pipeline_packages(state);
    let reported = reports::transition(
        params,
        &ReportsState {
            avail_assignments: &assured.rho,
            curr_validators: &sf.kappa,
            prev_validators: &sf.lambda,
            entropy: &sf.eta,
            offenders: &disputed.psi.offenders,
            recent_blocks: &beta_dagger,
            auth_pools: &state.auth_pools,
            services: &state.accounts,
        },
        &ReportsInput {
            guarantees: &ext.guarantees,
            slot,
            known_packages: &known_packages,
        },
    )?;

    // §12.4 (validity): the preimages extrinsic is checked against the prior δ.
    let preimage_hashes = preimages::check(
        &Services {
            accounts: &state.accounts,
            data: DataRef::Shared(&state.service_data),
        },
        &ext.preimages,
    )?;

    // §12: accumulation of W.
    let acc = accumulate::accumulate(
        params,
        &ctx.accumulate,
        AccumulateState {
            partial: PartialState {
                accounts: state.accounts.clone(),
                service_data: state.service_data.clone(),
                staging: state.staging_validators.clone(),
                auth_queues: state.auth_queues.clone(),
                privileges: state.privileges.clone(),
            },
            ready_queue: state.ready_queue.clone(),
            accumulated: state.accumulated.clone(),
        },
        &AccumulateInput {
            slot,
            prior_slot: state.timeslot,
            entropy: sf.eta[0],
            reports: &assured.available,
        },
    );
    let accumulate::AccumulateOutcome {
        state: acc_state,
        outputs,
        outputs_root,
        statistics: acc_stats,
        accumulated_reports,
    } = acc;
    let PartialState {
        accounts,
        mut service_data,
        staging,
        auth_queues,
        privileges,
    } = acc_state.partial;

    // §7: β'.
    let header_hash = header.hash();
    let recent_blocks = history::append_block(
        params,
        &beta_dagger,
        header_hash,
        outputs_root,
        &history::reported_packages(&ext.guarantees),
    );

    // §12.4 (integration): δ' from δ‡.
    preimages::integrate(
        &mut Services {
            accounts: &accounts,
            data: DataRef::Mut(&mut service_data),
        },
        &ext.preimages,
        &preimage_hashes,
        slot,
    );

    // §8: α'.
    let used: Vec<(CoreIndex, OpaqueHash)> = ext
        .guarantees
        .iter()
        .map(|g| (g.report.core_index, g.report.authorizer_hash))
        .collect();
    let auth_pools =
        authorizations::transition(params, &state.auth_pools, &auth_queues, slot, &used);

    // §13: π'.
    let available: Vec<&WorkReport> = assured.available.iter().collect();
    let acc_stats: BTreeMap<ServiceId, (u32, Gas)> = acc_stats
        .iter()
        .map(|(s, st)| (*s, (st.count, st.gas_used)))
        .collect();
    let stats = statistics::transition(
        params,
        &state.statistics,
        state.timeslot,
        &statistics::BlockActivity {
            slot,
            author_index: header.author_index,
            extrinsic: ext,
            reporters: &reported.output.reporters,
        },
        &sf.kappa,
        &available,
        &acc_stats,
    );

    let output = ImportOutput {
        header_hash,
        entropy: vrf_entropy,
        available: assured
            .available
            .iter()
            .map(|r| r.package_spec.hash)
            .collect(),
        accumulated_reports,
        accumulate_root: outputs_root,
    };
    let posterior = State {
        auth_pools,
        auth_queues,
        recent_blocks,
        safrole: SafroleGamma {
            gamma_k: sf.gamma_k,
            gamma_z: sf.gamma_z,
            gamma_s: sf.gamma_s,
            gamma_a: sf.gamma_a,
        },
        disputes: disputed.psi,
        entropy: sf.eta,
        staging_validators: staging,
        active_validators: sf.kappa,
        previous_validators: sf.lambda,
        availability: reported.avail_assignments,
        timeslot: slot,
        privileges,
        statistics: stats,
        ready_queue: acc_state.ready_queue,
        accumulated: acc_state.accumulated,
        accumulation_outputs: outputs
            .iter()
            .map(|&(service, hash)| AccumulationOutput { service, hash })
            .collect(),
        accounts,
        service_data,
    };
    Ok((posterior, output))
}

/// Whether a child block at `slot` of the block with posterior `state` (and state root
/// `state_root`) could carry guarantee `g` in E_G (GP §11.4): the block's own checks
/// ([`reports::transition`]) on the parent's state, the report's core taken as freed by the
/// child's assurances. For a child in the next epoch, κ', λ' and η' are those of the epoch
/// change (γ_k, κ and η shifted by one: eqs. 6.13, 6.23; offenders are not nulled); the lookup
/// anchor's ancestry (eq. 11.35) is not checked. Guarantors and authors use it to keep
/// guarantees no block could include out of their pools.
pub fn check_guarantee(
    params: &Params,
    state: &State,
    state_root: StateRoot,
    g: &ReportGuarantee,
    slot: TimeSlot,
) -> Result<(), ReportsError> {
    let mut rho = state.availability.clone();
    if let Some(entry) = rho.get_mut(g.report.core_index as usize) {
        *entry = None;
    }
    let known = pipeline_packages(state);
    let e = &state.entropy.0;
    let (entropy, curr, prev) = if slot / params.epoch_length > state.timeslot / params.epoch_length
    {
        (
            EntropyBuffer([e[0], e[0], e[1], e[2]]),
            &state.safrole.gamma_k,
            &state.active_validators,
        )
    } else {
        (
            state.entropy,
            &state.active_validators,
            &state.previous_validators,
        )
    };
    reports::transition(
        params,
        &ReportsState {
            avail_assignments: &rho,
            curr_validators: curr,
            prev_validators: prev,
            entropy: &entropy,
            offenders: &state.disputes.offenders,
            recent_blocks: &history::with_parent_state_root(&state.recent_blocks, state_root),
            auth_pools: &state.auth_pools,
            services: &state.accounts,
        },
        &ReportsInput {
            guarantees: std::slice::from_ref(g),
            slot,
            known_packages: &known,
        },
    )
    .map(|_| ())
}

/// The work packages already in the pipeline (GP 11.38, besides β which the guarantees check
/// reads itself): accumulated ξ, the ready queue ϑ and the reports pending availability ρ.
fn pipeline_packages(state: &State) -> Vec<WorkPackageHash> {
    let mut out: Vec<WorkPackageHash> = state.accumulated.iter().flatten().copied().collect();
    out.extend(
        state
            .ready_queue
            .iter()
            .flatten()
            .map(|r| r.report.package_spec.hash),
    );
    out.extend(
        state
            .availability
            .iter()
            .flatten()
            .map(|a| a.report.package_spec.hash),
    );
    out
}

/// Service data, read-only (checks on δ) or writable (integration into δ‡).
enum DataRef<'a> {
    Shared(&'a BTreeMap<StateKey, Vec<u8>>),
    Mut(&'a mut BTreeMap<StateKey, Vec<u8>>),
}

/// The preimage view of δ: account infos and the raw service data under GP D.1 keys.
struct Services<'a> {
    accounts: &'a BTreeMap<ServiceId, ServiceInfo>,
    data: DataRef<'a>,
}

impl Services<'_> {
    fn get(&self, key: &StateKey) -> Option<&Vec<u8>> {
        match &self.data {
            DataRef::Shared(d) => d.get(key),
            DataRef::Mut(d) => d.get(key),
        }
    }
}

impl PreimageState for Services<'_> {
    fn has_preimage(&self, service: ServiceId, hash: &OpaqueHash) -> bool {
        self.accounts.contains_key(&service)
            && self.get(&keys::preimage_key(service, hash)).is_some()
    }

    fn lookup(&self, service: ServiceId, hash: &OpaqueHash, length: u32) -> Option<Vec<TimeSlot>> {
        if !self.accounts.contains_key(&service) {
            return None;
        }
        self.get(&keys::lookup_key(service, hash, length))
            .and_then(|v| keys::decode_lookup(v))
    }

    fn provide(&mut self, service: ServiceId, hash: OpaqueHash, blob: &[u8], slot: TimeSlot) {
        // Providing a solicited blob leaves the footprint (a_i, a_o) unchanged: the request
        // (h, |p|) is already counted.
        if let DataRef::Mut(d) = &mut self.data {
            d.insert(keys::preimage_key(service, &hash), blob.to_vec());
            d.insert(
                keys::lookup_key(service, &hash, blob.len() as u32),
                keys::encode_lookup(&[slot]),
            );
        }
    }
}

/// The extrinsic hash `H_x` (GP 5.4): `H(E(H#(a)))` with
/// `a = [E_T(E_T), E_P(E_P), g, E_A(E_A), E_D(E_D)]` and
/// `g = E(↕[(H(r), E4(t), ↕a) | (r, t, a) ∈ E_G])`.
pub fn extrinsic_hash(extrinsic: &Extrinsic) -> OpaqueHash {
    let mut g = Vec::new();
    jam_state::codec::encode_natural(extrinsic.guarantees.len() as u64, &mut g);
    for guarantee in &extrinsic.guarantees {
        g.extend_from_slice(&blake2b_256(&guarantee.report.encode()));
        guarantee.slot.encode_to(&mut g);
        guarantee.signatures.encode_to(&mut g);
    }
    let parts = [
        blake2b_256(&extrinsic.tickets.encode()),
        blake2b_256(&extrinsic.preimages.encode()),
        blake2b_256(&g),
        blake2b_256(&extrinsic.assurances.encode()),
        blake2b_256(&extrinsic.disputes.encode()),
    ];
    OpaqueHash(blake2b_256(&parts.concat()))
}

/// The seal-key series entry `γ'_s[H_t]` for a block's slot (`None` if the series is malformed).
pub fn slot_sealer(params: &Params, gamma_s: &TicketsOrKeys, slot: TimeSlot) -> Option<Sealer> {
    let m = (slot % params.epoch_length) as usize;
    match gamma_s {
        TicketsOrKeys::Tickets(t) => t.get(m).copied().map(Sealer::Ticket),
        TicketsOrKeys::Keys(k) => k.get(m).copied().map(Sealer::Key),
    }
}

/// Who may seal a slot: the holder of a ticket, or (fallback) a given Bandersnatch key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sealer {
    Ticket(TicketBody),
    Key(BandersnatchPublic),
}

/// Why a seal or entropy signature is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealCheckError {
    /// `H_s` is not a valid signature, or it is a ticket seal whose output is not the ticket id,
    /// or a fallback seal by a key other than the slot's key.
    BadSeal,
    /// `H_v` is not a valid entropy signature over `Y(H_s)`.
    BadEntropy,
}

/// Verifies the seal `H_s` and the entropy source `H_v` (GP 6.15–6.17) with the author's key
/// `H_a = κ'[H_i]_b`, the slot's sealer from `γ'_s` and `η'_3`. Returns `Y(H_v)`.
pub fn verify_seal_and_entropy(
    header: &Header,
    author_key: &BandersnatchPublic,
    sealer: &Sealer,
    eta3: &Entropy,
) -> Result<Entropy, SealCheckError> {
    // Y(H_v) is decoded first only where the caller does it too (import_block, BadEntropy).
    let entropy_output = bandersnatch::VrfOutput::decode(&header.entropy_source.0);
    let author = SealAuthor {
        key: author_key,
        decoded: bandersnatch::KeyCache::new(0).decode(&author_key.0),
    };
    match entropy_output {
        Some(out) => verify_seal_and_entropy_decoded(header, author, sealer, eta3, &out),
        None => {
            // As before: the seal is checked (and reported) before the entropy source.
            verify_seal_only(header, author, sealer, eta3)?;
            Err(SealCheckError::BadEntropy)
        }
    }
}

/// The block author's key `H_a`, as encoded and decoded (`None`: not a valid point).
#[derive(Clone)]
struct SealAuthor<'a> {
    key: &'a BandersnatchPublic,
    decoded: Option<bandersnatch::DecodedPublic>,
}

/// The seal's VRF input `X` for `sealer`, or `BadSeal` for a fallback key other than the
/// author's.
fn seal_input(
    author_key: &BandersnatchPublic,
    sealer: &Sealer,
    eta3: &Entropy,
) -> Result<Vec<u8>, SealCheckError> {
    let mut input = Vec::with_capacity(JAM_TICKET_SEAL.len() + 33);
    match sealer {
        Sealer::Ticket(ticket) => {
            input.extend_from_slice(JAM_TICKET_SEAL);
            input.extend_from_slice(eta3.as_bytes());
            input.push(ticket.attempt);
        }
        Sealer::Key(key) => {
            if key != author_key {
                return Err(SealCheckError::BadSeal);
            }
            input.extend_from_slice(JAM_FALLBACK_SEAL);
            input.extend_from_slice(eta3.as_bytes());
        }
    }
    Ok(input)
}

/// Checks `H_s` alone; returns the decoded seal output.
fn verify_seal_only(
    header: &Header,
    author: SealAuthor<'_>,
    sealer: &Sealer,
    eta3: &Entropy,
) -> Result<bandersnatch::VrfOutput, SealCheckError> {
    let input = seal_input(author.key, sealer, eta3)?;
    let seal: &[u8; IETF_SIGNATURE_LEN] = &header.seal.0;
    let claimed = bandersnatch::VrfOutput::decode(seal).ok_or(SealCheckError::BadSeal)?;
    let public = author.decoded.ok_or(SealCheckError::BadSeal)?;
    let unsigned = header.encode_unsigned();
    let y = bandersnatch::verify_ietf_decoded(&public, &input, &unsigned, &claimed, seal)
        .ok_or(SealCheckError::BadSeal)?;
    check_ticket(sealer, &y)?;
    Ok(claimed)
}

fn check_ticket(sealer: &Sealer, seal_output: &[u8; 32]) -> Result<(), SealCheckError> {
    if let Sealer::Ticket(ticket) = sealer {
        if ticket.id.0 != *seal_output {
            return Err(SealCheckError::BadSeal);
        }
    }
    Ok(())
}

/// [`verify_seal_and_entropy`] with the author's key decoded (e.g. from
/// [`ImportContext::keys`]) and `Y(H_v)`'s output point decoded once by the caller.
fn verify_seal_and_entropy_decoded(
    header: &Header,
    author: SealAuthor<'_>,
    sealer: &Sealer,
    eta3: &Entropy,
    entropy_output: &bandersnatch::VrfOutput,
) -> Result<Entropy, SealCheckError> {
    let input = seal_input(author.key, sealer, eta3)?;
    let unsigned = header.encode_unsigned();
    let seal: &[u8; IETF_SIGNATURE_LEN] = &header.seal.0;
    let vrf: &[u8; IETF_SIGNATURE_LEN] = &header.entropy_source.0;
    // Y(H_s) is read off the seal before it is verified, so both signatures verify at once.
    let claimed = bandersnatch::VrfOutput::decode(seal).ok_or(SealCheckError::BadSeal)?;
    let entropy_input = [JAM_ENTROPY, &claimed.hash()[..]].concat();
    let (seal_output, entropy) = match author.decoded {
        Some(public) => rayon::join(
            || bandersnatch::verify_ietf_decoded(&public, &input, &unsigned, &claimed, seal),
            || bandersnatch::verify_ietf_decoded(&public, &entropy_input, &[], entropy_output, vrf),
        ),
        None => (None, None),
    };
    let seal_output = seal_output.ok_or(SealCheckError::BadSeal)?;
    if seal_output != claimed.hash() {
        return Err(SealCheckError::BadSeal);
    }
    check_ticket(sealer, &seal_output)?;
    entropy.map(OpaqueHash).ok_or(SealCheckError::BadEntropy)
}
