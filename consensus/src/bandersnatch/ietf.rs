//! Fast IETF VRF verification for the Bandersnatch suite (GP Appendix G.1; RFC 9381 §5.3 as extended by `ark-vrf` 0.1.0).
//!
//! The proof `(c, s)` of output `Γ` for input `H` under key `Y` is valid iff
//! `c = challenge(Y, H, Γ, U, V, aux)` with `U = s·G − c·Y` and `V = s·H − c·Γ`, exactly as
//! `ark_vrf::ietf::Verifier::verify`; the challenge is `ark-vrf`'s own
//! (`Suite::challenge`, RFC 9381 §5.4.3 plus the additional data), so the transcript cannot
//! drift. Only the arithmetic differs:
//!
//! * `U` and `V` are each one double-scalar multiplication (Straus–Shamir with width-w NAF
//!   digits, the doublings shared) instead of two independent double-and-add runs;
//! * the generator's odd multiples are built once per process, a public key's once per
//!   decoding (they live in the [`super::KeyCache`]);
//! * `U` and `V` are normalised with one shared inversion.
//!
//! The affine `U` and `V` (and so the challenge) are the same whatever way they are computed,
//! so the verdict is that of `ark-vrf`.
//!
//! It also holds a cheaper, equivalent prime-order subgroup check ([`in_prime_subgroup`]).

use super::bs;
use ark_vrf::reexports::ark_ec::{AdditiveGroup, AffineRepr, CurveGroup};
use ark_vrf::reexports::ark_ff::{BigInteger, Field, LegendreSymbol, One, PrimeField, Zero};
use ark_vrf::Suite as _;
use std::sync::OnceLock;

/// Extended projective Bandersnatch points.
pub(super) type Projective = <bs::AffinePoint as AffineRepr>::Group;
type Scalar = bs::ScalarField;
type Base = bs::BaseField;

/// wNAF width for the generator (64 precomputed odd multiples, built once).
const GENERATOR_WINDOW: usize = 8;
/// wNAF width for a cached public key (16 odd multiples per key).
pub(super) const KEY_WINDOW: usize = 6;
/// wNAF width for the per-proof points `H` and `Γ` (8 odd multiples each).
const POINT_WINDOW: usize = 5;

/// `P, 3P, 5P, …, (2^(w−1) − 1)P`: the multiples a width-`w` NAF digit selects.
fn odd_multiples(p: Projective, window: usize) -> Vec<Projective> {
    let n = 1usize << (window - 2);
    let two_p = p.double();
    let mut out = Vec::with_capacity(n);
    let mut acc = p;
    out.push(acc);
    for _ in 1..n {
        acc += &two_p;
        out.push(acc);
    }
    out
}

/// [`odd_multiples`] in affine form (for tables that are reused).
pub(super) fn odd_multiples_affine(p: &bs::AffinePoint, window: usize) -> Vec<bs::AffinePoint> {
    Projective::normalize_batch(&odd_multiples(p.into_group(), window))
}

/// The generator's odd multiples, built on first use.
fn generator_table() -> &'static [bs::AffinePoint] {
    static TABLE: OnceLock<Vec<bs::AffinePoint>> = OnceLock::new();
    TABLE.get_or_init(|| {
        odd_multiples_affine(&bs::BandersnatchSha512Ell2::generator(), GENERATOR_WINDOW)
    })
}

/// Builds the process-wide tables now, so that no verification pays for them.
pub(super) fn prepare() {
    generator_table();
    subgroup_constants();
}

/// A table of odd multiples (see [`odd_multiples`]) that NAF digits are added from.
#[derive(Clone, Copy)]
enum Multiples<'a> {
    Affine(&'a [bs::AffinePoint]),
    Projective(&'a [Projective]),
}

impl Multiples<'_> {
    /// `acc += digit·P` for an odd `digit` within the table's range.
    fn add_digit(self, acc: &mut Projective, digit: i64) {
        let i = (digit.unsigned_abs() as usize - 1) / 2;
        match (self, digit > 0) {
            (Multiples::Affine(t), true) => *acc += &t[i],
            (Multiples::Affine(t), false) => *acc -= &t[i],
            (Multiples::Projective(t), true) => *acc += &t[i],
            (Multiples::Projective(t), false) => *acc -= &t[i],
        }
    }
}

/// Width-`w` NAF digits of `k`, least significant first (empty for zero).
fn wnaf(k: &Scalar, window: usize) -> Vec<i64> {
    k.into_bigint()
        .find_wnaf(window)
        .expect("window widths are between 2 and 63")
}

