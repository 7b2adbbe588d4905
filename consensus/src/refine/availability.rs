//! The availability specifier `A`, paged proofs `P` and segment justifications (GP v0.7.2
//! §14.3.1 eq. 14.10, §14.4.1 eq. 14.17, E.1 `J_x` / `L_x`, H erasure coding).

use jam_state::codec::encode_natural;
use jam_state::erasure::{self, ErasureError, ErasureParams};
use jam_state::hash::{blake2b_256, blake2b_256_concat, Hash};
use jam_state::merkle::{merkle_cd_blake2b, merkle_justification, merkle_leaf_page, merkle_wb};
use jam_state::params::Params;
use jam_state::types::{OpaqueHash, WorkPackageHash, WorkPackageSpec};
use rayon::prelude::*;

/// Segments per paged-proof page (`2^6`).
const PAGE_LOG: u32 = 6;

/// `M(s)`: the segments root (constant-depth Merkle root of the exported segments).
pub fn segments_root<S: AsRef<[u8]>>(segments: &[S]) -> OpaqueHash {
    OpaqueHash(merkle_cd_blake2b(segments))
}

/// `J_0(s, n)`: the justification of segment `n` against [`segments_root`] of `segments`.
pub fn justification<S: AsRef<[u8]>>(segments: &[S], n: usize) -> Vec<OpaqueHash> {
    merkle_justification(segments, n, 0, blake2b_256)
        .into_iter()
        .map(OpaqueHash)
        .collect()
}

/// Whether `path` (a `J_0`, top-down) proves `segment` to be item `n` under `root`.
pub fn verify_justification(
    root: &OpaqueHash,
    segment: &[u8],
    n: usize,
    path: &[OpaqueHash],
) -> bool {
    if path.len() < usize::BITS as usize && n >> path.len() != 0 {
        return false;
    }
    let mut node: Hash = blake2b_256_concat(&[b"leaf", segment]);
    for (level, sibling) in path.iter().rev().enumerate() {
        node = if (n >> level) & 1 == 0 {
            blake2b_256_concat(&[b"node", &node, sibling.as_bytes()])
        } else {
            blake2b_256_concat(&[b"node", sibling.as_bytes(), &node])
        };
    }
    node == root.0
}

/// `P(s)` (eq. 14.10): one segment per page of 64 exports, holding `E(↕J_6(s, i), ↕L_6(s, i))`
/// zero-padded to `W_G`.
pub fn paged_proofs<S: AsRef<[u8]>>(params: &Params, segments: &[S]) -> Vec<Vec<u8>> {
    let pages = segments.len().div_ceil(1 << PAGE_LOG);
    (0..pages)
        .map(|i| {
            let j = merkle_justification(segments, i, PAGE_LOG, blake2b_256);
            let l = merkle_leaf_page(segments, i, PAGE_LOG, blake2b_256);
            let mut v = Vec::with_capacity(params.segment_size());
            encode_natural(j.len() as u64, &mut v);
            j.iter().for_each(|h| v.extend_from_slice(h));
            encode_natural(l.len() as u64, &mut v);
            l.iter().for_each(|h| v.extend_from_slice(h));
            v.resize(params.segment_size().max(v.len()), 0);
            v
        })
        .collect()
}

/// Segments erasure-coded together (64 segments of the full chain's 12-octet shards make
/// 768-octet shards, whole 64-octet blocks of the Reed-Solomon backend).
const SEGMENT_BATCH: usize = 64;

