//! Safrole block production: timekeeping, entropy, key rotation, sealing-key series, markers and the ticket contest (GP section 6).
//!
//! [`transition`] is a pure function of the prior Safrole components ([`SafroleState`]), the
//! block's slot, per-block entropy `Y(H_v)`, tickets extrinsic `E_T` and the posterior
//! offenders `ψ'_o`. It returns the posterior components with the header markers
//! ([`SafroleOutput`]), or a [`SafroleError`] (the prior state is then left as it was).
//!
//! Ring operations (`O(·)` for `γ'_z`, ticket proof verification) use a
//! [`RingContext`](crate::bandersnatch::RingContext) for rings of `V` keys, which the caller
//! builds once (e.g. via [`RingCache`](crate::bandersnatch::RingCache)) and passes in.

use crate::bandersnatch::{RingContext, RING_PROOF_LEN};
use crate::crypto::JAM_TICKET_SEAL;
use jam_state::hash::blake2b_256_concat;
use jam_state::params::Params;
use jam_state::types::*;
use rayon::prelude::*;

/// The Safrole-related state components (γ with its parts, τ, η, λ, κ, ι).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SafroleState {
    /// τ: the most recent block's slot.
    pub tau: TimeSlot,
    /// η: entropy accumulator and the three most recent epochs' values.
    pub eta: EntropyBuffer,
    /// λ: previous epoch's validators.
    pub lambda: ValidatorsData,
    /// κ: current epoch's validators.
    pub kappa: ValidatorsData,
    /// γ_k: next epoch's validators (pending set).
    pub gamma_k: ValidatorsData,
    /// ι: staged validators.
    pub iota: ValidatorsData,
    /// γ_a: ticket accumulator, sorted by id, at most E entries.
    pub gamma_a: TicketsAccumulator,
    /// γ_s: current epoch's sealing-key series.
    pub gamma_s: TicketsOrKeys,
    /// γ_z: ring root of γ_k's Bandersnatch keys.
    pub gamma_z: BandersnatchRingCommitment,
}

/// The block inputs of the Safrole transition.
#[derive(Clone, Copy, Debug)]
pub struct SafroleInput<'a> {
    /// H_t: the block's slot.
    pub slot: TimeSlot,
    /// Y(H_v): the VRF output of the block's entropy source.
    pub entropy: Entropy,
    /// E_T: the tickets extrinsic.
    pub extrinsic: &'a [TicketEnvelope],
    /// ψ'_o: the posterior offenders (from the disputes transition).
    pub post_offenders: &'a [Ed25519Public],
}

/// The header markers implied by the transition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SafroleOutput {
    /// H_e: epoch marker, on the first block of an epoch.
    pub epoch_mark: Option<EpochMark>,
    /// H_w: winning-tickets marker, on the first block after the contest closes with a full accumulator.
    pub tickets_mark: Option<TicketsMark>,
}

/// Why a block is invalid for Safrole. Variants follow the error codes of the safrole vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SafroleError {
    /// The slot does not advance (`H_t ≤ τ`).
    #[error("bad slot: the timeslot must be strictly monotonic")]
    BadSlot,
    /// Tickets after the contest closed (`m' ≥ Y`), or more than `K` tickets.
    #[error("unexpected ticket: tickets submitted after the contest or too many tickets")]
    UnexpectedTicket,
    /// Tickets not strictly increasing by identifier.
    #[error("bad ticket order: tickets must be sorted by id without duplicates")]
    BadTicketOrder,
    /// A ticket's ring VRF proof does not verify against `γ'_z`.
    #[error("bad ticket proof")]
    BadTicketProof,
    /// A ticket attempt not below `N`.
    #[error("bad ticket attempt")]
    BadTicketAttempt,
    /// A submitted ticket would not be kept in `γ'_a` (GP: `n ⊆ γ'_a`). The vectors have no
    /// code for this rule; it takes their `reserved` code.
    #[error("useless ticket: a submitted ticket does not enter the accumulator")]
    UselessTicket,
    /// A ticket identifier already in `γ_a`.
    #[error("duplicate ticket")]
    DuplicateTicket,
}