/// `a·A − b·B` from the NAF digits of `a` and `b` and the odd multiples of `A` and `B`
/// (Straus–Shamir: one shared run of doublings).
fn double_mul_sub(a: &[i64], ta: Multiples<'_>, b: &[i64], tb: Multiples<'_>) -> Projective {
    let mut acc = Projective::zero();
    let mut started = false;
    for i in (0..a.len().max(b.len())).rev() {
        if started {
            acc.double_in_place();
        }
        if let Some(&d) = a.get(i).filter(|d| **d != 0) {
            ta.add_digit(&mut acc, d);
            started = true;
        }
        if let Some(&d) = b.get(i).filter(|d| **d != 0) {
            tb.add_digit(&mut acc, -d);
            started = true;
        }
    }
    acc
}

/// Verifies the IETF proof `(c, s)` of `output` for `input` and `aux` under `public`, whose odd
/// multiples (width [`KEY_WINDOW`]) are `public_multiples`. Same verdict as
/// `ark_vrf::ietf::Verifier::verify`.
pub(super) fn verify(
    public: &bs::AffinePoint,
    public_multiples: &[bs::AffinePoint],
    input: &bs::AffinePoint,
    output: &bs::AffinePoint,
    aux: &[u8],
    c: &Scalar,
    s: &Scalar,
) -> bool {
    debug_assert_eq!(public_multiples.len(), 1 << (KEY_WINDOW - 2));
    // U = s·G − c·Y.
    let u = double_mul_sub(
        &wnaf(s, GENERATOR_WINDOW),
        Multiples::Affine(generator_table()),
        &wnaf(c, KEY_WINDOW),
        Multiples::Affine(public_multiples),
    );
    // V = s·H − c·Γ.
    let h_multiples = odd_multiples(input.into_group(), POINT_WINDOW);
    let o_multiples = odd_multiples(output.into_group(), POINT_WINDOW);
    let v = double_mul_sub(
        &wnaf(s, POINT_WINDOW),
        Multiples::Projective(&h_multiples),
        &wnaf(c, POINT_WINDOW),
        Multiples::Projective(&o_multiples),
    );
    let uv = Projective::normalize_batch(&[u, v]);
    let expected =
        bs::BandersnatchSha512Ell2::challenge(&[public, input, output, &uv[0], &uv[1]], aux);
    expected == *c
}

/// Constants of the Weierstrass model `W² = X·(X − B·e₂)·(X − B·e₃)` of Bandersnatch, reached
/// from the twisted Edwards model `a·x² + y² = 1 + d·x²·y²` through the Montgomery model
/// `B·v² = u³ + A·u² + u` (`A = 2(a+d)/(a−d)`, `B = 4/(a−d)`, `u = (1+y)/(1−y)`,
/// `v = u/x`; Bernstein et al., "Twisted Edwards curves", Thm 3.2) and `X = B·u`, `W = B²·v`;
/// `e₂`, `e₃` are the roots of `u² + A·u + 1`, which lie in the field because `a·d` is a square.
struct SubgroupConstants {
    /// `B`.
    b: Base,
    /// `e₂` (either root).
    e2: Base,
}

fn subgroup_constants() -> &'static SubgroupConstants {
    static CONSTANTS: OnceLock<SubgroupConstants> = OnceLock::new();
    CONSTANTS.get_or_init(|| {
        use ark_vrf::reexports::ark_ec::twisted_edwards::TECurveConfig;
        type Config = <bs::AffinePoint as AffineRepr>::Config;
        let (a, d) = (Config::COEFF_A, Config::COEFF_D);
        let a_minus_d_inv = (a - d).inverse().expect("a ≠ d");
        let coeff_a = (a + d).double() * a_minus_d_inv;
        let coeff_b = Base::from(4u64) * a_minus_d_inv;
        let root = (coeff_a.square() - Base::from(4u64))
            .sqrt()
            .expect("the full 2-torsion of Bandersnatch is rational");
        let e2 = (root - coeff_a) * Base::from(2u64).inverse().expect("2 ≠ 0");
        SubgroupConstants { b: coeff_b, e2 }
    })
}

