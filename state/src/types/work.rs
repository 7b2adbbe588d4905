//! Work packages, items, digests and reports (GP v0.7.2 §11.1, §14.3, C.24–C.29): refine context,
//! authorizer, import/extrinsic specs, `WorkItem`, `WorkPackage`, `WorkExecResult`, `RefineLoad`,
//! `WorkResult` (work digest), `WorkPackageSpec` (availability spec), `WorkReport`.

use super::primitives::*;
use crate::codec::{Bytes, CodecError, CodecErrorKind, Decode, Encode, Reader};
use crate::hash::blake2b_256;
use crate::jam_codec;
use serde::{Deserialize, Serialize};

jam_codec! {
    /// Refinement context (GP 11.4, `C`).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct RefineContext {
        pub anchor: HeaderHash,
        pub state_root: StateRoot,
        pub beefy_root: BeefyRoot,
        pub lookup_anchor: HeaderHash,
        pub lookup_anchor_slot: TimeSlot,
        pub prerequisites: Vec<OpaqueHash>,
    }
}

jam_codec! {
    /// An authorizer: code hash and configuration.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Authorizer {
        pub code_hash: OpaqueHash,
        pub params: Bytes,
    }
}

jam_codec! {
    /// A segment import: segment-tree root and segment index.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct ImportSpec {
        pub tree_root: OpaqueHash,
        pub index: u16,
    }
}

jam_codec! {
    /// An extrinsic blob reference: hash and length.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct ExtrinsicSpec {
        pub hash: OpaqueHash,
        pub len: u32,
    }
}

jam_codec! {
    /// A work item (GP 14.3, `W`).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct WorkItem {
        pub service: ServiceId,
        pub code_hash: OpaqueHash,
        pub refine_gas_limit: Gas,
        pub accumulate_gas_limit: Gas,
        pub export_count: u16,
        pub payload: Bytes,
        pub import_segments: Vec<ImportSpec>,
        pub extrinsic: Vec<ExtrinsicSpec>,
    }
}

jam_codec! {
    /// A work package (GP 14.2, `P`).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct WorkPackage {
        pub auth_code_host: ServiceId,
        pub auth_code_hash: OpaqueHash,
        pub context: RefineContext,
        pub authorization: Bytes,
        pub authorizer_config: Bytes,
        pub items: Vec<WorkItem>,
    }
}

/// Result of refining a work item (GP 11.7, `E`). JSON: `{"ok": "0x.."}` or `{"panic": null}` etc.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WorkExecResult {
    /// 0: output blob.
    Ok(Bytes),
    /// 1: ∞, out of gas.
    OutOfGas,
    /// 2: ☇, panic.
    Panic,
    /// 3: ⊚, bad exports count.
    BadExports,
    /// 4: BAD, code not available / invalid.
    BadCode,
    /// 5: BIG, code too large.
    CodeOversize,
}

impl Default for WorkExecResult {
    fn default() -> Self {
        WorkExecResult::Ok(Bytes::default())
    }
}

impl WorkExecResult {
    /// The one-byte discriminant.
    pub fn tag(&self) -> u8 {
        match self {
            WorkExecResult::Ok(_) => 0,
            WorkExecResult::OutOfGas => 1,
            WorkExecResult::Panic => 2,
            WorkExecResult::BadExports => 3,
            WorkExecResult::BadCode => 4,
            WorkExecResult::CodeOversize => 5,
        }
    }
    /// The JSON key.
    pub fn name(&self) -> &'static str {
        match self {
            WorkExecResult::Ok(_) => "ok",
            WorkExecResult::OutOfGas => "out_of_gas",
            WorkExecResult::Panic => "panic",
            WorkExecResult::BadExports => "bad_exports",
            WorkExecResult::BadCode => "bad_code",
            WorkExecResult::CodeOversize => "code_oversize",
        }
    }
    fn error_from_name(name: &str) -> Option<Self> {
        Some(match name {
            "out_of_gas" => WorkExecResult::OutOfGas,
            "panic" => WorkExecResult::Panic,
            "bad_exports" => WorkExecResult::BadExports,
            "bad_code" => WorkExecResult::BadCode,
            "code_oversize" => WorkExecResult::CodeOversize,
            _ => return None,
        })
    }
    pub fn is_ok(&self) -> bool {
        matches!(self, WorkExecResult::Ok(_))
    }
}

impl Encode for WorkExecResult {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(self.tag());
        if let WorkExecResult::Ok(b) = self {
            b.encode_to(out)
        }
    }
}

