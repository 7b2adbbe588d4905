//! Recent history β (GP v0.7.2 §7): recent blocks β_H and the accumulation-output belt β_B (an MMR).
//!
//! A block's import applies it in two steps:
//! 1. [`with_parent_state_root`] gives β† (GP 7.5): the newest entry's state root, zero when the
//!    parent was imported, becomes the parent state root H_r. Guarantee checks read β†.
//! 2. [`append_block`] gives β' (GP 7.6–7.8): the accumulate root is appended to the belt, and
//!    an entry for this block (header hash, the belt's super-peak, zero state root, the packages
//!    reported by E_G) is pushed, keeping the newest H entries.
//!
//! [`transition`] does both, as the history vectors do.

use jam_state::hash::keccak_256;
use jam_state::params::Params;
use jam_state::types::{
    BlockInfo, GuaranteesExtrinsic, OpaqueHash, RecentBlocks, ReportedWorkPackage, ServiceId,
    StateRoot,
};

/// The inputs of the recent-history transition of one block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryInput {
    /// H(H): the hash of this block's header.
    pub header_hash: OpaqueHash,
    /// H_r: the parent state root (from this block's header).
    pub parent_state_root: StateRoot,
    /// r: the Merkle root of the accumulation outputs θ' ([`accumulate_root`]).
    pub accumulate_root: OpaqueHash,
    /// p: the work packages reported in E_G, hash ↦ exports root.
    pub work_packages: Vec<ReportedWorkPackage>,
}

/// Merkle mountain ranges (GP Appendix E.2): the append function `A` and the super-peak `M_R`.
///
/// A range is a sequence of optional peaks, lowest first; peak `i`, when present, is the
/// root of a perfect binary tree of `2^i` leaves. Appending a leaf merges equal-height
/// peaks upwards with `H(left ++ right)`, like binary addition with carries.
pub mod mmr {
    use jam_state::hash::keccak_256;
    use jam_state::types::{Mmr, MmrPeak, OpaqueHash};

    /// `A(r, l, H)`: appends `leaf` to the peaks `peaks` with the hash function `hash`.
    pub fn append_with(
        peaks: &mut Vec<MmrPeak>,
        leaf: OpaqueHash,
        hash: impl Fn(&[u8]) -> [u8; 32],
    ) {
        let mut carry = leaf;
        for slot in peaks.iter_mut() {
            match slot.take() {
                None => {
                    *slot = Some(carry);
                    return;
                }
                Some(peak) => {
                    let mut buf = [0u8; 64];
                    buf[..32].copy_from_slice(peak.as_bytes());
                    buf[32..].copy_from_slice(carry.as_bytes());
                    carry = OpaqueHash(hash(&buf));
                }
            }
        }
        peaks.push(Some(carry));
    }

    /// `M_R(b)` with the hash function `hash`: over the present peaks, lowest first, the zero
    /// hash when there is none, the only peak when there is one, otherwise
    /// `H("peak" ++ M_R(all but the last) ++ last)`.
    pub fn super_peak_with(peaks: &[MmrPeak], hash: impl Fn(&[u8]) -> [u8; 32]) -> OpaqueHash {
        let mut present = peaks.iter().flatten();
        let Some(first) = present.next() else {
            return OpaqueHash::ZERO;
        };
        let mut acc = *first;
        for peak in present {
            let mut buf = [0u8; 4 + 64];
            buf[..4].copy_from_slice(b"peak");
            buf[4..36].copy_from_slice(acc.as_bytes());
            buf[36..].copy_from_slice(peak.as_bytes());
            acc = OpaqueHash(hash(&buf));
        }
        acc
    }

    /// Appends `leaf` to `mmr` with Keccak-256 (the accumulation-output belt β_B).
    pub fn append(mmr: &mut Mmr, leaf: OpaqueHash) {
        append_with(&mut mmr.peaks, leaf, keccak_256);
    }

    /// The Keccak-256 super-peak of `mmr`: the beefy root of a block.
    pub fn super_peak(mmr: &Mmr) -> OpaqueHash {
        super_peak_with(&mmr.peaks, keccak_256)
    }
}

/// β† (GP 7.5): `prior` with the newest entry's state root set to `parent_state_root`.
pub fn with_parent_state_root(prior: &RecentBlocks, parent_state_root: StateRoot) -> RecentBlocks {
    let mut dagger = prior.clone();
    if let Some(last) = dagger.history.last_mut() {
        last.state_root = parent_state_root;
    }
    dagger
}

/// β' from β† (GP 7.6–7.8): appends `accumulate_root` to the belt and pushes this block's
/// entry (its beefy root is the new belt's super-peak, its state root zero until the next
/// block), keeping the newest H (`recent_history_size`) entries. The reported packages are
/// a dictionary, kept sorted by package hash.
pub fn append_block(
    params: &Params,
    dagger: &RecentBlocks,
    header_hash: OpaqueHash,
    accumulate_root: OpaqueHash,
    reported: &[ReportedWorkPackage],
) -> RecentBlocks {
    let mut mmr = dagger.mmr.clone();
    mmr::append(&mut mmr, accumulate_root);
    let mut reported = reported.to_vec();
    reported.sort_by_key(|p| p.hash);
    reported.dedup_by_key(|p| p.hash);
    let entry = BlockInfo {
        header_hash,
        beefy_root: mmr::super_peak(&mmr),
        state_root: StateRoot::ZERO,
        reported,
    };
    let keep = (params.recent_history_size as usize).saturating_sub(1);
    let skip = dagger.history.len().saturating_sub(keep);
    let mut history: Vec<BlockInfo> = dagger.history[skip..].to_vec();
    history.push(entry);
    RecentBlocks { history, mmr }
}

