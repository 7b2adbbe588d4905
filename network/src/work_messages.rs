//! Guaranteeing, availability and auditing messages: CE 133–148 (JAMNP-S § "CE 133" – § "CE 148").
//!
//! Messages with a fixed layout are codec types; messages whose layout depends on an earlier
//! message or on the chain parameters (extrinsic blobs, segment shards, audit evidence) have
//! `split_*` / `decode_*` helpers that take the earlier data.

use crate::messages::Concat;
use jam_state::codec::{decode_exact, CodecError, CodecErrorKind, Decode, Encode, Reader};
use jam_state::jam_codec;
use jam_state::params::Params;
use jam_state::types::{
    AvailabilityBitfield, BandersnatchVrfSignature, CoreIndex, Ed25519Signature, ErasureRoot,
    HeaderHash, OpaqueHash, ServiceId, TimeSlot, ValidatorIndex, ValidatorSignature, WorkPackage,
    WorkPackageHash, WorkReportHash,
};

/// `Shard Index = u16`.
pub type ShardIndex = u16;
/// `Segment Index = u16`.
pub type SegmentIndex = u16;
/// `Import-Proof = len++[Hash]`.
pub type ImportProof = Vec<OpaqueHash>;

/// CE 133: the first message (`Core Index ++ Work-Package`) is limited to this many bytes.
pub const MAX_WORK_PACKAGE_SUBMISSION: usize = 2 + 200 * 1024;
/// CE 146: the `Work-Package` message is limited to this many bytes.
pub const MAX_WORK_PACKAGE: usize = 200 * 1024;
/// W_M: the most segments one CE 148 stream may request (2·W_M shards for CE 139/140).
pub const MAX_IMPORTS: usize = 3072;

jam_codec! {
    /// `Work-Package Hash ++ Segments-Root`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct SegmentsRootMapping {
        pub work_package_hash: WorkPackageHash,
        pub segments_root: OpaqueHash,
    }
}

// ---- CE 133 / CE 146 / CE 134 ----

jam_codec! {
    /// CE 133 first message: `Core Index ++ Work-Package`. Second message: the extrinsic blobs
    /// back to back (see [`split_extrinsics`]).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct WorkPackageSubmission {
        pub core: CoreIndex,
        pub package: WorkPackage,
    }
}

jam_codec! {
    /// CE 134 / CE 146 first message: `Core Index ++ Segments-Root Mappings`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct CoreMappings {
        pub core: CoreIndex,
        pub mappings: Vec<SegmentsRootMapping>,
    }
}

/// Splits `[Extrinsic]` (blobs back to back) by the lengths the work-package declares; the
/// message size must equal their sum.
pub fn split_extrinsics(package: &WorkPackage, data: &[u8]) -> Result<Vec<Vec<u8>>, CodecError> {
    let lens: Vec<usize> = package
        .items
        .iter()
        .flat_map(|i| i.extrinsic.iter().map(|x| x.len as usize))
        .collect();
    let total: usize = lens.iter().sum();
    if total != data.len() {
        return Err(CodecError::new(
            CodecErrorKind::Invalid("extrinsic data size differs from the work-package's"),
            0,
        ));
    }
    let mut at = 0;
    Ok(lens
        .into_iter()
        .map(|l| {
            at += l;
            data[at - l..at].to_vec()
        })
        .collect())
}

/// Splits a message of fixed-size items (segments, segment shards) of `size` bytes each.
pub fn split_fixed(data: &[u8], size: usize) -> Result<Vec<Vec<u8>>, CodecError> {
    if size == 0 || !data.len().is_multiple_of(size) {
        return Err(CodecError::new(
            CodecErrorKind::Invalid("message is not a whole number of items"),
            0,
        ));
    }
    Ok(data.chunks(size).map(<[u8]>::to_vec).collect())
}

/// Segment shard size W_G / R = 2·W_P (12 bytes with 1023 validators, 2052 with 6).
pub fn segment_shard_size(params: &Params) -> usize {
    2 * params.ec_pieces_per_segment as usize
}

