//! Availability assurances: the assurances extrinsic, newly available reports and timeouts (GP section 11.2, eqs. 11.10-11.17).

use crate::crypto::{ed25519_first_invalid, Ed25519Item, JAM_AVAILABLE};
use jam_state::hash::blake2b_256;
use jam_state::params::Params;
use jam_state::types::{
    AvailAssurance, AvailabilityAssignments, HeaderHash, TimeSlot, ValidatorData, WorkReport,
};

/// Why an assurances extrinsic is invalid. Variants map one-to-one to the vector error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssurancesError {
    #[error("assurance anchor is not the parent hash")]
    BadAttestationParent,
    #[error("assurer validator index out of range")]
    BadValidatorIndex,
    #[error("assurance bit set for a core without a pending report")]
    CoreNotEngaged,
    #[error("invalid assurance signature")]
    BadSignature,
    #[error("assurers not sorted by validator index or not unique")]
    NotSortedOrUniqueAssurers,
}

impl AssurancesError {
    /// The error code of the test vectors' `ErrorCode` enumeration.
    pub fn code(&self) -> u8 {
        match self {
            AssurancesError::BadAttestationParent => 0,
            AssurancesError::BadValidatorIndex => 1,
            AssurancesError::CoreNotEngaged => 2,
            AssurancesError::BadSignature => 3,
            AssurancesError::NotSortedOrUniqueAssurers => 4,
        }
    }

    /// The error from its vector code.
    pub fn from_code(code: u8) -> Option<Self> {
        use AssurancesError::*;
        [
            BadAttestationParent,
            BadValidatorIndex,
            CoreNotEngaged,
            BadSignature,
            NotSortedOrUniqueAssurers,
        ]
        .get(code as usize)
        .copied()
    }
}

/// The posterior of a successful assurances transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssurancesPosterior {
    /// ρ‡: pending reports without those now available or timed out (eq. 11.17).
    pub rho: AvailabilityAssignments,
    /// W: the reports that became available, in core order (eq. 11.16).
    pub available: Vec<WorkReport>,
}

/// Bit `core` of an availability bitfield (bit i of octet i/8, least significant first).
pub fn bit(bitfield: &[u8], core: usize) -> bool {
    bitfield
        .get(core / 8)
        .is_some_and(|b| b >> (core % 8) & 1 == 1)
}

/// The message an assurer signs: `X_A ‖ blake2b(E(parent, bitfield))` (eq. 11.13).
pub fn assurance_message(parent: &HeaderHash, bitfield: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(32 + bitfield.len());
    payload.extend_from_slice(&parent[..]);
    payload.extend_from_slice(bitfield);
    [JAM_AVAILABLE, &blake2b_256(&payload)[..]].concat()
}

/// What the assurances of a block at `slot` do to a core's entry in ρ†.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreFate {
    /// No report pending.
    Free,
    /// The report stays pending.
    Engaged,
    /// The report becomes available (eq. 11.16) and the core free.
    Available,
    /// The report timed out (eq. 11.17) and the core is free.
    TimedOut,
}

/// The fate of each core's entry in `rho` under `assurances` (assumed valid) in a block at
/// `slot`: available once more than two thirds of the validators assure it (eq. 11.16),
/// else dropped once timed out (eq. 11.17). A block author uses it to know which cores its
/// E_G may fill.
pub fn fates(
    params: &Params,
    rho: &AvailabilityAssignments,
    assurances: &[AvailAssurance],
    slot: TimeSlot,
) -> Vec<CoreFate> {
    let v_count = params.validators();
    let timeout = params.availability_timeout as TimeSlot;
    rho.iter()
        .enumerate()
        .map(|(c, entry)| {
            let Some(assignment) = entry else {
                return CoreFate::Free;
            };
            let n = assurances.iter().filter(|a| bit(&a.bitfield, c)).count();
            if 3 * n > 2 * v_count {
                CoreFate::Available
            } else if slot >= assignment.timeout.saturating_add(timeout) {
                CoreFate::TimedOut
            } else {
                CoreFate::Engaged
            }
        })
        .collect()
}