impl SafroleError {
    /// The vectors' error code (`ErrorCode` of `safrole.asn`).
    pub fn code(&self) -> u8 {
        match self {
            SafroleError::BadSlot => 0,
            SafroleError::UnexpectedTicket => 1,
            SafroleError::BadTicketOrder => 2,
            SafroleError::BadTicketProof => 3,
            SafroleError::BadTicketAttempt => 4,
            SafroleError::UselessTicket => 5,
            SafroleError::DuplicateTicket => 6,
        }
    }

    /// The vectors' error name (`ErrorCode` of `safrole.asn`, JSON spelling).
    pub fn name(&self) -> &'static str {
        match self {
            SafroleError::BadSlot => "bad_slot",
            SafroleError::UnexpectedTicket => "unexpected_ticket",
            SafroleError::BadTicketOrder => "bad_ticket_order",
            SafroleError::BadTicketProof => "bad_ticket_proof",
            SafroleError::BadTicketAttempt => "bad_ticket_attempt",
            SafroleError::UselessTicket => "reserved",
            SafroleError::DuplicateTicket => "duplicate_ticket",
        }
    }
}

/// The ticket VRF context `X_T ‖ η'_2 ‖ attempt` (GP 6.29).
pub fn ticket_vrf_input(eta2: &Entropy, attempt: TicketAttempt) -> Vec<u8> {
    let mut data = Vec::with_capacity(JAM_TICKET_SEAL.len() + 33);
    data.extend_from_slice(JAM_TICKET_SEAL);
    data.extend_from_slice(eta2.as_bytes());
    data.push(attempt);
    data
}

/// `Z`: the outside-in sequencer `[s_0, s_{n-1}, s_1, s_{n-2}, …]` (GP 6.25).
pub fn outside_in<T: Clone>(s: &[T]) -> Vec<T> {
    let n = s.len();
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                s[i / 2].clone()
            } else {
                s[n - 1 - i / 2].clone()
            }
        })
        .collect()
}

/// `F(r, k)`: the fallback sealing keys, `E` Bandersnatch keys drawn from `keys` (GP 6.26).
pub fn fallback_keys(
    params: &Params,
    r: &Entropy,
    keys: &[ValidatorData],
) -> Vec<BandersnatchPublic> {
    if keys.is_empty() {
        return vec![BandersnatchPublic::ZERO; params.epoch_len()];
    }
    (0..params.epoch_length)
        .map(|i| {
            let h = blake2b_256_concat(&[r.as_bytes(), &i.to_le_bytes()]);
            let idx = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize % keys.len();
            keys[idx].bandersnatch
        })
        .collect()
}

/// `Φ(k)`: the validator keys with offenders' keys replaced by the null key (GP 6.14).
pub fn nullify_offenders(
    keys: &[ValidatorData],
    offenders: &[Ed25519Public],
) -> Vec<ValidatorData> {
    keys.iter()
        .map(|k| {
            if offenders.contains(&k.ed25519) {
                ValidatorData::default()
            } else {
                *k
            }
        })
        .collect()
}

/// `O([k_b | k ← keys])`: the ring root of the validators' Bandersnatch keys.
pub fn ring_root(ring: &RingContext, keys: &[ValidatorData]) -> BandersnatchRingCommitment {
    let bks: Vec<[u8; 32]> = keys.iter().map(|k| k.bandersnatch.0).collect();
    BandersnatchRingCommitment(ring.ring_commitment(&bks))
}

