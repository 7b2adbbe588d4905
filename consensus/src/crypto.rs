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

use ark_vrf::reexports::ark_std::rand as rand08;
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

/// Below this many signatures, the individual fallback stays on the calling thread.
const PARALLEL_THRESHOLD: usize = 8;

/// Signatures per batch; bigger sets are split into batches checked in parallel.
const BATCH_CHUNK: usize = 64;

/// Verifies every item and returns the index of the first item, in the given order, whose
/// signature is invalid; `None` when all are valid.
///
/// Two or more items are first checked together with `ed25519-zebra`'s batch verifier (one
/// multi-scalar multiplication for the whole set, in chunks of [`BATCH_CHUNK`] checked in
/// parallel; ZIP-215 batch verification accepts exactly the sets whose every signature
/// verifies singly, up to a 2⁻¹²⁸ chance for an invalid one to slip through unseen — the
/// batch weights are derived from a hash of the whole set, see [`batch_verify`]). When a batch
/// fails, every item is verified individually with [`ed25519_verify`] (in parallel with rayon
/// when there are many), so the index returned is exactly the one that verifying them one by
/// one would find.
pub fn ed25519_first_invalid(items: &[Ed25519Item<'_>]) -> Option<usize> {
    let batched = match items.len() {
        0 => return None,
        1 => false,
        n if n <= BATCH_CHUNK => batch_verify(items),
        _ => items.par_chunks(BATCH_CHUNK).all(batch_verify),
    };
    if batched {
        return None;
    }
    first_invalid_single(items)
}

/// The first item whose signature fails [`ed25519_verify`] on its own.
fn first_invalid_single(items: &[Ed25519Item<'_>]) -> Option<usize> {
    let check = |it: &Ed25519Item<'_>| ed25519_verify(it.public, it.message, it.signature);
    if items.len() < PARALLEL_THRESHOLD {
        items.iter().position(|it| !check(it))
    } else {
        items.par_iter().position_first(|it| !check(it))
    }
}

/// Batch-verifies `items` under the ZIP-215 rules (`ed25519_zebra::batch`): `true` when
/// every signature is valid, `false` when at least one is invalid (up to the 2⁻¹²⁸ chance
/// above).
///
/// The batch's random 128-bit weights come from [`TranscriptRng`], seeded with a BLAKE2b hash
/// of every key, signature and message of the batch: whoever made the signatures fixed them
/// before the weights were known, which is what the batch check's soundness needs, and the
/// outcome is the same on every run and every node.
fn batch_verify(items: &[Ed25519Item<'_>]) -> bool {
    use blake2::Digest;
    let mut transcript = blake2::Blake2b512::new();
    transcript.update(b"jam-ed25519-batch");
    let mut batch = ed25519_zebra::batch::Verifier::new();
    for it in items {
        transcript.update(it.public);
        transcript.update(it.signature);
        transcript.update((it.message.len() as u64).to_le_bytes());
        transcript.update(it.message);
        batch.queue((
            ed25519_zebra::VerificationKeyBytes::from(*it.public),
            ed25519_zebra::Signature::from_bytes(it.signature),
            it.message,
        ));
    }
    let mut seed = [0u8; 64];
    seed.copy_from_slice(&transcript.finalize());
    batch.verify(TranscriptRng::new(seed)).is_ok()
}

/// A deterministic byte stream, `BLAKE2b-512(seed ‖ counter)` block after block, for the
/// batch weights of [`batch_verify`] (it never serves for anything secret).
struct TranscriptRng {
    seed: [u8; 64],
    counter: u64,
    block: [u8; 64],
    used: usize,
}

impl TranscriptRng {
    fn new(seed: [u8; 64]) -> Self {
        TranscriptRng {
            seed,
            counter: 0,
            block: [0; 64],
            used: 64,
        }
    }
}

impl rand08::RngCore for TranscriptRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        use blake2::Digest;
        for byte in dest {
            if self.used == self.block.len() {
                let mut h = blake2::Blake2b512::new();
                h.update(self.seed);
                h.update(self.counter.to_le_bytes());
                self.block.copy_from_slice(&h.finalize());
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand08::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Not for secrets; the weights only need to be unpredictable to whoever made the
/// signatures, which the transcript seed ensures.
impl rand08::CryptoRng for TranscriptRng {}

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

    /// `n` signed messages by `n` keys (seeded by index).
    fn signed(n: usize) -> Vec<([u8; 32], Vec<u8>, [u8; 64])> {
        (0..n)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(i as u64 % 7).to_le_bytes());
                let sk = ed25519_zebra::SigningKey::from(seed);
                let pk: [u8; 32] = ed25519_zebra::VerificationKey::from(&sk).into();
                let msg = signing_message(JAM_AVAILABLE, &[i as u8; 40]);
                let sig = sk.sign(&msg).to_bytes();
                (pk, msg, sig)
            })
            .collect()
    }

    fn items(set: &[([u8; 32], Vec<u8>, [u8; 64])]) -> Vec<Ed25519Item<'_>> {
        set.iter()
            .map(|(public, message, signature)| Ed25519Item {
                public,
                message,
                signature,
            })
            .collect()
    }

    #[test]
    fn batches_accept_valid_sets() {
        for n in [0, 1, 2, 5, 64, 65, 150] {
            let set = signed(n);
            let items = items(&set);
            assert_eq!(ed25519_first_invalid(&items), None, "n = {n}");
            assert!(ed25519_verify_all(&items));
            if n > 0 {
                assert!(batch_verify(&items));
            }
        }
    }

    #[test]
    fn batches_report_the_first_bad_signature() {
        for n in [2, 5, 9, 130] {
            for bad in [0, n / 2, n - 1] {
                // A flipped bit of R, of s, or of the message; a key of another signer.
                for how in 0..4 {
                    let mut set = signed(n);
                    match how {
                        0 => set[bad].2[3] ^= 1,
                        1 => set[bad].2[40] ^= 1,
                        2 => set[bad].1[20] ^= 1,
                        _ => set[bad].0 = signed(n + 1)[(bad + 1) % 7].0,
                    }
                    if how == 3 && set[bad].0 == signed(n)[bad].0 {
                        continue;
                    }
                    let items = items(&set);
                    assert!(!batch_verify(&items), "n = {n}, bad = {bad}, how = {how}");
                    assert_eq!(ed25519_first_invalid(&items), Some(bad));
                    assert!(!ed25519_verify_all(&items));
                }
                // Two bad ones: the first is reported.
                let mut set = signed(n);
                set[bad].2[5] ^= 1;
                set[n - 1].2[6] ^= 1;
                assert_eq!(ed25519_first_invalid(&items(&set)), Some(bad));
            }
        }
    }

    #[test]
    fn batches_reject_non_canonical_scalar() {
        let mut set = signed(3);
        // s + q: the same point equation, but not a canonical scalar (ZIP-215 rejects it).
        let q: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (byte, q) in set[1].2[32..].iter_mut().zip(q) {
            let v = *byte as u16 + q as u16 + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        assert_eq!(ed25519_first_invalid(&items(&set)), Some(1));
    }

    #[test]
    fn transcript_rng_is_deterministic() {
        use rand08::RngCore;
        let mut a = TranscriptRng::new([7; 64]);
        let mut b = TranscriptRng::new([7; 64]);
        let mut c = TranscriptRng::new([8; 64]);
        let (mut x, mut y, mut z) = ([0u8; 100], [0u8; 100], [0u8; 100]);
        a.fill_bytes(&mut x);
        b.fill_bytes(&mut y[..30]);
        b.fill_bytes(&mut y[30..]);
        c.fill_bytes(&mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_ne!(x[..64], x[36..]);
    }
}
