//! Erasure coding (GP v0.7.2 Appendix H): systematic Reed-Solomon in GF(2^16), via `reed-solomon-simd`.
//!
//! A blob is zero-padded to a whole number `k` of pieces of `W_E = 2 · data_shards` octets
//! (684 for the full chain: 342 two-octet words). GP H.6 reads it as `data_shards`
//! consecutive slices of `2k` octets (`split_{2k}`), each being `k` little-endian words;
//! word `p` of every slice forms the `p`-th message of `data_shards` words, which is encoded
//! to `total_shards` words; shard `i` is the concatenation of word `i` of the `k` codewords.
//! The code is systematic: shard `i < data_shards` is exactly the `i`-th slice of the blob.
//! Any `data_shards` distinct shards recover the blob (GP H.7).
//!
//! `reed-solomon-simd` stores each shard as 64-octet blocks of 32 words, low octets first,
//! then high octets (a shorter tail block likewise); the conversions below map between that
//! layout and the GP's little-endian word sequence.

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};
use std::cell::Cell;
use thiserror::Error;

/// Errors of erasure coding and recovery.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ErasureError {
    /// The shard counts are not usable (no data shard, no recovery shard, too many).
    #[error("invalid erasure parameters: {data_shards} data shards of {total_shards}")]
    InvalidParams {
        data_shards: usize,
        total_shards: usize,
    },
    /// The piece size `W_E` must be a positive even number.
    #[error("invalid erasure piece size {0}: must be positive and even")]
    InvalidPieceSize(usize),
    /// Fewer distinct shards than data shards were given.
    #[error("not enough shards to reconstruct: need {needed}, got {got}")]
    NotEnoughShards { needed: usize, got: usize },
    /// A shard index is not below the total shard count.
    #[error("shard index {index} out of range (total {total})")]
    ShardIndexOutOfRange { index: usize, total: usize },
    /// The same shard index was given twice.
    #[error("duplicate shard index {index}")]
    DuplicateShard { index: usize },
    /// Shards given together must have one common, even size.
    #[error("shard {index} has size {got}, expected {expected}")]
    InconsistentShardSize {
        index: usize,
        expected: usize,
        got: usize,
    },
    /// Shard sizes are whole numbers of two-octet words.
    #[error("shard size {0} is odd")]
    OddShardSize(usize),
    /// The requested length exceeds what the shards hold.
    #[error("requested data length {len} exceeds the {capacity} octets the shards hold")]
    DataLengthTooLarge { len: usize, capacity: usize },
    /// More than `data_shards` shards were given and they do not all lie on one codeword
    /// (a corrupted shard); `index` is the first given shard that disagrees with the data
    /// reconstructed from the others, not necessarily the corrupted one.
    #[error("shard {index} is inconsistent with the other shards")]
    InconsistentShards { index: usize },
    /// The Reed-Solomon backend refused the input.
    #[error("reed-solomon backend: {0}")]
    Backend(String),
}

impl From<reed_solomon_simd::Error> for ErasureError {
    fn from(e: reed_solomon_simd::Error) -> Self {
        ErasureError::Backend(e.to_string())
    }
}

/// The shape of the code: `data_shards` message words per codeword of `total_shards`
/// words, one shard per validator. Passed by value; no chain constants in the logic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErasureParams {
    data_shards: usize,
    total_shards: usize,
}

impl ErasureParams {
    /// The full chain: 1023 validators, rate 342:1023, `W_E` = 684.
    pub const FULL: ErasureParams = ErasureParams {
        data_shards: 342,
        total_shards: 1023,
    };
    /// The `tiny` test chain: 6 validators, rate 2:6, `W_E` = 4.
    pub const TINY: ErasureParams = ErasureParams {
        data_shards: 2,
        total_shards: 6,
    };

    /// A code with one shard per validator, any `data_shards` of which recover the data.
    pub fn new(validators: usize, data_shards: usize) -> Result<Self, ErasureError> {
        let bad = ErasureError::InvalidParams {
            data_shards,
            total_shards: validators,
        };
        if data_shards == 0 || validators <= data_shards {
            return Err(bad);
        }
        if !ReedSolomonEncoder::supports(data_shards, validators - data_shards) {
            return Err(bad);
        }
        Ok(ErasureParams {
            data_shards,
            total_shards: validators,
        })
    }