/// Verifies the tickets of `E_T` against ring root `gamma_z` with entropy `eta2` and returns
/// their bodies `n` (ids are the VRF outputs), in extrinsic order.
pub fn verify_tickets(
    params: &Params,
    ring: &RingContext,
    gamma_z: &BandersnatchRingCommitment,
    eta2: &Entropy,
    tickets: &[TicketEnvelope],
) -> Result<Vec<TicketBody>, SafroleError> {
    if tickets.is_empty() {
        return Ok(Vec::new());
    }
    if tickets
        .iter()
        .any(|t| u16::from(t.attempt) >= params.tickets_per_validator)
    {
        return Err(SafroleError::BadTicketAttempt);
    }
    let verifier = ring
        .verifier(&gamma_z.0)
        .ok_or(SafroleError::BadTicketProof)?;
    tickets
        .par_iter()
        .map(|t| {
            let proof: &[u8; RING_PROOF_LEN] = &t.signature.0;
            verifier
                .verify(&ticket_vrf_input(eta2, t.attempt), &[], proof)
                .map(|id| TicketBody {
                    id: TicketId::from(id),
                    attempt: t.attempt,
                })
                .ok_or(SafroleError::BadTicketProof)
        })
        .collect()
}

/// The Safrole state transition (GP 6.1–6.35). On error nothing changes.
///
/// `ring` must be a context for rings of `V = params.validator_count` keys.
pub fn transition(
    params: &Params,
    ring: &RingContext,
    state: &SafroleState,
    input: &SafroleInput<'_>,
) -> Result<(SafroleState, SafroleOutput), SafroleError> {
    debug_assert_eq!(
        ring.ring_size(),
        params.validators(),
        "ring context for V keys"
    );
    let epoch_len = params.epoch_length;
    let contest = params.ticket_contest_duration;

    // Timekeeping (6.1–6.2).
    if input.slot <= state.tau {
        return Err(SafroleError::BadSlot);
    }
    let (e, m) = (state.tau / epoch_len, state.tau % epoch_len);
    let (e2, m2) = (input.slot / epoch_len, input.slot % epoch_len);
    let new_epoch = e2 > e;

    // Extrinsic size bound (6.30).
    let max_tickets = if m2 < contest {
        usize::from(params.max_tickets_per_extrinsic)
    } else {
        0
    };
    if input.extrinsic.len() > max_tickets {
        return Err(SafroleError::UnexpectedTicket);
    }

    // Entropy (6.22–6.23).
    let mut eta = state.eta;
    eta[0] = blake2b_256_concat(&[state.eta[0].as_bytes(), input.entropy.as_bytes()]).into();
    if new_epoch {
        eta[1] = state.eta[0];
        eta[2] = state.eta[1];
        eta[3] = state.eta[2];
    }

    // Key rotation (6.13).
    let (gamma_k, kappa, lambda, gamma_z) = if new_epoch {
        let gamma_k = nullify_offenders(&state.iota, input.post_offenders);
        let gamma_z = ring_root(ring, &gamma_k);
        (
            ValidatorsData::new(gamma_k),
            state.gamma_k.clone(),
            state.kappa.clone(),
            gamma_z,
        )
    } else {
        (
            state.gamma_k.clone(),
            state.kappa.clone(),
            state.lambda.clone(),
            state.gamma_z,
        )
    };

    // Tickets (6.29–6.35).
    let new_tickets = verify_tickets(params, ring, &gamma_z, &eta[2], input.extrinsic)?;
    if new_tickets.windows(2).any(|w| w[0].id >= w[1].id) {
        return Err(SafroleError::BadTicketOrder);
    }
    if new_tickets
        .iter()
        .any(|t| state.gamma_a.iter().any(|x| x.id == t.id))
    {
        return Err(SafroleError::DuplicateTicket);
    }
    let mut gamma_a: Vec<TicketBody> = if new_epoch {
        new_tickets.clone()
    } else {
        merge_sorted(&state.gamma_a, &new_tickets)
    };
    gamma_a.truncate(params.epoch_len());
    if let Some(last) = gamma_a.last() {
        if gamma_a.len() == params.epoch_len() && new_tickets.iter().any(|t| t.id > last.id) {
            return Err(SafroleError::UselessTicket);
        }
    }

    // Sealing-key series (6.24).
    let gamma_s = if e2 == e + 1 && m >= contest && state.gamma_a.len() == params.epoch_len() {
        TicketsOrKeys::Tickets(outside_in(&state.gamma_a).into())
    } else if e2 == e {
        state.gamma_s.clone()
    } else {
        TicketsOrKeys::Keys(fallback_keys(params, &eta[2], &kappa).into())
    };

    // Markers (6.27–6.28).
    let epoch_mark = new_epoch.then(|| EpochMark {
        entropy: state.eta[0],
        tickets_entropy: state.eta[1],
        validators: gamma_k
            .iter()
            .map(|k| EpochMarkValidatorKeys {
                bandersnatch: k.bandersnatch,
                ed25519: k.ed25519,
            })
            .collect(),
    });
    let tickets_mark =
        (e2 == e && m < contest && contest <= m2 && gamma_a.len() == params.epoch_len())
            .then(|| outside_in(&gamma_a).into());

    let post = SafroleState {
        tau: input.slot,
        eta,
        lambda,
        kappa,
        gamma_k,
        iota: state.iota.clone(),
        gamma_a,
        gamma_s,
        gamma_z,
    };
    Ok((
        post,
        SafroleOutput {
            epoch_mark,
            tickets_mark,
        },
    ))
}

