//! Bandersnatch VRFs (GP section 3.8 and Appendix G): IETF VRF, ring VRF, ring root `O(·)` and output hash `Y(·)`.
//!
//! Built on `ark-vrf` 0.1.0 (suite `Bandersnatch_SHA-512_ELL2`), the version the public test
//! vectors were made with. Wire formats (all arkworks compressed encodings):
//!
//! * public key: 32 bytes;
//! * IETF VRF signature `V_k⟨c⟩⟨m⟩`: output point (32) ‖ proof `c` (32) ‖ `s` (32) = 96 bytes;
//! * ring VRF proof `V̄_r⟨c⟩⟨m⟩`: output point (32) ‖ Pedersen proof (160) ‖ ring proof (592) = 784 bytes;
//! * ring root `O(keys)`: the KZG commitment to the ring's fixed columns, 3 × 48 = 144 bytes.
//!
//! The VRF input point is `hash_to_curve(context)` (Elligator 2), the additional data is the
//! message; `Y(signature)` is the first 32 bytes of the suite's output-point hash.
//!
//! IETF signatures are verified by the `ietf` submodule (same equations and transcript as `ark-vrf`, with
//! double-scalar multiplications and precomputed multiples), and points are subgroup-checked
//! with two Legendre symbols instead of a multiplication by the group order.
//!
//! The ring SNARK needs the Zcash powers-of-tau SRS (BLS12-381, 2^11 powers, uncompressed
//! arkworks serialization), embedded here as [`ZCASH_SRS`]. Parsing it and preparing the
//! PIOP parameters is done once per ring size in a [`RingContext`]; a [`RingCache`] owned by
//! the caller hands out shared contexts keyed by ring size.

use ark_vrf::reexports::ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_vrf::suites::bandersnatch as bs;
use std::sync::{Arc, Mutex, OnceLock};

mod ietf;

/// Length of a Bandersnatch public key.
pub const PUBLIC_LEN: usize = 32;
/// Length of an IETF VRF signature (`V_k⟨c⟩⟨m⟩`).
pub const IETF_SIGNATURE_LEN: usize = 96;
/// Length of a ring VRF proof (`V̄_r⟨c⟩⟨m⟩`).
pub const RING_PROOF_LEN: usize = 784;
/// Length of a ring root / ring commitment (`O(·)`).
pub const RING_COMMITMENT_LEN: usize = 144;

/// A Bandersnatch public key as it appears in state.
pub type BandersnatchPublic = [u8; PUBLIC_LEN];
/// A ring root / ring commitment as it appears in state (`γ_z`).
pub type RingCommitment = [u8; RING_COMMITMENT_LEN];

/// The Zcash powers-of-tau SRS (BLS12-381, 2^11), arkworks uncompressed serialization.
///
/// Byte-identical to `zcash-srs-2-11-uncompressed.bin` of the public test vectors and to the
/// SRS file shipped in the `ark-vrf` 0.1.0 sources.
pub static ZCASH_SRS: &[u8] = include_bytes!("../data/zcash-srs-2-11-uncompressed.bin");

/// Errors building a [`RingContext`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BandersnatchError {
    /// The SRS bytes do not deserialize to KZG parameters.
    #[error("invalid SRS: {0}")]
    InvalidSrs(String),
    /// The SRS is too small for the requested ring size.
    #[error("SRS too small for a ring of {0} keys")]
    RingTooLarge(usize),
    /// A ring of zero keys was requested.
    #[error("ring size must be positive")]
    EmptyRing,
}

/// `Y(s)`: the VRF output hash of a signature or ring proof (the 32-byte ticket id / entropy).
///
/// Both signature kinds begin with the encoded output point; this decodes it (rejecting
/// encodings that are not points of the prime-order subgroup) and hashes it. It does **not**
/// verify the signature.
pub fn vrf_output(signature: &[u8]) -> Option<[u8; 32]> {
    VrfOutput::decode(signature).map(|o| o.hash)
}

fn output_hash(output: &bs::Output) -> [u8; 32] {
    let hash = output.hash();
    let mut id = [0u8; 32];
    id.copy_from_slice(&hash[..32]);
    id
}