    /// A code from the chain-spec parameters: validator count and piece size `W_E`
    /// (octets per piece, two per data shard).
    pub fn from_piece_size(validators: usize, piece_size: usize) -> Result<Self, ErasureError> {
        if piece_size == 0 || !piece_size.is_multiple_of(2) {
            return Err(ErasureError::InvalidPieceSize(piece_size));
        }
        Self::new(validators, piece_size / 2)
    }

    /// The code of a chain: one shard per validator (`V`), piece size `W_E`.
    pub fn from_chain(params: &crate::params::Params) -> Result<Self, ErasureError> {
        Self::from_piece_size(
            usize::from(params.validator_count),
            params.ec_piece_size as usize,
        )
    }

    /// Number of shards needed to reconstruct (342 for the full chain).
    pub fn data_shards(&self) -> usize {
        self.data_shards
    }

    /// Number of shards produced, one per validator (1023 for the full chain).
    pub fn total_shards(&self) -> usize {
        self.total_shards
    }

    /// Number of non-systematic shards.
    pub fn recovery_shards(&self) -> usize {
        self.total_shards - self.data_shards
    }

    /// The piece size `W_E` = 2 · data shards (684 for the full chain).
    pub fn piece_size(&self) -> usize {
        2 * self.data_shards
    }

    /// The size of each shard for a blob of `data_len` octets: two octets per piece.
    pub fn shard_size(&self, data_len: usize) -> usize {
        2 * data_len.div_ceil(self.piece_size())
    }
}

thread_local! {
    static ENCODER: Cell<Option<ReedSolomonEncoder>> = const { Cell::new(None) };
    static DECODER: Cell<Option<ReedSolomonDecoder>> = const { Cell::new(None) };
}

/// One 64-octet block, GP little-endian words → `reed-solomon-simd` layout (the 32 low
/// octets, then the 32 high octets). SSE2 (always present on x86-64): four packs.
#[cfg(target_arch = "x86_64")]
fn block_to_simd(s: &[u8; 64], d: &mut [u8; 64]) {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86-64 baseline; every unaligned load and store is of 16
    // octets inside the 64-octet arrays `s` and `d`.
    unsafe {
        let ld = |i: usize| _mm_loadu_si128(s.as_ptr().add(16 * i).cast());
        let (w0, w1, w2, w3) = (ld(0), ld(1), ld(2), ld(3));
        let mask = _mm_set1_epi16(0x00ff);
        let lo = |a, b| _mm_packus_epi16(_mm_and_si128(a, mask), _mm_and_si128(b, mask));
        let hi = |a, b| _mm_packus_epi16(_mm_srli_epi16::<8>(a), _mm_srli_epi16::<8>(b));
        let p = d.as_mut_ptr();
        _mm_storeu_si128(p.cast(), lo(w0, w1));
        _mm_storeu_si128(p.add(16).cast(), lo(w2, w3));
        _mm_storeu_si128(p.add(32).cast(), hi(w0, w1));
        _mm_storeu_si128(p.add(48).cast(), hi(w2, w3));
    }
}

/// One 64-octet block, GP little-endian words → `reed-solomon-simd` layout (portable).
#[cfg(not(target_arch = "x86_64"))]
fn block_to_simd(s: &[u8; 64], d: &mut [u8; 64]) {
    for j in 0..32 {
        d[j] = s[2 * j];
        d[32 + j] = s[2 * j + 1];
    }
}