/// Whether `p`, a point of the curve, lies in the prime-order subgroup 𝔾 — the same answer
/// as `p.is_in_correct_subgroup_assuming_on_curve()` (a multiplication by the group order),
/// for two Legendre symbols.
///
/// Bandersnatch has `#E(F) = 4·r` and a rational full 2-torsion (`a·d` is a square), so
/// `E(F) ≅ ℤ/r × ℤ/2 × ℤ/2` and `𝔾 = 2·E(F)`: `p ∈ 𝔾` iff `p` is halvable in `E(F)`. On
/// `W² = (X−e₁)(X−e₂)(X−e₃)` with rational roots a point other than `O` is halvable iff every
/// `X − eᵢ` is a square (Knapp, "Elliptic Curves", Thm 4.2). The 2-torsion points are not
/// halvable (there are no rational points of order 4), and the only one with affine Edwards
/// coordinates is `(0, −1)`; for the others the three factors are non-zero and multiply to
/// the square `W²`, so two of them being squares suffices. With the maps above (and the
/// non-zero square `(1−y)²` multiplied in) the two symbols are those of
/// `B·(1+y)·(1−y)` and `B·((1+y) − e₂·(1−y))·(1−y)`.
pub(super) fn in_prime_subgroup(p: &bs::AffinePoint) -> bool {
    if p.x.is_zero() {
        // (0, 1) is the identity, (0, −1) the affine 2-torsion point.
        return p.y.is_one();
    }
    let k = subgroup_constants();
    let one_plus_y = Base::one() + p.y;
    let one_minus_y = Base::one() - p.y;
    let first = k.b * one_plus_y * one_minus_y;
    if first.legendre() != LegendreSymbol::QuadraticResidue {
        return false;
    }
    let second = k.b * (one_plus_y - k.e2 * one_minus_y) * one_minus_y;
    second.legendre() == LegendreSymbol::QuadraticResidue
}