impl Decode for WorkExecResult {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let start = r.position();
        Ok(match r.read_u8()? {
            0 => WorkExecResult::Ok(Bytes::decode(r).map_err(|e| e.at_field("ok"))?),
            1 => WorkExecResult::OutOfGas,
            2 => WorkExecResult::Panic,
            3 => WorkExecResult::BadExports,
            4 => WorkExecResult::BadCode,
            5 => WorkExecResult::CodeOversize,
            value => {
                return Err(CodecError::new(
                    CodecErrorKind::InvalidDiscriminant {
                        ty: "WorkExecResult",
                        value,
                    },
                    start,
                ))
            }
        })
    }
}

impl Serialize for WorkExecResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        match self {
            WorkExecResult::Ok(b) => m.serialize_entry("ok", b)?,
            other => m.serialize_entry(other.name(), &())?,
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for WorkExecResult {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let m = std::collections::BTreeMap::<String, serde_json::Value>::deserialize(d)?;
        let mut it = m.into_iter();
        let (k, v) = match (it.next(), it.next()) {
            (Some(kv), None) => kv,
            _ => {
                return Err(D::Error::custom(
                    "work result: expected an object with one key",
                ))
            }
        };
        if k == "ok" {
            return Bytes::deserialize(v)
                .map(WorkExecResult::Ok)
                .map_err(D::Error::custom);
        }
        WorkExecResult::error_from_name(&k)
            .ok_or_else(|| D::Error::custom(format!("unknown work result {k:?}")))
    }
}

jam_codec! {
    /// Refinement resource usage of a work item (all fields natural-encoded).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct RefineLoad {
        pub gas_used: Gas => compact,
        pub imports: u16 => compact,
        pub extrinsic_count: u16 => compact,
        pub extrinsic_size: u32 => compact,
        pub exports: u16 => compact,
    }
}

jam_codec! {
    /// Work digest: the result of one work item (GP 11.6, `D`).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct WorkResult {
        pub service_id: ServiceId,
        pub code_hash: OpaqueHash,
        pub payload_hash: OpaqueHash,
        pub accumulate_gas: Gas,
        pub result: WorkExecResult,
        pub refine_load: RefineLoad,
    }
}

/// GP name of [`WorkResult`].
pub type WorkDigest = WorkResult;

jam_codec! {
    /// Availability specification of a work package (GP 11.5, `Y`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct WorkPackageSpec {
        pub hash: WorkPackageHash,
        pub length: u32,
        pub erasure_root: ErasureRoot,
        pub exports_root: ExportsRoot,
        pub exports_count: u16,
    }
}

/// GP name of [`WorkPackageSpec`].
pub type AvailabilitySpec = WorkPackageSpec;

jam_codec! {
    /// Work-package hash to segment-tree root.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    pub struct SegmentRootLookupItem {
        pub work_package_hash: WorkPackageHash,
        pub segment_tree_root: OpaqueHash,
    }
}

/// Segment-root lookup dictionary, as sorted (hash, root) pairs.
pub type SegmentRootLookup = Vec<SegmentRootLookupItem>;

jam_codec! {
    /// A work report (GP 11.2, `R`). `core_index` and `auth_gas_used` are natural-encoded.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct WorkReport {
        pub package_spec: WorkPackageSpec,
        pub context: RefineContext,
        pub core_index: CoreIndex => compact,
        pub authorizer_hash: AuthorizerHash,
        pub auth_gas_used: Gas => compact,
        pub auth_output: Bytes,
        pub segment_root_lookup: SegmentRootLookup,
        pub results: Vec<WorkResult>,
    }
}

impl WorkPackage {
    /// H(E(p)): the work-package hash.
    pub fn hash(&self) -> WorkPackageHash {
        OpaqueHash(blake2b_256(&self.encode()))
    }
}

impl WorkReport {
    /// H(E(r)): the work-report hash.
    pub fn hash(&self) -> WorkReportHash {
        OpaqueHash(blake2b_256(&self.encode()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode_exact;
    use crate::params::Params;

    #[test]
    fn exec_result_tags_and_json() {
        let p = Params::tiny();
        let all = [
            WorkExecResult::Ok(Bytes(vec![1, 2])),
            WorkExecResult::OutOfGas,
            WorkExecResult::Panic,
            WorkExecResult::BadExports,
            WorkExecResult::BadCode,
            WorkExecResult::CodeOversize,
        ];
        for (i, r) in all.iter().enumerate() {
            let b = r.encode();
            assert_eq!(b[0] as usize, i);
            assert_eq!(&decode_exact::<WorkExecResult>(&b, &p).unwrap(), r);
            let j = serde_json::to_value(r).unwrap();
            assert_eq!(&serde_json::from_value::<WorkExecResult>(j).unwrap(), r);
        }
        assert_eq!(
            serde_json::to_string(&WorkExecResult::Panic).unwrap(),
            r#"{"panic":null}"#
        );
        assert!(decode_exact::<WorkExecResult>(&[6], &p).is_err());
    }
}