/// Merges two id-sorted ticket sequences into one id-sorted sequence.
fn merge_sorted(a: &[TicketBody], b: &[TicketBody]) -> Vec<TicketBody> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].id <= b[j].id {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_in_order() {
        assert_eq!(outside_in(&[0, 1, 2, 3, 4, 5]), vec![0, 5, 1, 4, 2, 3]);
        assert_eq!(outside_in(&[0, 1, 2, 3, 4]), vec![0, 4, 1, 3, 2]);
        assert_eq!(outside_in::<u8>(&[]), Vec::<u8>::new());
    }

    #[test]
    fn merge_keeps_order() {
        let t = |b: u8| TicketBody {
            id: OpaqueHash([b; 32]),
            attempt: 0,
        };
        let merged = merge_sorted(&[t(1), t(4), t(6)], &[t(2), t(5), t(9)]);
        let ids: Vec<u8> = merged.iter().map(|x| x.id.0[0]).collect();
        assert_eq!(ids, vec![1, 2, 4, 5, 6, 9]);
    }

    #[test]
    fn fallback_is_deterministic_and_in_set() {
        let params = Params::tiny();
        let keys: Vec<ValidatorData> = (0..params.validators())
            .map(|i| ValidatorData {
                bandersnatch: BandersnatchPublic([i as u8 + 1; 32]),
                ..Default::default()
            })
            .collect();
        let r = Entropy::from([7u8; 32]);
        let f = fallback_keys(&params, &r, &keys);
        assert_eq!(f.len(), params.epoch_len());
        assert_eq!(f, fallback_keys(&params, &r, &keys));
        assert!(f.iter().all(|k| keys.iter().any(|v| v.bandersnatch == *k)));
    }

    #[test]
    fn nullify_offenders_zeroes_whole_key() {
        let a = ValidatorData {
            ed25519: Ed25519Public([1; 32]),
            bandersnatch: BandersnatchPublic([2; 32]),
            ..Default::default()
        };
        let b = ValidatorData {
            ed25519: Ed25519Public([3; 32]),
            ..Default::default()
        };
        let out = nullify_offenders(&[a, b], &[Ed25519Public([1; 32])]);
        assert_eq!(out, vec![ValidatorData::default(), b]);
    }

    #[test]
    fn error_codes_are_distinct() {
        use SafroleError::*;
        let all = [
            BadSlot,
            UnexpectedTicket,
            BadTicketOrder,
            BadTicketProof,
            BadTicketAttempt,
            UselessTicket,
            DuplicateTicket,
        ];
        for (i, e) in all.iter().enumerate() {
            assert_eq!(usize::from(e.code()), i);
        }
    }
}