fn vrf_input(data: &[u8]) -> Option<bs::Input> {
    bs::Input::new(data)
}

/// Decodes a public key, requiring a point of the prime-order subgroup.
fn decode_public(key: &BandersnatchPublic) -> Option<bs::Public> {
    ietf::decode_point(&key[..]).map(bs::Public::from)
}

/// Decodes an output point (the first 32 bytes of a signature), requiring a point of the
/// prime-order subgroup.
fn decode_output(signature: &[u8]) -> Option<bs::Output> {
    ietf::decode_point(signature.get(..PUBLIC_LEN)?).map(bs::Output::from)
}

/// Whether `key` encodes a point of the prime-order subgroup (a usable public key; other keys
/// take the padding point's place in a ring).
pub fn is_valid_public(key: &BandersnatchPublic) -> bool {
    decode_public(key).is_some()
}

/// Verifies an IETF VRF signature `V_public⟨vrf_input⟩⟨aux⟩` (block seal, entropy source).
///
/// Returns `Y(signature)` when the signature is valid, `None` otherwise (including a public key
/// or output that is not a valid point).
pub fn verify_ietf(
    public: &BandersnatchPublic,
    vrf_input_data: &[u8],
    aux: &[u8],
    signature: &[u8; IETF_SIGNATURE_LEN],
) -> Option<[u8; 32]> {
    let public = DecodedPublic::new(decode_public(public)?);
    let output = VrfOutput::decode(signature)?;
    verify_ietf_decoded(&public, vrf_input_data, aux, &output, signature)
}

/// [`verify_ietf`] with the public key and the signature's output point already decoded:
/// `output` must be `VrfOutput::decode(signature)`.
pub fn verify_ietf_decoded(
    public: &DecodedPublic,
    vrf_input_data: &[u8],
    aux: &[u8],
    output: &VrfOutput,
    signature: &[u8; IETF_SIGNATURE_LEN],
) -> Option<[u8; 32]> {
    let proof = bs::IetfProof::deserialize_compressed(&signature[PUBLIC_LEN..]).ok()?;
    let input = vrf_input(vrf_input_data)?;
    let key = &public.0;
    ietf::verify(
        &key.point.0,
        &key.multiples,
        &input.0,
        &output.point.0,
        aux,
        &proof.c,
        &proof.s,
    )
    .then_some(output.hash)
}

/// The output point of a VRF signature or ring proof (its first 32 bytes), decoded and
/// subgroup-checked once, with its hash `Y(·)`.
#[derive(Clone, Copy, Debug)]
pub struct VrfOutput {
    point: bs::Output,
    hash: [u8; 32],
}

impl VrfOutput {
    /// Decodes the output point at the start of `signature` (`None` when it is not a point
    /// of the prime-order subgroup). Does **not** verify the signature.
    pub fn decode(signature: &[u8]) -> Option<VrfOutput> {
        let point = decode_output(signature)?;
        Some(VrfOutput {
            point,
            hash: output_hash(&point),
        })
    }

    /// `Y(signature)`.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
}

/// A public key decoded to a point of the prime-order subgroup, with the odd multiples
/// its IETF verifications use (cheap to clone).
#[derive(Clone, Debug)]
pub struct DecodedPublic(Arc<DecodedKey>);

#[derive(Debug)]
struct DecodedKey {
    point: bs::Public,
    multiples: Vec<bs::AffinePoint>,
}

impl DecodedPublic {
    fn new(point: bs::Public) -> Self {
        let multiples = ietf::odd_multiples_affine(&point.0, ietf::KEY_WINDOW);
        DecodedPublic(Arc::new(DecodedKey { point, multiples }))
    }
}

/// Decoded public keys by their encoding, at most `capacity` of them (the whole cache is
/// dropped when full). Validator keys repeat block after block; decoding one (with its
/// subgroup check) costs about as much as a sixth of an IETF verification.
pub struct KeyCache {
    capacity: usize,
    entries: Mutex<KeyMap>,
}