/// One 64-octet block, `reed-solomon-simd` layout → GP little-endian words. SSE2: four
/// interleaves.
#[cfg(target_arch = "x86_64")]
fn block_to_words(s: &[u8; 64], d: &mut [u8; 64]) {
    use std::arch::x86_64::*;
    // SAFETY: as in `block_to_simd`: SSE2 is baseline, all accesses are 16 octets in bounds.
    unsafe {
        let ld = |i: usize| _mm_loadu_si128(s.as_ptr().add(16 * i).cast());
        let (lo0, lo1, hi0, hi1) = (ld(0), ld(1), ld(2), ld(3));
        let p = d.as_mut_ptr();
        _mm_storeu_si128(p.cast(), _mm_unpacklo_epi8(lo0, hi0));
        _mm_storeu_si128(p.add(16).cast(), _mm_unpackhi_epi8(lo0, hi0));
        _mm_storeu_si128(p.add(32).cast(), _mm_unpacklo_epi8(lo1, hi1));
        _mm_storeu_si128(p.add(48).cast(), _mm_unpackhi_epi8(lo1, hi1));
    }
}

/// One 64-octet block, `reed-solomon-simd` layout → GP little-endian words (portable).
#[cfg(not(target_arch = "x86_64"))]
fn block_to_words(s: &[u8; 64], d: &mut [u8; 64]) {
    for j in 0..32 {
        d[2 * j] = s[j];
        d[2 * j + 1] = s[32 + j];
    }
}

/// GP little-endian words → `reed-solomon-simd` block layout. `src.len() == dst.len()`, even.
fn words_to_simd(src: &[u8], dst: &mut [u8]) {
    debug_assert_eq!(src.len(), dst.len());
    let (mut s, mut d) = (src.chunks_exact(64), dst.chunks_exact_mut(64));
    for (s, d) in (&mut s).zip(&mut d) {
        let s: &[u8; 64] = s.try_into().expect("a 64-octet block");
        let d: &mut [u8; 64] = d.try_into().expect("a 64-octet block");
        block_to_simd(s, d);
    }
    let (s, d) = (s.remainder(), d.into_remainder());
    let (lo, hi) = d.split_at_mut(s.len() / 2);
    for (j, pair) in s.chunks_exact(2).enumerate() {
        lo[j] = pair[0];
        hi[j] = pair[1];
    }
}

/// `reed-solomon-simd` block layout → GP little-endian words, appended to `dst` (whose
/// capacity the caller reserves): no zero-filling pass over memory that is then overwritten.
fn simd_to_words_extend(src: &[u8], dst: &mut Vec<u8>) {
    let mut s = src.chunks_exact(64);
    for block in &mut s {
        let block: &[u8; 64] = block.try_into().expect("a 64-octet block");
        let mut words = [0u8; 64];
        block_to_words(block, &mut words);
        dst.extend_from_slice(&words);
    }
    let s = s.remainder();
    let (lo, hi) = s.split_at(s.len() / 2);
    for (l, h) in lo.iter().zip(hi) {
        dst.extend_from_slice(&[*l, *h]);
    }
}

/// `reed-solomon-simd` block layout → GP little-endian words. `src.len() == dst.len()`, even.
fn simd_to_words(src: &[u8], dst: &mut [u8]) {
    debug_assert_eq!(src.len(), dst.len());
    let (mut s, mut d) = (src.chunks_exact(64), dst.chunks_exact_mut(64));
    for (s, d) in (&mut s).zip(&mut d) {
        let s: &[u8; 64] = s.try_into().expect("a 64-octet block");
        let d: &mut [u8; 64] = d.try_into().expect("a 64-octet block");
        block_to_words(s, d);
    }
    let (s, d) = (s.remainder(), d.into_remainder());
    let (lo, hi) = s.split_at(s.len() / 2);
    for (j, pair) in d.chunks_exact_mut(2).enumerate() {
        pair[0] = lo[j];
        pair[1] = hi[j];
    }
}

/// The erasure-code chunking function `C_k` (GP H.6): pads `data` with zeroes to a whole
/// number of pieces and returns `total_shards` shards of `params.shard_size(data.len())`
/// octets each. Empty data gives empty shards.
///
/// Allocates the ~3·|data| octets of shards afresh; a caller that encodes repeatedly can
/// keep them with [`encode_into`].
pub fn encode(params: &ErasureParams, data: &[u8]) -> Result<Vec<Vec<u8>>, ErasureError> {
    let mut shards = Vec::new();
    encode_into(params, data, &mut shards)?;
    Ok(shards)
}

