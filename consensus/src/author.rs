//! Safrole block authoring (GP v0.7.2 §5 header, §6.5–6.8 seal and entropy source, §6.7 ticket submission) for a dev testnet.
//!
//! Authoring mirrors [`import_block`](crate::import::import_block) step by step, using the
//! same functions, so that a block built here is one import accepts:
//!
//! 1. disputes (§10) with an empty disputes extrinsic give ψ'_o and the offenders marker `H_o`;
//! 2. [`safrole::transition`] gives κ', γ'_s, η'_3, γ'_z, η'_2 and the markers `H_e`, `H_w`;
//!    the slot's sealer is [`slot_sealer`]`(γ'_s, H_t)` — a fallback key `γ'_s[m]` that is ours,
//!    or a ticket whose id is our VRF output `Y(F_k⟨X_T ‖ η'_3 ‖ r⟩)` (GP 6.15–6.16);
//! 3. tickets (GP 6.29–6.34): while `m' < Y`, up to `K` envelopes from a pool that verify
//!    against `γ'_z` and `η'_2`, are new, and would enter the accumulator `γ'_a`, by id;
//! 4. the header: `H_p`, `H_r = M_σ(σ)`, `H_x`, `H_t`, markers, `H_i` = our index in κ',
//!    `H_v = F̃_k⟨X_E ‖ Y(H_s)⟩([])` (6.17) — `Y(H_s)` is known before signing, as the VRF
//!    output does not depend on the message — and last `H_s = F̃_k⟨c⟩(E_U(H))` (6.15/6.16).
//!
//! [`tickets_for_epoch`] makes a validator's `N` ticket envelopes (ring VRF proofs over
//! `X_T ‖ η'_2 ‖ r` in the ring `γ'_k`, GP 6.29) for the next epoch's contest.

use crate::bandersnatch::{RingContext, RING_PROOF_LEN};
use crate::bandersnatch_prover::RingProver;
use crate::crypto::{JAM_ENTROPY, JAM_FALLBACK_SEAL, JAM_TICKET_SEAL};
use crate::disputes::{self, DisputesError, DisputesPosterior};
use crate::import::{extrinsic_hash, slot_sealer, Sealer};
use crate::safrole::{
    self, ticket_vrf_input, SafroleError, SafroleInput, SafroleOutput, SafroleState,
};
use crate::validator_keys::ValidatorSecrets;
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::types::*;
use rayon::prelude::*;

/// Why a block could not be authored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthorError {
    /// The slot does not come after the prior state's slot.
    #[error("slot {slot} is not after the prior slot {prior}")]
    BadSlot { slot: TimeSlot, prior: TimeSlot },
    /// The (empty) disputes extrinsic was rejected: the prior state is inconsistent.
    #[error("disputes: {0}")]
    Disputes(#[from] DisputesError),
    /// Safrole rejected the slot or the chosen tickets (an authoring bug if it happens).
    #[error("safrole: {0}")]
    Safrole(#[from] SafroleError),
    /// A VRF context did not map to a curve point, or a ring prover could not be built.
    #[error("VRF signing failed")]
    Vrf,
}

/// How a validator holds a slot (GP 6.15–6.16).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotClaim {
    /// `H_i`: the author's index in κ'.
    pub author_index: ValidatorIndex,
    /// `γ'_s[m]`: the ticket or fallback key that gives the slot.
    pub sealer: Sealer,
    /// The seal's VRF context: `X_T ‖ η'_3 ‖ r` (ticket) or `X_F ‖ η'_3` (fallback).
    pub seal_context: Vec<u8>,
}

/// The seal's VRF context for `sealer` under `η'_3` (GP 6.15–6.16).
pub fn seal_context(sealer: &Sealer, eta3: &Entropy) -> Vec<u8> {
    let mut c = Vec::with_capacity(JAM_FALLBACK_SEAL.len() + 33);
    match sealer {
        Sealer::Ticket(t) => {
            c.extend_from_slice(JAM_TICKET_SEAL);
            c.extend_from_slice(eta3.as_bytes());
            c.push(t.attempt);
        }
        Sealer::Key(_) => {
            c.extend_from_slice(JAM_FALLBACK_SEAL);
            c.extend_from_slice(eta3.as_bytes());
        }
    }
    c
}