/// Shard assignment (§ "Shard assignment"): validator `v` holds shard (c·R + v) mod V of
/// reports from core `c`, R being the recovery threshold.
pub fn assigned_shard(
    core: CoreIndex,
    validator: ValidatorIndex,
    recovery: usize,
    validators: usize,
) -> ShardIndex {
    ((core as usize * recovery + validator as usize) % validators.max(1)) as ShardIndex
}

jam_codec! {
    /// CE 134 response: `Work-Report Hash ++ Ed25519 Signature`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct WorkReportSignature {
        pub report_hash: WorkReportHash,
        pub signature: Ed25519Signature,
    }
}

// CE 135 (guaranteed work-report) is `jam_state::types::ReportGuarantee`;
// CE 136 is `Work-Report Hash` → `jam_state::types::WorkReport`.

// ---- CE 137 / 138 / 147: shards and bundles ----

jam_codec! {
    /// CE 137 / CE 138 request: `Erasure-Root ++ Shard Index`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct ShardRequest {
        pub erasure_root: ErasureRoot,
        pub shard_index: ShardIndex,
    }
}

/// One step of a justification: `0 ++ Hash`, `1 ++ Hash ++ Hash`, or (CE 140 only)
/// `2 ++ Segment Shard`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum JustificationStep {
    Hash(OpaqueHash),
    Pair(OpaqueHash, OpaqueHash),
    SegmentShard(Vec<u8>),
}

impl Encode for JustificationStep {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            JustificationStep::Hash(h) => {
                out.push(0);
                h.encode_to(out)
            }
            JustificationStep::Pair(a, b) => {
                out.push(1);
                a.encode_to(out);
                b.encode_to(out)
            }
            JustificationStep::SegmentShard(s) => {
                out.push(2);
                out.extend_from_slice(s)
            }
        }
    }
}

impl Decode for JustificationStep {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let at = r.position();
        match r.read_u8()? {
            0 => Ok(JustificationStep::Hash(OpaqueHash::decode(r)?)),
            1 => Ok(JustificationStep::Pair(
                OpaqueHash::decode(r)?,
                OpaqueHash::decode(r)?,
            )),
            2 => {
                let n = segment_shard_size(r.params());
                Ok(JustificationStep::SegmentShard(r.take(n)?.to_vec()))
            }
            value => Err(CodecError::new(
                CodecErrorKind::InvalidDiscriminant {
                    ty: "JustificationStep",
                    value,
                },
                at,
            )),
        }
    }
}

/// `Justification`: its steps back to back (a whole message).
pub type Justification = Concat<JustificationStep>;

/// CE 137 response: bundle shard, segment shards, justification (three messages).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardDistribution {
    pub bundle_shard: Vec<u8>,
    pub segment_shards: Vec<Vec<u8>>,
    pub justification: Vec<JustificationStep>,
}

/// CE 138 response: bundle shard and justification (two messages).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditShard {
    pub bundle_shard: Vec<u8>,
    pub justification: Vec<JustificationStep>,
}

// CE 147: request `Erasure-Root`, response `Work-Package Bundle` (raw bytes).

// ---- CE 139 / 140 / 148: segments ----

jam_codec! {
    /// CE 139/140 request item: `Erasure-Root ++ Shard Index ++ len++[Segment Index]`
    /// (the request message is `Concat` of these).
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct SegmentShardRequest {
        pub erasure_root: ErasureRoot,
        pub shard_index: ShardIndex,
        pub segment_indices: Vec<SegmentIndex>,
    }
}

jam_codec! {
    /// CE 148 request item: `Segments-Root ++ len++[Segment Index]` (message: `Concat` of these).
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct SegmentRequest {
        pub segments_root: OpaqueHash,
        pub segment_indices: Vec<SegmentIndex>,
    }
}

/// Total segment indices in a CE 139/140 request (must not exceed 2·W_M).
pub fn segment_shard_request_count(req: &[SegmentShardRequest]) -> usize {
    req.iter().map(|r| r.segment_indices.len()).sum()
}

// ---- CE 141: assurance ----

jam_codec! {
    /// `Header Hash (Anchor) ++ Bitfield ++ Ed25519 Signature` (the validator index is implied
    /// by the connection).
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct Assurance {
        pub anchor: HeaderHash,
        pub bitfield: AvailabilityBitfield,
        pub signature: Ed25519Signature,
    }
}