/// [`encode`] into `shards`, reusing its vectors (and their capacity) when it already holds
/// some: on return it holds exactly `total_shards` shards of `params.shard_size(data.len())`
/// octets, whatever it held before. Encoding many blobs of one size through the same `shards`
/// allocates nothing after the first; on error `shards`' contents are unspecified.
pub fn encode_into(
    params: &ErasureParams,
    data: &[u8],
    shards: &mut Vec<Vec<u8>>,
) -> Result<(), ErasureError> {
    let n = params.total_shards;
    let kd = params.data_shards;
    let shard_bytes = params.shard_size(data.len());
    shards.resize_with(n, Vec::new);
    for s in shards.iter_mut() {
        s.clear();
    }
    if shard_bytes == 0 {
        return Ok(());
    }
    // Systematic part: consecutive slices of the zero-padded blob.
    for (i, s) in shards[..kd].iter_mut().enumerate() {
        let start = (i * shard_bytes).min(data.len());
        let end = ((i + 1) * shard_bytes).min(data.len());
        s.reserve_exact(shard_bytes);
        s.extend_from_slice(&data[start..end]);
        s.resize(shard_bytes, 0);
    }
    ENCODER.with(|cell| -> Result<(), ErasureError> {
        // Reuse this thread's encoder (and its working memory) when there is one.
        let mut enc = match cell.take() {
            Some(mut enc) => {
                enc.reset(kd, n - kd, shard_bytes)?;
                enc
            }
            None => ReedSolomonEncoder::new(kd, n - kd, shard_bytes)?,
        };
        {
            let mut buf = vec![0u8; shard_bytes];
            for s in &shards[..kd] {
                words_to_simd(s, &mut buf);
                enc.add_original_shard(&buf)?;
            }
            let result = enc.encode()?;
            for (r, out) in result.recovery_iter().zip(&mut shards[kd..]) {
                out.reserve_exact(shard_bytes);
                simd_to_words_extend(r, out);
            }
        }
        cell.replace(Some(enc));
        Ok(())
    })
}

/// The recovery function `R_k` (GP H.7): rebuilds the zero-padded blob (`data_shards ·
/// shard size` octets) from any `data_shards` distinct `(index, shard)` pairs. Extra shards
/// are allowed. Errors on too few shards, bad indices, duplicates or differing sizes.
pub fn reconstruct_padded<I, S>(params: &ErasureParams, shards: I) -> Result<Vec<u8>, ErasureError>
where
    I: IntoIterator<Item = (usize, S)>,
    S: AsRef<[u8]>,
{
    let n = params.total_shards;
    let kd = params.data_shards;
    let mut slots: Vec<Option<S>> = (0..n).map(|_| None).collect();
    let mut shard_bytes: Option<usize> = None;
    let mut count = 0usize;
    for (index, shard) in shards {
        if index >= n {
            return Err(ErasureError::ShardIndexOutOfRange { index, total: n });
        }
        let len = shard.as_ref().len();
        match shard_bytes {
            None => {
                if !len.is_multiple_of(2) {
                    return Err(ErasureError::OddShardSize(len));
                }
                shard_bytes = Some(len);
            }
            Some(expected) if expected != len => {
                return Err(ErasureError::InconsistentShardSize {
                    index,
                    expected,
                    got: len,
                });
            }
            Some(_) => {}
        }
        if slots[index].is_some() {
            return Err(ErasureError::DuplicateShard { index });
        }
        slots[index] = Some(shard);
        count += 1;
    }
    if count < kd {
        return Err(ErasureError::NotEnoughShards {
            needed: kd,
            got: count,
        });
    }
    let shard_bytes = shard_bytes.unwrap_or(0);
    let mut out = vec![0u8; kd * shard_bytes];
    if shard_bytes == 0 {
        return Ok(out);
    }
    // Present systematic shards are copied; if all are present that is the whole answer.
    let mut missing = false;
    for (i, slot) in slots[..kd].iter().enumerate() {
        match slot {
            Some(s) => out[i * shard_bytes..(i + 1) * shard_bytes].copy_from_slice(s.as_ref()),
            None => missing = true,
        }
    }
    if !missing {
        return Ok(out);
    }
    DECODER.with(|cell| -> Result<(), ErasureError> {
        let mut dec = match cell.take() {
            Some(mut dec) => {
                dec.reset(kd, n - kd, shard_bytes)?;
                dec
            }
            None => ReedSolomonDecoder::new(kd, n - kd, shard_bytes)?,
        };
        let mut buf = vec![0u8; shard_bytes];
        // Exactly `kd` shards suffice; systematic ones first.
        let mut given = 0;
        for (i, s) in slots.iter().enumerate() {
            if given == kd {
                break;
            }
            let Some(s) = s else { continue };
            words_to_simd(s.as_ref(), &mut buf);
            if i < kd {
                dec.add_original_shard(i, &buf)?;
            } else {
                dec.add_recovery_shard(i - kd, &buf)?;
            }
            given += 1;
        }
        {
            let result = dec.decode()?;
            for (i, restored) in result.restored_original_iter() {
                simd_to_words(restored, &mut out[i * shard_bytes..(i + 1) * shard_bytes]);
            }
        }
        cell.replace(Some(dec));
        Ok(())
    })?;
    Ok(out)
}