type KeyMap = std::collections::HashMap<BandersnatchPublic, Option<DecodedPublic>>;

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl KeyCache {
    /// Default capacity: a few validator sets of the full configuration.
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// An empty cache of at most `capacity` keys (0: nothing is cached).
    pub fn new(capacity: usize) -> Self {
        KeyCache {
            capacity,
            entries: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// `key` decoded, `None` when it is not a point of the prime-order subgroup.
    pub fn decode(&self, key: &BandersnatchPublic) -> Option<DecodedPublic> {
        if let Some(hit) = self.lock().get(key) {
            return hit.clone();
        }
        let decoded = decode_public(key).map(DecodedPublic::new);
        if self.capacity > 0 {
            let mut entries = self.lock();
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(*key, decoded.clone());
        }
        decoded
    }

    /// How many keys are cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KeyMap> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Ring parameters (SRS + PIOP) for one ring size, built once and shared.
pub struct RingContext {
    ring_size: usize,
    params: bs::RingProofParams,
    /// The empty incremental verifier-key builder and the SRS in Lagrangian form, built on
    /// first use: a commitment then costs an MSM over the ring's keys only, instead of a
    /// commitment over the whole PIOP domain (profiled: ~75 ms per tiny epoch change).
    builder: OnceLock<(bs::RingVerifierKeyBuilder, RingBuilderPcsParams)>,
}

type RingBuilderPcsParams = ark_vrf::ring::RingBuilderPcsParams<bs::BandersnatchSha512Ell2>;

impl std::fmt::Debug for RingContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingContext")
            .field("ring_size", &self.ring_size)
            .finish()
    }
}

impl RingContext {
    /// Builds the context for rings of `ring_size` keys from the embedded [`ZCASH_SRS`].
    pub fn new(ring_size: usize) -> Result<Self, BandersnatchError> {
        Self::from_srs(ZCASH_SRS, ring_size)
    }

    /// Builds the context from SRS bytes (arkworks uncompressed KZG parameters).
    pub fn from_srs(srs: &[u8], ring_size: usize) -> Result<Self, BandersnatchError> {
        if ring_size == 0 {
            return Err(BandersnatchError::EmptyRing);
        }
        // The SRS is a public, well-known constant: skip the (slow) subgroup checks of its
        // 6k points; the bytes are pinned by `ZCASH_SRS` or supplied by the caller.
        let pcs = bs::PcsParams::deserialize_uncompressed_unchecked(srs)
            .map_err(|e| BandersnatchError::InvalidSrs(e.to_string()))?;
        let params = bs::RingProofParams::from_pcs_params(ring_size, pcs)
            .map_err(|_| BandersnatchError::RingTooLarge(ring_size))?;
        Ok(RingContext {
            ring_size,
            params,
            builder: OnceLock::new(),
        })
    }

    /// The number of keys a ring of this context holds.
    pub fn ring_size(&self) -> usize {
        self.ring_size
    }

    /// The ring member point for a key: the key's point, or the padding point when the key does
    /// not decode to a point of the prime-order subgroup (e.g. the null key of an offender).
    fn ring_point(key: &BandersnatchPublic) -> bs::AffinePoint {
        match decode_public(key) {
            Some(public) => public.0,
            None => bs::RingProofParams::padding_point(),
        }
    }

    /// `O(keys)`: the ring root of a sequence of Bandersnatch keys.
    ///
    /// Keys that are not valid points are replaced by the padding point. At most `ring_size`
    /// keys are used (extra tail keys are ignored, as in `ark-vrf`).
    pub fn ring_commitment(&self, keys: &[BandersnatchPublic]) -> RingCommitment {
        let points: Vec<bs::AffinePoint> = keys.iter().map(Self::ring_point).collect();
        let (empty, lagrangian) = self.commitment_builder();
        let mut builder = empty.clone();
        let commitment = match builder.append(&points, lagrangian) {
            Ok(()) => builder.finalize().commitment(),
            // More keys than the ring holds: the direct construction handles (and pads) it.
            Err(_) => self.params.verifier_key(&points).commitment(),
        };
        let mut out = [0u8; RING_COMMITMENT_LEN];
        commitment
            .serialize_compressed(&mut out[..])
            .expect("a ring commitment is 144 bytes");
        out
    }

    /// Builds the commitment key (the SRS in Lagrangian form) now rather than at the first
    /// epoch change: a long-running node or fuzz target calls this at start-up so no
    /// block import pays for it.
    /// It also builds the process-wide IETF verification tables (generator multiples).
    pub fn prepare(&self) {
        ietf::prepare();
        self.commitment_builder();
    }

    fn commitment_builder(&self) -> &(bs::RingVerifierKeyBuilder, RingBuilderPcsParams) {
        self.builder
            .get_or_init(|| self.params.verifier_key_builder())
    }

    /// A verifier for the ring with root `commitment`, to check many proofs against it.
    /// `None` when the bytes are not a valid commitment.
    pub fn verifier(&self, commitment: &RingCommitment) -> Option<RingVerifier> {
        let commitment = bs::RingCommitment::deserialize_compressed(&commitment[..]).ok()?;
        let key = self.params.verifier_key_from_commitment(commitment);
        Some(RingVerifier {
            inner: self.params.verifier(key),
        })
    }

    /// Verifies a ring VRF proof `V̄_commitment⟨vrf_input⟩⟨aux⟩`; returns `Y(proof)` when valid.
    pub fn verify_ring_proof(
        &self,
        commitment: &RingCommitment,
        vrf_input_data: &[u8],
        aux: &[u8],
        proof: &[u8; RING_PROOF_LEN],
    ) -> Option<[u8; 32]> {
        self.verifier(commitment)?
            .verify(vrf_input_data, aux, proof)
    }
}

/// A ring verifier bound to one ring root; cheap to share across threads.
pub struct RingVerifier {
    inner: bs::RingVerifier,
}

impl RingVerifier {
    /// Verifies a ring VRF proof `V̄⟨vrf_input⟩⟨aux⟩` against this ring; returns `Y(proof)`.
    pub fn verify(
        &self,
        vrf_input_data: &[u8],
        aux: &[u8],
        proof: &[u8; RING_PROOF_LEN],
    ) -> Option<[u8; 32]> {
        use ark_vrf::ring::Verifier;
        let output = decode_output(&proof[..])?;
        let ring_proof = bs::RingProof::deserialize_compressed(&proof[PUBLIC_LEN..]).ok()?;
        let input = vrf_input(vrf_input_data)?;
        bs::Public::verify(input, output, aux, &ring_proof, &self.inner).ok()?;
        Some(output_hash(&output))
    }
}

/// Ring contexts keyed by ring size, built on first use and shared afterwards.
///
/// Owned by the caller (a node, a test runner); building a context parses the SRS once.
#[derive(Default)]
pub struct RingCache {
    contexts: Mutex<Vec<Arc<RingContext>>>,
}

impl RingCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The context for rings of `ring_size` keys (from the embedded SRS).
    pub fn get(&self, ring_size: usize) -> Result<Arc<RingContext>, BandersnatchError> {
        // Build under the lock so concurrent callers don't parse the SRS twice.
        let mut contexts = self.contexts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ctx) = contexts.iter().find(|c| c.ring_size == ring_size) {
            return Ok(ctx.clone());
        }
        let ctx = Arc::new(RingContext::new(ring_size)?);
        contexts.push(ctx.clone());
        Ok(ctx)
    }
}