// ---- CE 142 / 143: preimages ----

jam_codec! {
    /// `Service ID ++ Hash ++ Preimage Length`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct PreimageAnnouncement {
        pub service: ServiceId,
        pub hash: OpaqueHash,
        pub length: u32,
    }
}

// CE 143: request `Hash`, response the preimage (raw bytes).

// ---- CE 144: audit announcement ----

jam_codec! {
    /// `Core Index ++ Work-Report Hash`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct AuditedReport {
        pub core: CoreIndex,
        pub report_hash: WorkReportHash,
    }
}

jam_codec! {
    /// `Announcement = len++[Core Index ++ Work-Report Hash] ++ Ed25519 Signature`.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct AuditAnnouncementBody {
        pub reports: Vec<AuditedReport>,
        pub signature: Ed25519Signature,
    }
}

jam_codec! {
    /// CE 144 first message: `Header Hash ++ Tranche ++ Announcement`.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct AuditAnnouncement {
        pub header_hash: HeaderHash,
        pub tranche: u8,
        pub announcement: AuditAnnouncementBody,
    }
}

jam_codec! {
    /// `No-Show = Validator Index ++ Announcement` (from the previous tranche).
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct NoShow {
        pub validator: ValidatorIndex,
        pub announcement: AuditAnnouncementBody,
    }
}

jam_codec! {
    /// One work-report's evidence in a later tranche: `s_n(w) ++ len++[No-Show]`.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct ReportEvidence {
        pub signature: BandersnatchVrfSignature,
        pub no_shows: Vec<NoShow>,
    }
}

/// CE 144 second message: depends on the tranche of the first.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AuditEvidence {
    /// Tranche 0: the Bandersnatch signature s_0.
    First(BandersnatchVrfSignature),
    /// Later tranches: one entry per announced work-report.
    Subsequent(Vec<ReportEvidence>),
}

impl Encode for AuditEvidence {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            AuditEvidence::First(s) => s.encode_to(out),
            AuditEvidence::Subsequent(v) => {
                for e in v {
                    e.encode_to(out)
                }
            }
        }
    }
}

impl AuditEvidence {
    /// Decodes the evidence message for an announcement of `tranche`.
    pub fn decode_for(tranche: u8, data: &[u8], params: &Params) -> Result<Self, CodecError> {
        if tranche == 0 {
            decode_exact(data, params).map(AuditEvidence::First)
        } else {
            decode_exact::<Concat<ReportEvidence>>(data, params)
                .map(|c| AuditEvidence::Subsequent(c.0))
        }
    }
}

// ---- CE 145: judgment publication ----

/// `Validity`: 0 invalid, 1 valid (a single byte, as `bool`).
pub type Validity = bool;

jam_codec! {
    /// `Epoch Index ++ Validator Index ++ Validity ++ Work-Report Hash ++ Ed25519 Signature`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Judgment {
        pub epoch: u32,
        pub validator: ValidatorIndex,
        pub valid: Validity,
        pub report_hash: WorkReportHash,
        pub signature: Ed25519Signature,
    }
}

jam_codec! {
    /// `Guarantee = Slot ++ len++[Validator Index ++ Ed25519 Signature]` (2 or 3 signatures);
    /// sent after a negative judgment only.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct JudgmentGuarantee {
        pub slot: TimeSlot,
        pub signatures: Vec<ValidatorSignature>,
    }
}