/// The whole recent-history transition of one block: β ↦ β' (GP 7.5–7.8).
pub fn transition(params: &Params, prior: &RecentBlocks, input: &HistoryInput) -> RecentBlocks {
    let dagger = with_parent_state_root(prior, input.parent_state_root);
    append_block(
        params,
        &dagger,
        input.header_hash,
        input.accumulate_root,
        &input.work_packages,
    )
}

/// The packages reported by a guarantees extrinsic: `{(g_r)_s.h ↦ (g_r)_s.e | g ∈ E_G}`,
/// sorted by package hash.
pub fn reported_packages(guarantees: &GuaranteesExtrinsic) -> Vec<ReportedWorkPackage> {
    let mut out: Vec<ReportedWorkPackage> = guarantees
        .iter()
        .map(|g| ReportedWorkPackage {
            hash: g.report.package_spec.hash,
            exports_root: g.report.package_spec.exports_root,
        })
        .collect();
    out.sort_by_key(|p| p.hash);
    out.dedup_by_key(|p| p.hash);
    out
}

/// r (GP 7.6): the Keccak well-balanced Merkle root `M_B([E_4(s) ++ h | (s, h) ∈ θ'], H_K)` of
/// the accumulation outputs θ' (service, output hash), in the given (service) order.
pub fn accumulate_root(outputs: &[(ServiceId, OpaqueHash)]) -> OpaqueHash {
    let leaves: Vec<[u8; 36]> = outputs
        .iter()
        .map(|(s, h)| {
            let mut leaf = [0u8; 36];
            leaf[..4].copy_from_slice(&s.to_le_bytes());
            leaf[4..].copy_from_slice(h.as_bytes());
            leaf
        })
        .collect();
    OpaqueHash(jam_state::merkle::merkle_wb(&leaves, keccak_256))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_state::types::Mmr;

    fn h(b: u8) -> OpaqueHash {
        OpaqueHash([b; 32])
    }

    fn cat(a: &OpaqueHash, b: &OpaqueHash) -> OpaqueHash {
        let mut v = a.to_vec();
        v.extend_from_slice(b.as_bytes());
        OpaqueHash(keccak_256(&v))
    }

    #[test]
    fn mmr_append_carries_like_binary_addition() {
        let mut m = Mmr::default();
        mmr::append(&mut m, h(1));
        assert_eq!(m.peaks, vec![Some(h(1))]);
        mmr::append(&mut m, h(2));
        assert_eq!(m.peaks, vec![None, Some(cat(&h(1), &h(2)))]);
        mmr::append(&mut m, h(3));
        assert_eq!(m.peaks, vec![Some(h(3)), Some(cat(&h(1), &h(2)))]);
        mmr::append(&mut m, h(4));
        let top = cat(&cat(&h(1), &h(2)), &cat(&h(3), &h(4)));
        assert_eq!(m.peaks, vec![None, None, Some(top)]);
    }

    #[test]
    fn super_peak_folds_from_the_lowest_peak() {
        assert_eq!(mmr::super_peak(&Mmr::default()), OpaqueHash::ZERO);
        let one = Mmr {
            peaks: vec![None, Some(h(7))],
        };
        assert_eq!(mmr::super_peak(&one), h(7));
        let three = Mmr {
            peaks: vec![Some(h(1)), None, Some(h(2)), Some(h(3))],
        };
        let mut v = b"peak".to_vec();
        v.extend_from_slice(h(1).as_bytes());
        v.extend_from_slice(h(2).as_bytes());
        let inner = OpaqueHash(keccak_256(&v));
        let mut v = b"peak".to_vec();
        v.extend_from_slice(inner.as_bytes());
        v.extend_from_slice(h(3).as_bytes());
        assert_eq!(mmr::super_peak(&three), OpaqueHash(keccak_256(&v)));
    }

    #[test]
    fn history_keeps_the_newest_h_entries() {
        let p = Params::tiny();
        let mut beta = RecentBlocks::default();
        for i in 0..(p.recent_history_size as u8 + 3) {
            let input = HistoryInput {
                header_hash: h(i),
                parent_state_root: h(100 + i),
                accumulate_root: h(200 + i),
                work_packages: vec![],
            };
            beta = transition(&p, &beta, &input);
            assert!(beta.history.len() <= p.recent_history_size as usize);
            assert_eq!(beta.history.last().unwrap().header_hash, h(i));
            assert_eq!(beta.history.last().unwrap().state_root, StateRoot::ZERO);
            assert_eq!(
                beta.history.last().unwrap().beefy_root,
                mmr::super_peak(&beta.mmr)
            );
        }
        let n = beta.history.len();
        assert_eq!(n, p.recent_history_size as usize);
        // The entry before the newest got the parent state root given with the newest.
        let last_in = p.recent_history_size as u8 + 2;
        assert_eq!(beta.history[n - 2].state_root, h(100 + last_in));
    }
}