/// Applies the assurances extrinsic to ρ† (GP section 11.2).
///
/// `rho` is ρ† (after disputes), `kappa` the active validators κ', `slot` the block's H_t and
/// `parent` its H_p. On error nothing is changed.
pub fn transition(
    params: &Params,
    rho: &AvailabilityAssignments,
    kappa: &[ValidatorData],
    assurances: &[AvailAssurance],
    slot: TimeSlot,
    parent: &HeaderHash,
) -> Result<AssurancesPosterior, AssurancesError> {
    let v_count = params.validators();
    let cores = params.cores();

    // Eq. 11.11-11.12: anchored on the parent, ordered by validator index without duplicates.
    let mut previous: Option<u16> = None;
    for a in assurances {
        if a.anchor != *parent {
            return Err(AssurancesError::BadAttestationParent);
        }
        if previous.is_some_and(|p| a.validator_index <= p) {
            return Err(AssurancesError::NotSortedOrUniqueAssurers);
        }
        previous = Some(a.validator_index);
        if a.validator_index as usize >= v_count || a.validator_index as usize >= kappa.len() {
            return Err(AssurancesError::BadValidatorIndex);
        }
        // Eq. 11.14: a bit may only be set for a core with a pending report (bits past C
        // name no core at all).
        let engaged = (0..a.bitfield.len() * 8)
            .filter(|&c| bit(&a.bitfield, c))
            .all(|c| c < cores && rho.get(c).is_some_and(|r| r.is_some()));
        if !engaged {
            return Err(AssurancesError::CoreNotEngaged);
        }
    }

    // Eq. 11.13: signatures, verified in parallel.
    let messages: Vec<Vec<u8>> = assurances
        .iter()
        .map(|a| assurance_message(parent, &a.bitfield))
        .collect();
    let items: Vec<Ed25519Item<'_>> = assurances
        .iter()
        .zip(&messages)
        .map(|(a, m)| Ed25519Item {
            public: &kappa[a.validator_index as usize].ed25519.0,
            message: m,
            signature: &a.signature.0,
        })
        .collect();
    if ed25519_first_invalid(&items).is_some() {
        return Err(AssurancesError::BadSignature);
    }

    let mut rho_post = rho.clone();
    let mut available = Vec::new();
    for (c, (entry, fate)) in rho_post
        .iter_mut()
        .zip(fates(params, rho, assurances, slot))
        .enumerate()
    {
        debug_assert!(c < cores);
        if fate == CoreFate::Available {
            available.extend(entry.as_ref().map(|a| a.report.clone()));
        }
        if fate != CoreFate::Engaged {
            *entry = None;
        }
    }
    Ok(AssurancesPosterior {
        rho: rho_post,
        available,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_state::types::{AvailabilityAssignment, Ed25519Public, Ed25519Signature, OpaqueHash};

    fn key(seed: u8) -> ed25519_zebra::SigningKey {
        ed25519_zebra::SigningKey::from([seed; 32])
    }
    fn validators() -> Vec<ValidatorData> {
        (0..6u8)
            .map(|i| ValidatorData {
                ed25519: Ed25519Public(<[u8; 32]>::from(ed25519_zebra::VerificationKey::from(
                    &key(i + 1),
                ))),
                ..Default::default()
            })
            .collect()
    }
    fn assurance(parent: &HeaderHash, bits: u8, index: u16) -> AvailAssurance {
        let bitfield = vec![bits];
        let signature = key(index as u8 + 1).sign(&assurance_message(parent, &bitfield));
        AvailAssurance {
            anchor: *parent,
            bitfield: bitfield.into(),
            validator_index: index,
            signature: Ed25519Signature(signature.to_bytes()),
        }
    }
    fn rho(params: &Params, timeouts: [Option<u32>; 2]) -> AvailabilityAssignments {
        timeouts
            .iter()
            .enumerate()
            .map(|(c, t)| {
                t.map(|timeout| AvailabilityAssignment {
                    report: WorkReport {
                        core_index: c as u16,
                        ..Default::default()
                    },
                    timeout,
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .take(params.cores())
            .collect()
    }

    #[test]
    fn bits_are_lsb_first() {
        assert!(bit(&[0b10], 1));
        assert!(!bit(&[0b10], 0));
        assert!(bit(&[0, 1], 8));
        assert!(!bit(&[1], 8));
    }

    #[test]
    fn super_majority_makes_available_and_timeouts_clear() {
        let params = Params::tiny();
        let kappa = validators();
        let parent = OpaqueHash([5; 32]);
        let pre = rho(&params, [Some(10), Some(10)]);
        // Core 0 assured by 5 of 6 (> 2/3), core 1 by 4 of 6 (not > 2/3).
        let ext: Vec<_> = (0..5u16)
            .map(|i| assurance(&parent, if i < 4 { 0b11 } else { 0b01 }, i))
            .collect();
        let post = transition(&params, &pre, &kappa, &ext, 11, &parent).unwrap();
        assert_eq!(post.available.len(), 1);
        assert_eq!(post.available[0].core_index, 0);
        assert!(post.rho[0].is_none());
        assert!(post.rho[1].is_some());
        // At slot timeout + U the unavailable report is dropped without being output.
        let u = params.availability_timeout as u32;
        let post = transition(&params, &pre, &kappa, &ext[..4], 10 + u, &parent).unwrap();
        assert!(post.available.is_empty());
        assert!(post.rho.iter().all(Option::is_none));
        let post = transition(&params, &pre, &kappa, &[], 10 + u - 1, &parent).unwrap();
        assert_eq!(post.rho, pre);
    }

    #[test]
    fn rejections() {
        let params = Params::tiny();
        let kappa = validators();
        let parent = OpaqueHash([5; 32]);
        let pre = rho(&params, [Some(10), None]);
        let run = |ext: &[AvailAssurance]| transition(&params, &pre, &kappa, ext, 11, &parent);
        assert_eq!(
            run(&[assurance(&parent, 0b10, 0)]),
            Err(AssurancesError::CoreNotEngaged)
        );
        // A bit past the last core (tiny has 2 cores) names no core.
        assert_eq!(
            run(&[assurance(&parent, 0b101, 0)]),
            Err(AssurancesError::CoreNotEngaged)
        );
        assert_eq!(
            run(&[assurance(&OpaqueHash([6; 32]), 1, 0)]),
            Err(AssurancesError::BadAttestationParent)
        );
        assert_eq!(
            run(&[assurance(&parent, 1, 2), assurance(&parent, 1, 2)]),
            Err(AssurancesError::NotSortedOrUniqueAssurers)
        );
        assert_eq!(
            run(&[assurance(&parent, 1, 3), assurance(&parent, 1, 1)]),
            Err(AssurancesError::NotSortedOrUniqueAssurers)
        );
        assert_eq!(
            run(&[assurance(&parent, 1, 6)]),
            Err(AssurancesError::BadValidatorIndex)
        );
        let mut forged = assurance(&parent, 1, 0);
        forged.validator_index = 1;
        assert_eq!(run(&[forged]), Err(AssurancesError::BadSignature));
        assert!(run(&[assurance(&parent, 1, 0)]).is_ok());
        for code in 0..5u8 {
            assert_eq!(AssurancesError::from_code(code).unwrap().code(), code);
        }
    }
}