/// Decodes a compressed point and requires it to lie in the prime-order subgroup: the same
/// result as `AffinePoint::deserialize_compressed` (decompression, on-curve and subgroup
/// checks), with the subgroup check of [`in_prime_subgroup`].
pub(super) fn decode_point(bytes: &[u8]) -> Option<bs::AffinePoint> {
    use ark_vrf::reexports::ark_serialize::CanonicalDeserialize;
    let point = bs::AffinePoint::deserialize_compressed_unchecked(bytes).ok()?;
    (point.is_on_curve() && in_prime_subgroup(&point)).then_some(point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_vrf::reexports::ark_serialize::{CanonicalDeserialize, CanonicalSerialize};

    /// A deterministic stream of pseudo-random bytes (SplitMix64).
    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                (z ^ (z >> 31)) as u8
            })
            .collect()
    }

    fn scalar(seed: u64) -> Scalar {
        Scalar::from_le_bytes_mod_order(&bytes(seed, 64))
    }

    #[test]
    fn montgomery_map_is_consistent() {
        let k = subgroup_constants();
        // A from B and e₂: e₂ is a root of u² + A·u + 1, with A = 2(a+d)/(a−d) and
        // B = 4/(a−d), i.e. A = B·(a+d)/2.
        use ark_vrf::reexports::ark_ec::twisted_edwards::TECurveConfig;
        type Config = <bs::AffinePoint as AffineRepr>::Config;
        let coeff_a =
            k.b * (Config::COEFF_A + Config::COEFF_D) * Base::from(2u64).inverse().unwrap();
        assert!((k.e2.square() + coeff_a * k.e2 + Base::one()).is_zero());
        for i in 0..32 {
            let p = (bs::BandersnatchSha512Ell2::generator() * scalar(i)).into_affine();
            let u = (Base::one() + p.y) / (Base::one() - p.y);
            let v = u / p.x;
            assert_eq!(k.b * v.square(), u * u * u + coeff_a * u * u + u);
        }
    }

    #[test]
    fn subgroup_check_matches_arkworks() {
        let torsion = bs::AffinePoint::new_unchecked(Base::zero(), -Base::one());
        assert!(torsion.is_on_curve());
        assert!(!in_prime_subgroup(&torsion));
        assert!(in_prime_subgroup(&bs::AffinePoint::zero()));
        let mut counts = [0usize; 2];
        for i in 0..400u64 {
            // Random curve points: each coset of 𝔾 turns up about a quarter of the time.
            let y = Base::from_le_bytes_mod_order(&bytes(1000 + i, 32));
            for greatest in [false, true] {
                let Some(p) = bs::AffinePoint::get_point_from_y_unchecked(y, greatest) else {
                    continue;
                };
                let expected = p.is_in_correct_subgroup_assuming_on_curve();
                assert_eq!(in_prime_subgroup(&p), expected, "point {p}");
                counts[expected as usize] += 1;
                let shifted = (p.into_group() + torsion).into_affine();
                assert_eq!(
                    in_prime_subgroup(&shifted),
                    shifted.is_in_correct_subgroup_assuming_on_curve()
                );
                assert!(!(expected && in_prime_subgroup(&shifted)));
            }
        }
        assert!(counts[0] > 100 && counts[1] > 50, "{counts:?}");
        for i in 0..64 {
            let p = (bs::BandersnatchSha512Ell2::generator() * scalar(i)).into_affine();
            assert!(in_prime_subgroup(&p));
        }
    }

    #[test]
    fn decode_point_matches_arkworks() {
        let mut accepted = 0;
        for i in 0..600u64 {
            let mut b = bytes(5000 + i, 32);
            if i % 3 == 0 {
                // A valid encoding, sometimes with the sign flag flipped.
                let p = (bs::BandersnatchSha512Ell2::generator() * scalar(i)).into_affine();
                b.clear();
                p.serialize_compressed(&mut b).unwrap();
                if i % 2 == 0 {
                    b[31] ^= 0x80;
                }
            }
            let ours = decode_point(&b);
            let theirs = bs::AffinePoint::deserialize_compressed(&b[..]).ok();
            assert_eq!(ours, theirs, "bytes {b:?}");
            accepted += ours.is_some() as usize;
        }
        assert!(accepted > 200);
    }

    #[test]
    fn verify_matches_ark_vrf() {
        use ark_vrf::ietf::{Prover, Verifier};
        let check = |pk: &bs::Public,
                     input: bs::Input,
                     output: bs::Output,
                     aux: &[u8],
                     proof: &bs::IetfProof| {
            let table = odd_multiples_affine(&pk.0, KEY_WINDOW);
            let ours = verify(&pk.0, &table, &input.0, &output.0, aux, &proof.c, &proof.s);
            let theirs = pk.verify(input, output, aux, proof).is_ok();
            assert_eq!(ours, theirs);
            ours
        };
        for i in 0..12u64 {
            let sk = bs::Secret::from_seed(&i.to_le_bytes());
            let pk = sk.public();
            let input = bs::Input::new(&bytes(i, 10 + i as usize)).unwrap();
            let output = sk.output(input);
            let aux = bytes(100 + i, i as usize * 7);
            let proof = sk.prove(input, output, &aux);
            assert!(check(&pk, input, output, &aux, &proof));

            let other_sk = bs::Secret::from_seed(&(i + 100).to_le_bytes());
            let other_input = bs::Input::new(b"other").unwrap();
            let mut bad_c = proof.clone();
            bad_c.c += Scalar::one();
            let mut bad_s = proof.clone();
            bad_s.s += Scalar::one();
            let mut swapped = proof.clone();
            std::mem::swap(&mut swapped.c, &mut swapped.s);
            // Tampered proof, wrong key, wrong output, wrong input, wrong additional data.
            assert!(!check(&pk, input, output, &aux, &bad_c));
            assert!(!check(&pk, input, output, &aux, &bad_s));
            assert!(!check(&pk, input, output, &aux, &swapped));
            assert!(!check(&other_sk.public(), input, output, &aux, &proof));
            assert!(!check(&pk, input, other_sk.output(input), &aux, &proof));
            assert!(!check(&pk, input, sk.output(other_input), &aux, &proof));
            assert!(!check(&pk, other_input, output, &aux, &proof));
            assert!(!check(&pk, input, output, b"other aux", &proof));
            // Another key's proof of its own output does not pass for this output.
            let other_proof = other_sk.prove(input, other_sk.output(input), &aux);
            assert!(!check(&pk, input, output, &aux, &other_proof));
        }
    }

    #[test]
    fn double_mul_matches_naive() {
        let g = bs::BandersnatchSha512Ell2::generator();
        let p = (g * scalar(1)).into_affine();
        let key = odd_multiples_affine(&p, KEY_WINDOW);
        let q = g * scalar(2);
        let q_multiples = odd_multiples(q, POINT_WINDOW);
        let mut cases: Vec<(Scalar, Scalar)> =
            (0..20).map(|i| (scalar(10 + i), scalar(40 + i))).collect();
        cases.extend([
            (Scalar::zero(), Scalar::zero()),
            (Scalar::zero(), Scalar::one()),
            (-Scalar::one(), Scalar::zero()),
            (-Scalar::one(), -Scalar::one()),
        ]);
        for (a, b) in cases {
            let got = double_mul_sub(
                &wnaf(&a, GENERATOR_WINDOW),
                Multiples::Affine(generator_table()),
                &wnaf(&b, KEY_WINDOW),
                Multiples::Affine(&key),
            );
            assert_eq!(got, g * a - p * b);
            let got = double_mul_sub(
                &wnaf(&a, POINT_WINDOW),
                Multiples::Projective(&q_multiples),
                &wnaf(&b, KEY_WINDOW),
                Multiples::Affine(&key),
            );
            assert_eq!(got, q * a - p * b);
        }
    }
}
