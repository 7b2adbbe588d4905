//! Ed25519 verification with the consensus-critical ZIP-215 rules, and the signing contexts (GP Appendix I.4.5).
//!
//! The GP requires every node to agree on which Ed25519 signatures are valid. RFC 8032 leaves
//! room for divergence (non-canonical point encodings, torsion components, cofactored or
//! cofactorless equation), so verification here follows ZIP-215:
//!
//! 1. `A` and `R` must decode to points of the curve; non-canonical encodings (y not reduced
//!    modulo p, sign bit set for x = 0) are accepted;
//! 2. `s` must be canonical (`s < q`);
//! 3. the challenge is `k = SHA-512(R_bytes ‖ A_bytes ‖ M)` over the bytes as given;
//! 4. the cofactored equation `[8][s]B = [8]R + [8][k]A` must hold.
//!
//! `ed25519-zebra` implements exactly these rules; [`ed25519_verify`] wraps it.
//!
//! The signing contexts are written `$jam_...` in the GP, where the `$` marks an ASCII string
//! (GP notation, section 3): the octets are the string's characters without the `$`, e.g.
//! `X_A = b"jam_available"`, which is what the test vectors sign.

use rayon::prelude::*;

/// `X_A`: Ed25519 availability assurances (GP eq. 11.13).
pub const JAM_AVAILABLE: &[u8] = b"jam_available";
/// `X_B`: BLS accumulate-result-root MMR commitment.
pub const JAM_BEEFY: &[u8] = b"jam_beefy";
/// `X_E`: on-chain entropy generation (VRF output of the block seal).
pub const JAM_ENTROPY: &[u8] = b"jam_entropy";
/// `X_F`: Bandersnatch fallback block seal.
pub const JAM_FALLBACK_SEAL: &[u8] = b"jam_fallback_seal";
/// `X_G`: Ed25519 guarantee statements.
pub const JAM_GUARANTEE: &[u8] = b"jam_guarantee";
/// `X_I`: Ed25519 audit announcement statements.
pub const JAM_ANNOUNCE: &[u8] = b"jam_announce";
/// `X_T`: Bandersnatch RingVRF ticket generation and regular block seal.
pub const JAM_TICKET_SEAL: &[u8] = b"jam_ticket_seal";
/// `X_U`: Bandersnatch audit selection entropy.
pub const JAM_AUDIT: &[u8] = b"jam_audit";
/// `X_⊤`: Ed25519 judgments for valid work-reports.
pub const JAM_VALID: &[u8] = b"jam_valid";
/// `X_⊥`: Ed25519 judgments for invalid work-reports.
pub const JAM_INVALID: &[u8] = b"jam_invalid";

/// Verifies an Ed25519 signature under the ZIP-215 rules (see the module documentation).
///
/// Returns `false` for a public key or `R` that is not the encoding of a curve point, a
/// non-canonical scalar `s`, or a failing cofactored verification equation.
pub fn ed25519_verify(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = ed25519_zebra::VerificationKey::try_from(*public) else {
        return false;
    };
    let sig = ed25519_zebra::Signature::from_bytes(signature);
    key.verify(&sig, message).is_ok()
}

/// The message of a signature made in `context`: `context ‖ payload`.
pub fn signing_message(context: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(context.len() + payload.len());
    m.extend_from_slice(context);
    m.extend_from_slice(payload);
    m
}

/// One signature to check: public key, message, signature.
#[derive(Clone, Copy, Debug)]
pub struct Ed25519Item<'a> {
    pub public: &'a [u8; 32],
    pub message: &'a [u8],
    pub signature: &'a [u8; 64],
}

/// Below this many signatures, verification stays on the calling thread.
const PARALLEL_THRESHOLD: usize = 8;

/// Verifies every item (in parallel with rayon when there are many) and returns the index of
/// the first item, in the given order, whose signature is invalid; `None` when all are valid.
///
/// Each item is verified individually with [`ed25519_verify`], so the result is exactly the
/// same as verifying them one by one, independent of how they are grouped.
pub fn ed25519_first_invalid(items: &[Ed25519Item<'_>]) -> Option<usize> {
    let check = |it: &Ed25519Item<'_>| ed25519_verify(it.public, it.message, it.signature);
    if items.len() < PARALLEL_THRESHOLD {
        items.iter().position(|it| !check(it))
    } else {
        items.par_iter().position_first(|it| !check(it))
    }
}

/// `true` when every item's signature is valid (see [`ed25519_first_invalid`]).
pub fn ed25519_verify_all(items: &[Ed25519Item<'_>]) -> bool {
    ed25519_first_invalid(items).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage() {
        let pk = [0xffu8; 32];
        let sig = [0u8; 64];
        // y = 2^255 - 1 (non-canonical, y mod p = 18) is not on the curve.
        assert!(!ed25519_verify(&pk, b"x", &sig));
    }

    #[test]
    fn rejects_non_canonical_scalar() {
        // Identity A and R, s = q (non-canonical): the equation would hold for s mod q = 0.
        let mut pk = [0u8; 32];
        pk[0] = 1;
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let q: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        sig[32..].copy_from_slice(&q);
        assert!(!ed25519_verify(&pk, b"x", &sig));
        sig[32..].fill(0);
        assert!(ed25519_verify(&pk, b"x", &sig));
    }
}
