//! Block import (GP v0.7.2 §4–13): header checks (§5, seal and entropy §6.4–6.5) and the
//! sub-transitions in GP order, from the prior state σ to the posterior σ'.

use crate::bandersnatch::{self, RingContext, IETF_SIGNATURE_LEN};
use crate::crypto::{JAM_ENTROPY, JAM_FALLBACK_SEAL, JAM_TICKET_SEAL};
use jam_state::codec::Encode;
use jam_state::hash::blake2b_256;
use jam_state::params::Params;
use jam_state::types::*;

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
    let unsigned = header.encode_unsigned();
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
    let seal: &[u8; IETF_SIGNATURE_LEN] = &header.seal.0;
    let seal_output = bandersnatch::verify_ietf(&author_key.0, &input, &unsigned, seal)
        .ok_or(SealCheckError::BadSeal)?;
    if let Sealer::Ticket(ticket) = sealer {
        if ticket.id.0 != seal_output {
            return Err(SealCheckError::BadSeal);
        }
    }
    let entropy_input = [JAM_ENTROPY, &seal_output[..]].concat();
    let vrf: &[u8; IETF_SIGNATURE_LEN] = &header.entropy_source.0;
    bandersnatch::verify_ietf(&author_key.0, &entropy_input, &[], vrf)
        .map(OpaqueHash)
        .ok_or(SealCheckError::BadEntropy)
}

#[allow(dead_code)]
fn _ring_type_check(_r: &RingContext) {}
