//! Bandersnatch VRF signing (GP section 3.8, Appendix G; used by 6.7 tickets and 6.8 seals): IETF VRF signatures and ring VRF proofs.
//!
//! The prover counterpart of [`crate::bandersnatch`]: the byte layouts are exactly those its
//! verifiers read (IETF signature: output point ‖ proof, 96 bytes; ring proof: output point ‖
//! Pedersen proof ‖ ring proof, 784 bytes), and the VRF input is `hash_to_curve(context)` with
//! the message as additional data.

use crate::bandersnatch::{
    output_point_hash, BandersnatchPublic, RingContext, IETF_SIGNATURE_LEN, PUBLIC_LEN,
    RING_PROOF_LEN,
};
use ark_vrf::reexports::ark_serialize::CanonicalSerialize;
use ark_vrf::suites::bandersnatch as bs;

/// A Bandersnatch secret key (suite `Bandersnatch_SHA-512_ELL2`).
#[derive(Clone)]
pub struct BandersnatchSecret {
    inner: bs::Secret,
}

impl std::fmt::Debug for BandersnatchSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the scalar.
        f.debug_struct("BandersnatchSecret")
            .field("public", &jam_state::codec::to_hex(&self.public()))
            .finish()
    }
}

impl BandersnatchSecret {
    /// The secret whose scalar is derived from `seed` as in appendix A.1 of the Bandersnatch
    /// VRF specification (SHA-512 of the seed, reduced modulo the group order) — the
    /// derivation JIP-5 names for its `bandersnatch_secret_seed`.
    pub fn from_seed(seed: &[u8]) -> Self {
        BandersnatchSecret {
            inner: bs::Secret::from_seed(seed),
        }
    }

    /// The public key (32-byte compressed point).
    pub fn public(&self) -> BandersnatchPublic {
        let mut out = [0u8; PUBLIC_LEN];
        self.inner
            .public()
            .serialize_compressed(&mut out[..])
            .expect("a public key is 32 bytes");
        out
    }

    /// `Y` of this key's VRF output for the context `vrf_input_data`, without making a proof
    /// (e.g. to recognise one's own ticket). `None` only if the context does not map to a point.
    pub fn vrf_output(&self, vrf_input_data: &[u8]) -> Option<[u8; 32]> {
        let input = bs::Input::new(vrf_input_data)?;
        Some(output_point_hash(&self.inner.output(input)))
    }

    /// The IETF VRF signature `F̃_k⟨vrf_input⟩⟨aux⟩` (96 bytes: output ‖ proof), as checked by
    /// [`crate::bandersnatch::verify_ietf`]. Deterministic (RFC 9381 nonce).
    pub fn ietf_sign(&self, vrf_input_data: &[u8], aux: &[u8]) -> Option<[u8; IETF_SIGNATURE_LEN]> {
        use ark_vrf::ietf::Prover;
        let input = bs::Input::new(vrf_input_data)?;
        let output = self.inner.output(input);
        let proof = self.inner.prove(input, output, aux);
        let mut sig = [0u8; IETF_SIGNATURE_LEN];
        output
            .serialize_compressed(&mut sig[..PUBLIC_LEN])
            .expect("an output point is 32 bytes");
        proof
            .serialize_compressed(&mut sig[PUBLIC_LEN..])
            .expect("an IETF proof is 64 bytes");
        Some(sig)
    }
}

/// A ring VRF prover for one member of one ring (the prover key is built once, then any number
/// of proofs are made with it).
pub struct RingProver {
    inner: bs::RingProver,
}

impl std::fmt::Debug for RingProver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingProver").finish_non_exhaustive()
    }
}

impl RingProver {
    /// The prover for member `index` of the ring `keys` (invalid keys stand for the padding
    /// point, exactly as in [`RingContext::ring_commitment`]). `None` if `index` is out of range
    /// or more keys are given than the context's ring size.
    pub fn new(ctx: &RingContext, keys: &[BandersnatchPublic], index: usize) -> Option<Self> {
        if index >= keys.len() || keys.len() > ctx.ring_size() {
            return None;
        }
        let params = ctx.proof_params();
        let points = RingContext::ring_points(keys);
        let prover_key = params.prover_key(&points);
        Some(RingProver {
            inner: params.prover(prover_key, index),
        })
    }

    /// The ring VRF proof `V̄⟨vrf_input⟩⟨aux⟩` by `secret` (784 bytes: output ‖ proof), as
    /// checked by [`RingContext::verify_ring_proof`]. The proof only verifies if `secret` is
    /// the ring member this prover was built for.
    pub fn prove(
        &self,
        secret: &BandersnatchSecret,
        vrf_input_data: &[u8],
        aux: &[u8],
    ) -> Option<[u8; RING_PROOF_LEN]> {
        use ark_vrf::ring::Prover;
        let input = bs::Input::new(vrf_input_data)?;
        let output = secret.inner.output(input);
        let proof = secret.inner.prove(input, output, aux, &self.inner);
        let mut out = [0u8; RING_PROOF_LEN];
        output
            .serialize_compressed(&mut out[..PUBLIC_LEN])
            .expect("an output point is 32 bytes");
        proof
            .serialize_compressed(&mut out[PUBLIC_LEN..])
            .expect("a ring proof is 752 bytes");
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bandersnatch::{verify_ietf, vrf_output};

    #[test]
    fn ietf_round_trip() {
        let sk = BandersnatchSecret::from_seed(b"seed");
        let pk = sk.public();
        let sig = sk.ietf_sign(b"ctx", b"aux").unwrap();
        let y = verify_ietf(&pk, b"ctx", b"aux", &sig).expect("valid");
        assert_eq!(Some(y), sk.vrf_output(b"ctx"));
        assert_eq!(Some(y), vrf_output(&sig));
        assert!(verify_ietf(&pk, b"ctx", b"other", &sig).is_none());
        // The output does not depend on the additional data.
        let sig2 = sk.ietf_sign(b"ctx", b"").unwrap();
        assert_eq!(sig[..32], sig2[..32]);
    }

    #[test]
    fn ring_round_trip() {
        let ctx = RingContext::new(6).unwrap();
        let secrets: Vec<_> = (0u8..6)
            .map(|i| BandersnatchSecret::from_seed(&[i]))
            .collect();
        let mut keys: Vec<_> = secrets.iter().map(|s| s.public()).collect();
        keys[4] = [0u8; 32]; // a null key takes the padding point's place
        let root = ctx.ring_commitment(&keys);
        let prover = RingProver::new(&ctx, &keys, 2).unwrap();
        let proof = prover.prove(&secrets[2], b"ticket", b"").unwrap();
        let y = ctx
            .verify_ring_proof(&root, b"ticket", b"", &proof)
            .expect("valid");
        assert_eq!(Some(y), secrets[2].vrf_output(b"ticket"));
        // Another member's secret with this prover does not verify.
        let bad = prover.prove(&secrets[3], b"ticket", b"").unwrap();
        assert!(ctx.verify_ring_proof(&root, b"ticket", b"", &bad).is_none());
        assert!(RingProver::new(&ctx, &keys, 6).is_none());
    }
}