/// The posterior disputes and Safrole components a block at `slot` with the given tickets
/// would produce (the entropy input is irrelevant to everything authoring reads from it).
struct Posterior {
    disputed: DisputesPosterior,
    safrole: SafroleState,
    markers: SafroleOutput,
}

fn prior_safrole(state: &State) -> SafroleState {
    SafroleState {
        tau: state.timeslot,
        eta: state.entropy,
        lambda: state.previous_validators.clone(),
        kappa: state.active_validators.clone(),
        gamma_k: state.safrole.gamma_k.clone(),
        iota: state.staging_validators.clone(),
        gamma_a: state.safrole.gamma_a.clone(),
        gamma_s: state.safrole.gamma_s.clone(),
        gamma_z: state.safrole.gamma_z,
    }
}

fn posterior(
    params: &Params,
    ring: &RingContext,
    state: &State,
    slot: TimeSlot,
    tickets: &[TicketEnvelope],
    disputed: Option<DisputesPosterior>,
) -> Result<Posterior, AuthorError> {
    if slot <= state.timeslot {
        return Err(AuthorError::BadSlot {
            slot,
            prior: state.timeslot,
        });
    }
    let disputed = match disputed {
        Some(d) => d,
        None => disputes::transition(
            params,
            &state.disputes,
            &state.availability,
            state.timeslot,
            &state.active_validators,
            &state.previous_validators,
            &DisputesExtrinsic::default(),
        )?,
    };
    let (safrole, markers) = safrole::transition(
        params,
        ring,
        &prior_safrole(state),
        &SafroleInput {
            slot,
            entropy: Entropy::ZERO,
            extrinsic: tickets,
            post_offenders: &disputed.psi.offenders,
        },
    )?;
    Ok(Posterior {
        disputed,
        safrole,
        markers,
    })
}

/// The claim of `keys` on `slot` given the posterior Safrole state, if any.
fn claim_in(
    params: &Params,
    sf: &SafroleState,
    slot: TimeSlot,
    keys: &ValidatorSecrets,
) -> Result<Option<SlotClaim>, AuthorError> {
    let me = keys.bandersnatch_public();
    let Some(author_index) = sf.kappa.iter().position(|k| k.bandersnatch == me) else {
        return Ok(None);
    };
    let Some(sealer) = slot_sealer(params, &sf.gamma_s, slot) else {
        return Ok(None);
    };
    let eta3 = sf.eta[3];
    let context = seal_context(&sealer, &eta3);
    let mine = match &sealer {
        Sealer::Key(k) => *k == me,
        Sealer::Ticket(t) => {
            let y = keys
                .bandersnatch()
                .vrf_output(&context)
                .ok_or(AuthorError::Vrf)?;
            t.id.0 == y
        }
    };
    Ok(mine.then_some(SlotClaim {
        author_index: author_index as ValidatorIndex,
        sealer,
        seal_context: context,
    }))
}

/// Whether `keys` may seal a block at `slot` on top of `state`, and how (GP 6.15–6.16).
pub fn claim_slot(
    params: &Params,
    ring: &RingContext,
    state: &State,
    slot: TimeSlot,
    keys: &ValidatorSecrets,
) -> Result<Option<SlotClaim>, AuthorError> {
    let post = posterior(params, ring, state, slot, &[], None)?;
    claim_in(params, &post.safrole, slot, keys)
}

/// Which of `candidates` (e.g. the validators a node runs) may seal a block at `slot` on top
/// of `state`, and how: the first that holds the slot, with its index in `candidates`. The
/// posterior state is computed once for all of them.
pub fn find_sealer(
    params: &Params,
    ring: &RingContext,
    state: &State,
    slot: TimeSlot,
    candidates: &[ValidatorSecrets],
) -> Result<Option<(usize, SlotClaim)>, AuthorError> {
    let post = posterior(params, ring, state, slot, &[], None)?;
    for (i, keys) in candidates.iter().enumerate() {
        if let Some(claim) = claim_in(params, &post.safrole, slot, keys)? {
            return Ok(Some((i, claim)));
        }
    }
    Ok(None)
}