// Crate-internal access for the prover side (`crate::bandersnatch_prover`); the public API
// above is unchanged.
impl RingContext {
    /// The `ark-vrf` ring parameters of this context.
    pub(crate) fn proof_params(&self) -> &bs::RingProofParams {
        &self.params
    }

    /// The ring member points for `keys` (invalid keys become the padding point), as used by
    /// [`RingContext::ring_commitment`].
    pub(crate) fn ring_points(keys: &[BandersnatchPublic]) -> Vec<bs::AffinePoint> {
        keys.iter().map(Self::ring_point).collect()
    }
}

/// `Y(o)` of a VRF output point (crate-internal, for the prover side).
pub(crate) fn output_point_hash(output: &bs::Output) -> [u8; 32] {
    output_hash(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_vrf::reexports::ark_serialize::CanonicalSerialize;

    fn secret(i: u32) -> bs::Secret {
        bs::Secret::from_seed(&i.to_le_bytes())
    }

    fn encode_public(s: &bs::Secret) -> BandersnatchPublic {
        let mut out = [0u8; 32];
        s.public().serialize_compressed(&mut out[..]).unwrap();
        out
    }

    #[test]
    fn ietf_sign_verify() {
        use ark_vrf::ietf::Prover;
        let sk = secret(7);
        let input = bs::Input::new(b"ctx").unwrap();
        let output = sk.output(input);
        let proof = sk.prove(input, output, b"msg");
        let mut sig = [0u8; IETF_SIGNATURE_LEN];
        output.serialize_compressed(&mut sig[..32]).unwrap();
        proof.serialize_compressed(&mut sig[32..]).unwrap();
        let pk = encode_public(&sk);
        assert!(is_valid_public(&pk));
        assert!(!is_valid_public(&[0u8; 32]));
        let y = verify_ietf(&pk, b"ctx", b"msg", &sig).expect("valid");
        assert_eq!(Some(y), vrf_output(&sig));
        assert!(verify_ietf(&pk, b"ctx", b"other", &sig).is_none());
        assert!(verify_ietf(&pk, b"other", b"msg", &sig).is_none());
        assert!(verify_ietf(&encode_public(&secret(8)), b"ctx", b"msg", &sig).is_none());

        let keys = KeyCache::new(1);
        let out = VrfOutput::decode(&sig).expect("valid output");
        let public = keys.decode(&pk).expect("valid key");
        assert_eq!(
            verify_ietf_decoded(&public, b"ctx", b"msg", &out, &sig),
            Some(y)
        );
        assert!(verify_ietf_decoded(&public, b"ctx", b"other", &out, &sig).is_none());
        assert!(keys.decode(&[0u8; 32]).is_none());
        assert_eq!(keys.len(), 1);
        assert!(keys.decode(&pk).is_some());
    }

    #[test]
    fn ring_sign_verify_and_padding() {
        use ark_vrf::ring::Prover;
        let ctx = RingContext::new(6).unwrap();
        let secrets: Vec<_> = (0..6).map(secret).collect();
        let mut keys: Vec<BandersnatchPublic> = secrets.iter().map(encode_public).collect();
        keys[1] = [0u8; 32]; // null key → padding
        let commitment = ctx.ring_commitment(&keys);

        let points: Vec<_> = keys.iter().map(RingContext::ring_point).collect();
        assert_eq!(points[1], bs::RingProofParams::padding_point());
        let prover = ctx.params.prover(ctx.params.prover_key(&points), 3);
        let input = bs::Input::new(b"ticket").unwrap();
        let output = secrets[3].output(input);
        let proof = secrets[3].prove(input, output, b"", &prover);
        let mut bytes = [0u8; RING_PROOF_LEN];
        output.serialize_compressed(&mut bytes[..32]).unwrap();
        proof.serialize_compressed(&mut bytes[32..]).unwrap();

        let y = ctx
            .verify_ring_proof(&commitment, b"ticket", b"", &bytes)
            .expect("valid");
        assert_eq!(Some(y), vrf_output(&bytes));
        assert!(ctx
            .verify_ring_proof(&commitment, b"other", b"", &bytes)
            .is_none());
        let other = ctx.ring_commitment(&secrets.iter().map(encode_public).collect::<Vec<_>>());
        assert_ne!(other, commitment);
        assert!(ctx
            .verify_ring_proof(&other, b"ticket", b"", &bytes)
            .is_none());
    }

    #[test]
    fn cache_shares_contexts() {
        let cache = RingCache::new();
        let a = cache.get(6).unwrap();
        let b = cache.get(6).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.ring_size(), 6);
        assert!(matches!(
            RingContext::new(0),
            Err(BandersnatchError::EmptyRing)
        ));
        assert!(matches!(
            RingContext::new(5000),
            Err(BandersnatchError::RingTooLarge(5000))
        ));
    }
}