/// `T C^#(segs)`: each validator's chunk of every segment, in order (`C` of each segment as
/// [`erasure::encode`] gives it).
///
/// H.6 codes every word position on its own, so laying equal-length segments' slices side
/// by side (data shard `i` of the batch is slice `i` of each segment in turn) and coding
/// once gives every segment's shards side by side: one backend call per 64 segments
/// instead of one per segment, whose 12-octet shards the backend pads to 64-octet blocks.
fn encode_segments(
    ec: &ErasureParams,
    segs: &[&[u8]],
    min_len: usize,
) -> Result<Vec<Vec<Vec<u8>>>, ErasureError> {
    let validators = ec.total_shards();
    let Some(first) = segs.first() else {
        return Ok(vec![Vec::new(); validators]);
    };
    let len = first.len();
    let z = ec.shard_size(len);
    if z == 0 || segs.iter().any(|s| s.len() != len) {
        // Unequal lengths (not produced by Ξ): one code per segment.
        let coded: Vec<Vec<Vec<u8>>> = segs
            .par_iter()
            .with_min_len(min_len)
            .map(|s| erasure::encode(ec, s))
            .collect::<Result<_, _>>()?;
        let mut per_validator: Vec<Vec<Vec<u8>>> =
            vec![Vec::with_capacity(coded.len()); validators];
        for shards in coded {
            for (v, shard) in shards.into_iter().enumerate() {
                per_validator[v].push(shard);
            }
        }
        return Ok(per_validator);
    }
    let kd = ec.data_shards();
    let batches: Vec<Vec<Vec<u8>>> = segs
        .par_chunks(SEGMENT_BATCH)
        .with_min_len(min_len)
        .map(|batch| {
            let b = batch.len();
            // Slice i of segment s (zero-padded) at (i·b + s)·z.
            let mut blob = vec![0u8; kd * b * z];
            for (s, seg) in batch.iter().enumerate() {
                for (i, slice) in seg.chunks(z).enumerate() {
                    let at = (i * b + s) * z;
                    blob[at..at + slice.len()].copy_from_slice(slice);
                }
            }
            erasure::encode(ec, &blob)
        })
        .collect::<Result<_, _>>()?;
    Ok((0..validators)
        .into_par_iter()
        .with_min_len(min_len.max(64))
        .map(|v| {
            let mut mine = Vec::with_capacity(segs.len());
            for shards in &batches {
                mine.extend(shards[v].chunks(z).map(<[u8]>::to_vec));
            }
            mine
        })
        .collect())
}

/// The erasure-coded chunks for distribution: validator `v` receives `bundle[v]` and
/// `segments[v]` (its chunk of every exported and paged-proof segment, in order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chunks {
    /// `C_{⌈|b|/W_E⌉}(P_{W_E}(b))`.
    pub bundle: Vec<Vec<u8>>,
    /// `T C^#_{W_P}(s ⌢ P(s))`.
    pub segments: Vec<Vec<Vec<u8>>>,
}

/// `A(h, b, s)` (eq. 14.17): the availability specification of package `h` with audit bundle
/// `b` and exports `s`, with the chunks its erasure root commits to.
pub fn availability_spec(
    params: &Params,
    package_hash: WorkPackageHash,
    bundle: &[u8],
    exports: &[Vec<u8>],
) -> Result<(WorkPackageSpec, Chunks), ErasureError> {
    availability_spec_split(params, package_hash, bundle, exports, 1)
}