/// The envelopes of `pool` a block at `slot` may carry (GP 6.29–6.34), given the posterior
/// Safrole state with no tickets: none once the contest is over (`m' ≥ Y`); otherwise those
/// whose attempt is below `N` and whose proof verifies against `γ'_z` with `η'_2`, with an id
/// not already in `γ_a` (nor twice in the pool) that would be kept among the best `E` of the
/// accumulator — the `K` best such, sorted by id.
pub fn select_tickets(
    params: &Params,
    ring: &RingContext,
    state: &State,
    post: &SafroleState,
    slot: TimeSlot,
    pool: &[TicketEnvelope],
) -> Vec<TicketEnvelope> {
    if slot % params.epoch_length >= params.ticket_contest_duration || pool.is_empty() {
        return Vec::new();
    }
    let Some(verifier) = ring.verifier(&post.gamma_z.0) else {
        return Vec::new();
    };
    let eta2 = post.eta[2];
    let mut candidates: Vec<(TicketId, &TicketEnvelope)> = pool
        .par_iter()
        .filter(|t| u16::from(t.attempt) < params.tickets_per_validator)
        .filter_map(|t| {
            let proof: &[u8; RING_PROOF_LEN] = &t.signature.0;
            verifier
                .verify(&ticket_vrf_input(&eta2, t.attempt), &[], proof)
                .map(|id| (OpaqueHash(id), t))
        })
        .collect();
    candidates.sort_by_key(|(id, _)| *id);
    candidates.dedup_by_key(|(id, _)| *id);
    candidates.retain(|(id, _)| !state.safrole.gamma_a.iter().any(|x| x.id == *id));
    // The accumulator the block extends: γ_a within an epoch, empty on an epoch's first block.
    let same_epoch = slot / params.epoch_length == state.timeslot / params.epoch_length;
    let base: &[TicketBody] = if same_epoch {
        &state.safrole.gamma_a
    } else {
        &[]
    };
    let mut ids: Vec<TicketId> = base
        .iter()
        .map(|t| t.id)
        .chain(candidates.iter().map(|(id, _)| *id))
        .collect();
    ids.sort();
    let cutoff = ids.get(params.epoch_len().saturating_sub(1)).copied();
    candidates
        .into_iter()
        .filter(|(id, _)| cutoff.is_none_or(|c| *id <= c))
        .take(usize::from(params.max_tickets_per_extrinsic))
        .map(|(_, t)| t.clone())
        .collect()
}

/// Authors the block of `keys` at `slot` on top of `state` (whose header hash is `parent`), if
/// `keys` hold the slot; `Ok(None)` otherwise. The tickets extrinsic takes what
/// [`select_tickets`] picks from `ticket_pool` (any validators' envelopes); the other
/// extrinsics are empty.
pub fn author_block(
    params: &Params,
    ring: &RingContext,
    state: &State,
    parent: HeaderHash,
    slot: TimeSlot,
    keys: &ValidatorSecrets,
    ticket_pool: &[TicketEnvelope],
) -> Result<Option<Block>, AuthorError> {
    let post = posterior(params, ring, state, slot, &[], None)?;
    let Some(claim) = claim_in(params, &post.safrole, slot, keys)? else {
        return Ok(None);
    };
    let tickets = select_tickets(params, ring, state, &post.safrole, slot, ticket_pool);
    let post = if tickets.is_empty() {
        post
    } else {
        posterior(params, ring, state, slot, &tickets, Some(post.disputed))?
    };
    let extrinsic = Extrinsic {
        tickets,
        ..Default::default()
    };
    let mut header = Header {
        parent,
        parent_state_root: OpaqueHash(state.state_root()),
        extrinsic_hash: extrinsic_hash(&extrinsic),
        slot,
        epoch_mark: post.markers.epoch_mark,
        tickets_mark: post.markers.tickets_mark,
        author_index: claim.author_index,
        entropy_source: BandersnatchVrfSignature::ZERO,
        offenders_mark: post.disputed.offenders_mark,
        seal: BandersnatchVrfSignature::ZERO,
    };
    seal_header(&mut header, keys, &claim)?;
    Ok(Some(Block { header, extrinsic }))
}