/// [`reconstruct_padded`], truncated to the original length `len`.
pub fn reconstruct<I, S>(
    params: &ErasureParams,
    shards: I,
    len: usize,
) -> Result<Vec<u8>, ErasureError>
where
    I: IntoIterator<Item = (usize, S)>,
    S: AsRef<[u8]>,
{
    let mut out = reconstruct_padded(params, shards)?;
    if len > out.len() {
        return Err(ErasureError::DataLengthTooLarge {
            len,
            capacity: out.len(),
        });
    }
    out.truncate(len);
    Ok(out)
}

/// [`reconstruct`], checking the shards against each other: the blob is rebuilt, re-encoded,
/// and every given shard must equal its re-encoding, so that with more than `data_shards`
/// shards a corrupted one is reported ([`ErasureError::InconsistentShards`]) rather than
/// silently yielding wrong data. With exactly `data_shards` shards nothing can be detected.
pub fn reconstruct_verified<I, S>(
    params: &ErasureParams,
    shards: I,
    len: usize,
) -> Result<Vec<u8>, ErasureError>
where
    I: IntoIterator<Item = (usize, S)>,
    S: AsRef<[u8]>,
{
    let given: Vec<(usize, S)> = shards.into_iter().collect();
    let mut out = reconstruct_padded(params, given.iter().map(|(i, s)| (*i, s.as_ref())))?;
    if len > out.len() {
        return Err(ErasureError::DataLengthTooLarge {
            len,
            capacity: out.len(),
        });
    }
    if given.len() > params.data_shards {
        // `out` is `data_shards` whole shards, so it re-encodes to shards of the given size.
        let all = encode(params, &out)?;
        if let Some((index, _)) = given.iter().find(|(i, s)| all[*i] != s.as_ref()) {
            return Err(ErasureError::InconsistentShards { index: *index });
        }
    }
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i.wrapping_mul(131) ^ (i >> 3)) as u8)
            .collect()
    }

    #[test]
    fn params() {
        assert_eq!(ErasureParams::new(1023, 342), Ok(ErasureParams::FULL));
        assert_eq!(
            ErasureParams::from_piece_size(6, 4),
            Ok(ErasureParams::TINY)
        );
        let tiny = crate::params::Params::tiny();
        assert_eq!(ErasureParams::from_chain(&tiny), Ok(ErasureParams::TINY));
        let full = crate::params::Params::full();
        assert_eq!(ErasureParams::from_chain(&full), Ok(ErasureParams::FULL));
        assert_eq!(ErasureParams::FULL.piece_size(), 684);
        assert_eq!(ErasureParams::FULL.shard_size(4104), 12);
        assert_eq!(ErasureParams::TINY.shard_size(3), 2);
        assert!(ErasureParams::new(6, 0).is_err());
        assert!(ErasureParams::new(6, 6).is_err());
        assert!(ErasureParams::new(70_000, 10).is_err());
        assert_eq!(
            ErasureParams::from_piece_size(6, 3),
            Err(ErasureError::InvalidPieceSize(3))
        );
    }

    #[test]
    fn layout_roundtrip() {
        for len in [2usize, 30, 64, 66, 130, 200] {
            let src = sample(len);
            let mut a = vec![0u8; len];
            let mut b = vec![0u8; len];
            words_to_simd(&src, &mut a);
            simd_to_words(&a, &mut b);
            assert_eq!(b, src);
            let mut c = vec![7u8];
            simd_to_words_extend(&a, &mut c);
            assert_eq!(c[1..], src[..]);
        }
    }

    /// The (SSE2) block conversions against the definition: word `j` of a block is octets
    /// `2j, 2j + 1` in GP order and octets `j, 32 + j` in `reed-solomon-simd` order.
    #[test]
    fn block_layout() {
        let gp = sample(64);
        let gp: &[u8; 64] = gp.as_slice().try_into().unwrap();
        let mut simd = [0u8; 64];
        block_to_simd(gp, &mut simd);
        for j in 0..32 {
            assert_eq!(
                (simd[j], simd[32 + j]),
                (gp[2 * j], gp[2 * j + 1]),
                "word {j}"
            );
        }
        let mut back = [0u8; 64];
        block_to_words(&simd, &mut back);
        assert_eq!(&back, gp);
    }

    /// `encode_into` over a reused shard vector (larger, smaller, empty data in turn) gives
    /// exactly what `encode` gives.
    #[test]
    fn encode_into_reuses_buffers() {
        for p in [ErasureParams::TINY, ErasureParams::FULL] {
            let mut shards = vec![vec![1u8; 3]; 2000];
            for len in [10_000usize, 685, 0, 4104, 1] {
                let data = sample(len);
                encode_into(&p, &data, &mut shards).unwrap();
                assert_eq!(shards, encode(&p, &data).unwrap(), "len {len}");
            }
        }
    }

    #[test]
    fn roundtrip_any_subset() {
        for params in [ErasureParams::TINY, ErasureParams::FULL] {
            for len in [1usize, 3, 100, 684, 4104, 5000] {
                let data = sample(len);
                let shards = encode(&params, &data).unwrap();
                assert_eq!(shards.len(), params.total_shards());
                let kd = params.data_shards();
                let last = shards.iter().enumerate().skip(params.total_shards() - kd);
                assert_eq!(reconstruct(&params, last, len).unwrap(), data);
                let odd = shards
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % 3 != 0)
                    .take(kd);
                assert_eq!(reconstruct(&params, odd, len).unwrap(), data);
                let first = shards.iter().enumerate().take(kd);
                let padded = reconstruct_padded(&params, first).unwrap();
                assert_eq!(&padded[..len], &data[..]);
                assert!(padded[len..].iter().all(|&b| b == 0));
            }
        }
    }

    #[test]
    fn too_few_shards() {
        let p = ErasureParams::TINY;
        let shards = encode(&p, b"hello").unwrap();
        let one = shards.iter().enumerate().skip(3).take(1);
        assert_eq!(
            reconstruct(&p, one, 5),
            Err(ErasureError::NotEnoughShards { needed: 2, got: 1 })
        );
        let none: Vec<(usize, Vec<u8>)> = Vec::new();
        assert_eq!(
            reconstruct_padded(&p, none),
            Err(ErasureError::NotEnoughShards { needed: 2, got: 0 })
        );
    }

    #[test]
    fn bad_shards() {
        let p = ErasureParams::TINY;
        let s = encode(&p, b"hello world").unwrap();
        assert_eq!(
            reconstruct_padded(&p, [(6, &s[0]), (1, &s[1])]),
            Err(ErasureError::ShardIndexOutOfRange { index: 6, total: 6 })
        );
        assert_eq!(
            reconstruct_padded(&p, [(2, &s[2]), (2, &s[2])]),
            Err(ErasureError::DuplicateShard { index: 2 })
        );
        let short = s[3][..2].to_vec();
        assert_eq!(
            reconstruct_padded(&p, [(2, s[2].clone()), (3, short)]),
            Err(ErasureError::InconsistentShardSize {
                index: 3,
                expected: s[2].len(),
                got: 2
            })
        );
        assert_eq!(
            reconstruct_padded(&p, [(2, vec![1u8; 3]), (3, vec![1u8; 3])]),
            Err(ErasureError::OddShardSize(3))
        );
        assert_eq!(
            reconstruct(&p, s.iter().enumerate(), 1000),
            Err(ErasureError::DataLengthTooLarge {
                len: 1000,
                capacity: 12
            })
        );
    }

    #[test]
    fn empty_data() {
        let p = ErasureParams::FULL;
        let s = encode(&p, &[]).unwrap();
        assert_eq!(s.len(), 1023);
        assert!(s.iter().all(|x| x.is_empty()));
        assert_eq!(
            reconstruct(&p, s.iter().enumerate().skip(500), 0),
            Ok(Vec::new())
        );
    }

    /// A small deterministic generator (xorshift64*), for random shard subsets.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// `k` distinct indices from `pool`, in random order.
        fn pick(&mut self, pool: &[usize], k: usize) -> Vec<usize> {
            let mut p = pool.to_vec();
            for i in 0..k {
                let j = i + self.below(p.len() - i);
                p.swap(i, j);
            }
            p.truncate(k);
            p
        }
    }

    fn subset(shards: &[Vec<u8>], idx: &[usize]) -> Vec<(usize, Vec<u8>)> {
        idx.iter().map(|&i| (i, shards[i].clone())).collect()
    }

    /// Reconstructs `data` from `trials` random sufficient subsets of each kind: any shards,
    /// recovery shards only, and a mix with at least one systematic and one recovery shard.
    fn check_random_subsets(p: &ErasureParams, data: &[u8], trials: usize, seed: u64) {
        let shards = encode(p, data).unwrap();
        assert_eq!(shards.len(), p.total_shards());
        assert!(shards.iter().all(|s| s.len() == p.shard_size(data.len())));
        let (kd, n) = (p.data_shards(), p.total_shards());
        let all: Vec<usize> = (0..n).collect();
        let recovery: Vec<usize> = (kd..n).collect();
        let mut rng = Rng(seed);
        for _ in 0..trials {
            // Any kd..=n shards.
            let k = kd + rng.below(n - kd + 1);
            let idx = rng.pick(&all, k);
            assert_eq!(
                reconstruct(p, subset(&shards, &idx), data.len()).unwrap(),
                data
            );
            // Recovery shards only (every data shard dropped).
            let idx = rng.pick(&recovery, kd);
            assert_eq!(
                reconstruct(p, subset(&shards, &idx), data.len()).unwrap(),
                data
            );
            // Mixed: 1..kd-1 systematic shards (kd >= 2 here), the rest recovery.
            let s = 1 + rng.below(kd - 1);
            let mut idx = rng.pick(&all[..kd], s);
            idx.extend(rng.pick(&recovery, kd - s));
            assert_eq!(
                reconstruct_verified(p, subset(&shards, &idx), data.len()).unwrap(),
                data
            );
            // One shard fewer is not enough.
            idx.pop();
            assert_eq!(
                reconstruct(p, subset(&shards, &idx), data.len()),
                Err(ErasureError::NotEnoughShards {
                    needed: kd,
                    got: kd - 1
                })
            );
        }
    }

    #[test]
    fn random_subsets_tiny_and_full() {
        for (p, trials) in [(ErasureParams::TINY, 40), (ErasureParams::FULL, 6)] {
            for (len, seed) in [(1usize, 1u64), (683, 2), (685, 3), (10_000, 4)] {
                check_random_subsets(&p, &sample(len), trials, seed);
            }
        }
    }

    #[test]
    fn all_recovery_shards() {
        for p in [ErasureParams::TINY, ErasureParams::FULL] {
            let data = sample(3 * p.piece_size() + 5);
            let shards = encode(&p, &data).unwrap();
            let kd = p.data_shards();
            // Exactly the first and exactly the last `kd` recovery shards, and all of them.
            for range in [kd..2 * kd, p.total_shards() - kd..p.total_shards()] {
                let given = range.map(|i| (i, &shards[i]));
                assert_eq!(reconstruct(&p, given, data.len()).unwrap(), data);
            }
            let given = (kd..p.total_shards()).map(|i| (i, &shards[i]));
            assert_eq!(reconstruct_verified(&p, given, data.len()).unwrap(), data);
        }
    }

    /// Export segments: `W_G` = 4104 octets each, coded one by one (`W_P` pieces of `W_E`).
    #[test]
    fn export_segments_tiny_and_full() {
        for (chain, p) in [
            (crate::params::Params::tiny(), ErasureParams::TINY),
            (crate::params::Params::full(), ErasureParams::FULL),
        ] {
            let wg = chain.segment_size();
            assert_eq!(wg, 4104);
            assert_eq!(p.shard_size(wg), 2 * chain.ec_pieces_per_segment as usize);
            let mut rng = Rng(7);
            for seg in 0..8u8 {
                let data: Vec<u8> = (0..wg).map(|i| (i as u8) ^ seg.wrapping_mul(37)).collect();
                let shards = encode(&p, &data).unwrap();
                // Systematic: data shard i is the i-th slice of the segment.
                let sb = p.shard_size(wg);
                for (i, s) in shards.iter().take(p.data_shards()).enumerate() {
                    assert_eq!(s[..], data[i * sb..(i + 1) * sb]);
                }
                let all: Vec<usize> = (0..p.total_shards()).collect();
                let idx = rng.pick(&all, p.data_shards());
                assert_eq!(reconstruct(&p, subset(&shards, &idx), wg).unwrap(), data);
            }
        }
    }

    /// A full-size work bundle (`W_B` octets) on both chains: encode, then reconstruct from
    /// recovery shards only and from a random mixed subset.
    #[test]
    fn full_size_bundle() {
        for (chain, p) in [
            (crate::params::Params::tiny(), ErasureParams::TINY),
            (crate::params::Params::full(), ErasureParams::FULL),
        ] {
            let len = chain.max_bundle_size as usize;
            let data = sample(len);
            let shards = encode(&p, &data).unwrap();
            let sb = p.shard_size(len);
            assert!(shards.iter().all(|s| s.len() == sb));
            assert_eq!(sb, 2 * len.div_ceil(chain.ec_piece_size as usize));
            let kd = p.data_shards();
            let n = p.total_shards();
            let recovery = (n - kd..n).map(|i| (i, shards[i].as_slice()));
            assert_eq!(reconstruct(&p, recovery, len).unwrap(), data);
            let all: Vec<usize> = (0..n).collect();
            let idx = Rng(11).pick(&all, kd);
            let mixed = idx.iter().map(|&i| (i, shards[i].as_slice()));
            assert_eq!(reconstruct(&p, mixed, len).unwrap(), data);
        }
    }

    #[test]
    fn inconsistent_shards() {
        for p in [ErasureParams::TINY, ErasureParams::FULL] {
            let data = sample(2000);
            let mut shards = encode(&p, &data).unwrap();
            let kd = p.data_shards();
            // One corrupted recovery shard among kd + 1: detected.
            shards[kd][0] ^= 1;
            let given: Vec<_> = (0..=kd).map(|i| (i, shards[i].clone())).collect();
            assert_eq!(
                reconstruct_verified(&p, given, data.len()),
                Err(ErasureError::InconsistentShards { index: kd })
            );
            // A corrupted data shard: the blob rebuilt from it disagrees with a later shard.
            shards[kd][0] ^= 1;
            shards[0][1] ^= 0x80;
            let given: Vec<_> = (0..=kd).map(|i| (i, shards[i].clone())).collect();
            assert!(matches!(
                reconstruct_verified(&p, given, data.len()),
                Err(ErasureError::InconsistentShards { .. })
            ));
            // Exactly kd shards: nothing to check against.
            let given: Vec<_> = (1..=kd).map(|i| (i, shards[i].clone())).collect();
            assert_eq!(reconstruct_verified(&p, given, data.len()).unwrap(), data);
            // Sizes and lengths are still checked first.
            assert_eq!(
                reconstruct_verified(&p, [(0, vec![0u8; 2]), (1, vec![0u8; 4])], 1),
                Err(ErasureError::InconsistentShardSize {
                    index: 1,
                    expected: 2,
                    got: 4
                })
            );
        }
    }
}