impl JudgmentGuarantee {
    /// Decodes and checks the 2-or-3 bound.
    pub fn decode_checked(data: &[u8], params: &Params) -> Result<Self, CodecError> {
        let g: Self = decode_exact(data, params)?;
        if !(2..=3).contains(&g.signatures.len()) {
            return Err(CodecError::new(
                CodecErrorKind::Invalid("a guarantee has 2 or 3 signatures"),
                4,
            ));
        }
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_state::types::{ExtrinsicSpec, WorkItem};

    #[test]
    fn extrinsics_split_by_declared_lengths() {
        let mut wp = WorkPackage::default();
        let item = WorkItem {
            extrinsic: vec![
                ExtrinsicSpec {
                    hash: OpaqueHash::ZERO,
                    len: 2,
                },
                ExtrinsicSpec {
                    hash: OpaqueHash::ZERO,
                    len: 3,
                },
            ],
            ..Default::default()
        };
        wp.items.push(item);
        assert_eq!(
            split_extrinsics(&wp, &[1, 2, 3, 4, 5]).unwrap(),
            vec![vec![1, 2], vec![3, 4, 5]]
        );
        assert!(split_extrinsics(&wp, &[1, 2, 3, 4]).is_err());
        let sub = WorkPackageSubmission {
            core: 1,
            package: wp,
        };
        let p = Params::tiny();
        assert_eq!(
            decode_exact::<WorkPackageSubmission>(&sub.encode(), &p).unwrap(),
            sub
        );
    }

    #[test]
    fn shard_assignment() {
        // V = 6, R = 2: core 1 shifts by 2.
        assert_eq!(assigned_shard(0, 5, 2, 6), 5);
        assert_eq!(assigned_shard(1, 5, 2, 6), 1);
        assert_eq!(assigned_shard(2, 0, 342, 1023), 684);
    }

    #[test]
    fn justification_steps() {
        let p = Params::tiny();
        let shard = vec![9u8; segment_shard_size(&p)];
        let j = Concat(vec![
            JustificationStep::Hash(OpaqueHash([1; 32])),
            JustificationStep::Pair(OpaqueHash([2; 32]), OpaqueHash([3; 32])),
            JustificationStep::SegmentShard(shard),
        ]);
        let b = j.encode();
        assert_eq!(b.len(), 33 + 65 + 1 + 2052);
        assert_eq!(decode_exact::<Justification>(&b, &p).unwrap(), j);
        assert!(decode_exact::<Justification>(&[3], &p).is_err());
        assert_eq!(segment_shard_size(&Params::full()), 12);
    }

    #[test]
    fn audit_evidence_by_tranche() {
        let p = Params::tiny();
        let body = AuditAnnouncementBody {
            reports: vec![AuditedReport {
                core: 1,
                report_hash: OpaqueHash([4; 32]),
            }],
            signature: Ed25519Signature([5; 64]),
        };
        let first = AuditEvidence::First(BandersnatchVrfSignature([6; 96]));
        assert_eq!(
            AuditEvidence::decode_for(0, &first.encode(), &p).unwrap(),
            first
        );
        let later = AuditEvidence::Subsequent(vec![ReportEvidence {
            signature: BandersnatchVrfSignature([7; 96]),
            no_shows: vec![NoShow {
                validator: 3,
                announcement: body,
            }],
        }]);
        assert_eq!(
            AuditEvidence::decode_for(1, &later.encode(), &p).unwrap(),
            later
        );
        assert!(AuditEvidence::decode_for(0, &later.encode(), &p).is_err());
    }

    #[test]
    fn judgment_and_guarantee() {
        let p = Params::tiny();
        let j = Judgment {
            epoch: 1,
            validator: 2,
            valid: false,
            report_hash: OpaqueHash([1; 32]),
            signature: Ed25519Signature([2; 64]),
        };
        assert_eq!(j.encode().len(), 4 + 2 + 1 + 32 + 64);
        let sig = |i| ValidatorSignature {
            validator_index: i,
            signature: Ed25519Signature([i as u8; 64]),
        };
        let g = JudgmentGuarantee {
            slot: 9,
            signatures: vec![sig(0), sig(1)],
        };
        assert_eq!(
            JudgmentGuarantee::decode_checked(&g.encode(), &p).unwrap(),
            g
        );
        let one = JudgmentGuarantee {
            slot: 9,
            signatures: vec![sig(0)],
        };
        assert!(JudgmentGuarantee::decode_checked(&one.encode(), &p).is_err());
        let a = Assurance {
            anchor: OpaqueHash([1; 32]),
            bitfield: AvailabilityBitfield::new(vec![0b01]),
            signature: Ed25519Signature([3; 64]),
        };
        assert_eq!(a.encode().len(), 32 + p.bitfield_bytes() + 64);
        assert_eq!(decode_exact::<Assurance>(&a.encode(), &p).unwrap(), a);
    }
}