/// Fills in `H_v` and then `H_s` (GP 6.15–6.17); every other field must be final.
pub fn seal_header(
    header: &mut Header,
    keys: &ValidatorSecrets,
    claim: &SlotClaim,
) -> Result<(), AuthorError> {
    let secret = keys.bandersnatch();
    let seal_output = secret
        .vrf_output(&claim.seal_context)
        .ok_or(AuthorError::Vrf)?;
    let entropy_context = [JAM_ENTROPY, &seal_output[..]].concat();
    header.entropy_source = BandersnatchVrfSignature(
        secret
            .ietf_sign(&entropy_context, &[])
            .ok_or(AuthorError::Vrf)?,
    );
    header.seal = BandersnatchVrfSignature(
        secret
            .ietf_sign(&claim.seal_context, &header.encode_unsigned())
            .ok_or(AuthorError::Vrf)?,
    );
    Ok(())
}

/// The `N` ticket envelopes of `keys` (attempts `0..N`) for a contest with entropy `η'_2`
/// over the ring `ring_keys` = `γ'_k` (GP 6.29): ring VRF proofs over `X_T ‖ η'_2 ‖ r` with no
/// additional data. Empty when `keys` are not in the ring.
pub fn tickets_for_epoch(
    params: &Params,
    ring: &RingContext,
    eta2: &Entropy,
    ring_keys: &[ValidatorData],
    keys: &ValidatorSecrets,
) -> Result<Vec<TicketEnvelope>, AuthorError> {
    let me = keys.bandersnatch_public();
    let Some(index) = ring_keys.iter().position(|k| k.bandersnatch == me) else {
        return Ok(Vec::new());
    };
    let ring_bks: Vec<[u8; 32]> = ring_keys.iter().map(|k| k.bandersnatch.0).collect();
    let prover = RingProver::new(ring, &ring_bks, index).ok_or(AuthorError::Vrf)?;
    (0..params.tickets_per_validator)
        .into_par_iter()
        .map(|attempt| {
            let attempt = attempt as TicketAttempt;
            prover
                .prove(keys.bandersnatch(), &ticket_vrf_input(eta2, attempt), &[])
                .map(|proof| TicketEnvelope {
                    attempt,
                    signature: BandersnatchRingVrfSignature(proof),
                })
                .ok_or(AuthorError::Vrf)
        })
        .collect()
}

/// [`tickets_for_epoch`] for the contest a block at `slot` on top of `state` takes part in:
/// `η'_2` and the ring `γ'_k` of that block's posterior state (on an epoch's first block these
/// are the rotated values). The tickets are for the epoch after `slot`'s and are valid in the
/// blocks of `slot`'s epoch with `m < Y`.
pub fn tickets_for_slot(
    params: &Params,
    ring: &RingContext,
    state: &State,
    slot: TimeSlot,
    keys: &ValidatorSecrets,
) -> Result<Vec<TicketEnvelope>, AuthorError> {
    let post = posterior(params, ring, state, slot, &[], None)?;
    tickets_for_epoch(
        params,
        ring,
        &post.safrole.eta[2],
        &post.safrole.gamma_k,
        keys,
    )
}

/// [`tickets_for_epoch`] for the contest of `state`'s epoch: `η_2` and the ring `γ_k` of
/// `state` (the posterior state of a block in that epoch). The tickets are for the next epoch
/// and are valid in blocks of `state`'s epoch with `m < Y`.
pub fn tickets_for_state(
    params: &Params,
    ring: &RingContext,
    state: &State,
    keys: &ValidatorSecrets,
) -> Result<Vec<TicketEnvelope>, AuthorError> {
    tickets_for_epoch(
        params,
        ring,
        &state.entropy[2],
        &state.safrole.gamma_k,
        keys,
    )
}