/// [`availability_spec`], its parallel loops split no finer than `min_len` items
/// (`usize::MAX`: run on the calling thread alone). The result does not depend on it.
pub(crate) fn availability_spec_split(
    params: &Params,
    package_hash: WorkPackageHash,
    bundle: &[u8],
    exports: &[Vec<u8>],
    min_len: usize,
) -> Result<(WorkPackageSpec, Chunks), ErasureError> {
    let ec = ErasureParams::from_chain(params)?;
    let bundle_chunks = erasure::encode(&ec, bundle)?;
    let mut all: Vec<&[u8]> = exports.iter().map(|s| s.as_slice()).collect();
    let proofs = paged_proofs(params, exports);
    all.extend(proofs.iter().map(|s| s.as_slice()));
    let per_validator = encode_segments(&ec, &all, min_len)?;
    let leaves: Vec<[u8; 64]> = bundle_chunks
        .par_iter()
        .zip(per_validator.par_iter())
        .with_min_len(min_len)
        .map(|(b, s)| {
            let mut leaf = [0u8; 64];
            leaf[..32].copy_from_slice(&blake2b_256(b));
            leaf[32..].copy_from_slice(&merkle_wb(s, blake2b_256));
            leaf
        })
        .collect();
    let spec = WorkPackageSpec {
        hash: package_hash,
        length: u32::try_from(bundle.len()).unwrap_or(u32::MAX),
        erasure_root: OpaqueHash(merkle_wb(&leaves, blake2b_256)),
        exports_root: segments_root(exports),
        exports_count: u16::try_from(exports.len()).unwrap_or(u16::MAX),
    };
    Ok((
        spec,
        Chunks {
            bundle: bundle_chunks,
            segments: per_validator,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(n: usize, p: &Params) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let mut s = vec![0u8; p.segment_size()];
                s[0] = i as u8;
                s[4103] = (i * 7) as u8;
                s
            })
            .collect()
    }

    #[test]
    fn justifications_verify_against_the_root() {
        let p = Params::tiny();
        for n in [1usize, 2, 3, 5, 8, 70] {
            let s = segs(n, &p);
            let root = segments_root(&s);
            for i in 0..n {
                let j = justification(&s, i);
                assert_eq!(j.len(), n.next_power_of_two().trailing_zeros() as usize);
                assert!(verify_justification(&root, &s[i], i, &j), "n={n} i={i}");
                // Wrong index or tampered segment fails.
                assert!(!verify_justification(&root, &s[i], i ^ 1, &j) || n == 1);
                let mut bad = s[i].clone();
                bad[1] ^= 1;
                assert!(!verify_justification(&root, &bad, i, &j));
            }
        }
        // A single segment: the root is its leaf hash, the path empty.
        let s = segs(1, &p);
        assert_eq!(segments_root(&s).0, blake2b_256_concat(&[b"leaf", &s[0]]));
    }

    #[test]
    fn paged_proofs_layout() {
        let p = Params::tiny();
        assert!(paged_proofs(&p, &segs(0, &p)).is_empty());
        let s = segs(70, &p);
        let pp = paged_proofs(&p, &s);
        assert_eq!(pp.len(), 2);
        assert!(pp.iter().all(|x| x.len() == p.segment_size()));
        // Page 0: J_6 of a 128-leaf tree has depth 7 - 6 = 1 hash, then 64 leaf hashes.
        assert_eq!(pp[0][0], 1);
        assert_eq!(pp[0][33], 64);
        let leaf0 = blake2b_256_concat(&[b"leaf", &s[0]]);
        assert_eq!(&pp[0][34..66], &leaf0);
        // Page 1 holds the remaining 6 leaves.
        assert_eq!(pp[1][33], 6);
        let leaf64 = blake2b_256_concat(&[b"leaf", &s[64]]);
        assert_eq!(&pp[1][34..66], &leaf64);
        assert!(pp[1][34 + 6 * 32..].iter().all(|b| *b == 0));
    }

    /// Batched segment coding gives exactly each segment's own `C` (batch boundaries, both
    /// chains, and the unequal-length fallback).
    #[test]
    fn batched_segments_match_per_segment_coding() {
        for p in [Params::tiny(), Params::full()] {
            let ec = ErasureParams::from_chain(&p).unwrap();
            for n in [1usize, 3, 64, 65, 130] {
                let mut s = segs(n, &p);
                for (k, seg) in s.iter_mut().enumerate() {
                    for (j, b) in seg.iter_mut().enumerate().step_by(97) {
                        *b = (k * 31 + j * 7) as u8;
                    }
                }
                if n == 3 {
                    s[1].truncate(100);
                }
                let refs: Vec<&[u8]> = s.iter().map(|x| x.as_slice()).collect();
                for min_len in [1, usize::MAX] {
                    let got = encode_segments(&ec, &refs, min_len).unwrap();
                    assert_eq!(got.len(), p.validators());
                    for (k, seg) in s.iter().enumerate() {
                        let want = erasure::encode(&ec, seg).unwrap();
                        for v in 0..p.validators() {
                            assert_eq!(got[v][k], want[v], "n={n} segment {k} validator {v}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn spec_commits_to_bundle_and_segments() {
        let p = Params::tiny();
        let h = OpaqueHash([9; 32]);
        let bundle = vec![1u8, 2, 3, 4, 5];
        let (spec, chunks) = availability_spec(&p, h, &bundle, &[]).unwrap();
        assert_eq!((spec.hash, spec.length, spec.exports_count), (h, 5, 0));
        assert_eq!(spec.exports_root, OpaqueHash::ZERO);
        assert_eq!(chunks.bundle.len(), p.validators());
        // Tiny: W_E = 4, so 5 octets make 2 pieces and 4-octet chunks; systematic.
        assert_eq!(chunks.bundle[0], vec![1, 2, 3, 4]);
        assert_eq!(chunks.bundle[1], vec![5, 0, 0, 0]);
        let leaves: Vec<Vec<u8>> = chunks
            .bundle
            .iter()
            .map(|b| [blake2b_256(b), [0u8; 32]].concat())
            .collect();
        assert_eq!(spec.erasure_root.0, merkle_wb(&leaves, blake2b_256));

        let s = segs(3, &p);
        let (spec2, chunks2) = availability_spec(&p, h, &bundle, &s).unwrap();
        assert_eq!(spec2.exports_count, 3);
        assert_eq!(spec2.exports_root, segments_root(&s));
        // 3 exports + 1 proof page, one chunk each per validator; systematic halves.
        assert_eq!(chunks2.segments[0].len(), 4);
        assert_eq!(
            chunks2.segments[0][1],
            s[1][..p.segment_size() / 2].to_vec()
        );
        assert_ne!(spec2.erasure_root, spec.erasure_root);
        // Any data-shard subset reconstructs every segment.
        let ec = ErasureParams::from_chain(&p).unwrap();
        let got = erasure::reconstruct(
            &ec,
            [
                (4usize, &chunks2.segments[4][2]),
                (5, &chunks2.segments[5][2]),
            ],
            p.segment_size(),
        )
        .unwrap();
        assert_eq!(got, s[2]);
    }
}
