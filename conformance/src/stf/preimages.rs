//! STF vectors: preimages (`stf/preimages/{tiny,full}/*.bin`, schema `preimages.asn`; GP section 12.4).

use crate::diff::first_diff;
use crate::{CaseError, CaseOutcome, CaseResult};
use jam_consensus::preimages::{self, PreimageState, PreimagesError};
use jam_state::codec::{decode_exact, Bytes, CodecError, CodecErrorKind, Decode, Encode, Reader};
use jam_state::jam_codec;
use jam_state::params::Params;
use jam_state::types::{OpaqueHash, PreimagesExtrinsic, ServiceId, ServicesStatistics, TimeSlot};
use serde::{Deserialize, Serialize};
use std::path::Path;

jam_codec! {
    /// a_p entry.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PreimagesBlobMapEntry {
        pub hash: OpaqueHash,
        pub blob: Bytes,
    }
}

jam_codec! {
    /// a_l key.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
    pub struct PreimagesRequestsMapKey {
        pub hash: OpaqueHash,
        pub length: u32,
    }
}

jam_codec! {
    /// a_l entry: the slots at which the preimage was provided / forgotten.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PreimagesRequestsMapEntry {
        pub key: PreimagesRequestsMapKey,
        pub value: Vec<TimeSlot>,
    }
}

jam_codec! {
    /// The parts of a service account this STF reads and writes.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ServiceAccount {
        pub preimage_blobs: Vec<PreimagesBlobMapEntry>,
        pub preimage_requests: Vec<PreimagesRequestsMapEntry>,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ServiceAccountMapEntry {
        pub id: ServiceId,
        pub data: ServiceAccount,
    }
}

jam_codec! {
    /// The state components the preimages STF reads and writes.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct State {
        pub accounts: Vec<ServiceAccountMapEntry>,
        pub statistics: ServicesStatistics,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Input {
        pub preimages: PreimagesExtrinsic,
        pub slot: TimeSlot,
    }
}

/// The vector's `ErrorCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    PreimageUnneeded,
    PreimagesNotSortedUnique,
}

impl ErrorCode {
    fn of(e: PreimagesError) -> Self {
        match e {
            PreimagesError::PreimageUnneeded => ErrorCode::PreimageUnneeded,
            PreimagesError::PreimagesNotSortedUnique => ErrorCode::PreimagesNotSortedUnique,
        }
    }
}

/// `Output ::= CHOICE { ok NULL, err ErrorCode }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    Ok(()),
    Err(ErrorCode),
}

impl Encode for Output {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            Output::Ok(()) => out.push(0),
            Output::Err(e) => {
                out.push(1);
                out.push(match e {
                    ErrorCode::PreimageUnneeded => 0,
                    ErrorCode::PreimagesNotSortedUnique => 1,
                });
            }
        }
    }
}

impl Decode for Output {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let at = r.position();
        let bad = |value| {
            CodecError::new(
                CodecErrorKind::InvalidDiscriminant {
                    ty: "Output",
                    value,
                },
                at,
            )
        };
        match r.read_u8()? {
            0 => Ok(Output::Ok(())),
            1 => match r.read_u8()? {
                0 => Ok(Output::Err(ErrorCode::PreimageUnneeded)),
                1 => Ok(Output::Err(ErrorCode::PreimagesNotSortedUnique)),
                v => Err(bad(v)),
            },
            v => Err(bad(v)),
        }
    }
}

jam_codec! {
    /// One preimages case.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TestCase {
        pub input: Input,
        pub pre_state: State,
        pub output: Output,
        pub post_state: State,
    }
}

/// The vectors' accounts as a [`PreimageState`] (entries kept sorted by key).
#[derive(Clone, Debug)]
struct Accounts(Vec<ServiceAccountMapEntry>);

impl Accounts {
    fn account(&self, service: ServiceId) -> Option<&ServiceAccount> {
        self.0.iter().find(|a| a.id == service).map(|a| &a.data)
    }
}

impl PreimageState for Accounts {
    fn has_preimage(&self, service: ServiceId, hash: &OpaqueHash) -> bool {
        self.account(service)
            .is_some_and(|a| a.preimage_blobs.iter().any(|b| b.hash == *hash))
    }

    fn lookup(&self, service: ServiceId, hash: &OpaqueHash, length: u32) -> Option<Vec<TimeSlot>> {
        let key = PreimagesRequestsMapKey {
            hash: *hash,
            length,
        };
        self.account(service)?
            .preimage_requests
            .iter()
            .find(|r| r.key == key)
            .map(|r| r.value.clone())
    }

    fn provide(&mut self, service: ServiceId, hash: OpaqueHash, blob: &[u8], slot: TimeSlot) {
        let Some(acc) = self.0.iter_mut().find(|a| a.id == service) else {
            return;
        };
        let a = &mut acc.data;
        let entry = PreimagesBlobMapEntry {
            hash,
            blob: blob.into(),
        };
        match a.preimage_blobs.binary_search_by_key(&hash, |b| b.hash) {
            Ok(i) => a.preimage_blobs[i] = entry,
            Err(i) => a.preimage_blobs.insert(i, entry),
        }
        let key = PreimagesRequestsMapKey {
            hash,
            length: u32::try_from(blob.len()).unwrap_or(u32::MAX),
        };
        let entry = PreimagesRequestsMapEntry {
            key,
            value: vec![slot],
        };
        match a.preimage_requests.binary_search_by_key(&key, |r| r.key) {
            Ok(i) => a.preimage_requests[i] = entry,
            Err(i) => a.preimage_requests.insert(i, entry),
        }
    }
}

/// Runs one `.bin` case file.
pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    vec![CaseOutcome::of_file(path, run_case(path))]
}

fn run_case(path: &Path) -> CaseResult {
    let params = Params::from_vector_path(path)
        .ok_or_else(|| CaseError::failed("no `tiny` or `full` in the vector path"))?;
    let bytes = std::fs::read(path).map_err(|e| CaseError::failed(format!("read: {e}")))?;
    let case: TestCase =
        decode_exact(&bytes, &params).map_err(|e| CaseError::failed(format!("decode: {e}")))?;
    let pre = &case.pre_state;
    let (output, post) = match preimages::transition(
        &Accounts(pre.accounts.clone()),
        &pre.statistics,
        &case.input.preimages,
        case.input.slot,
    ) {
        Ok((accounts, statistics)) => (
            Output::Ok(()),
            State {
                accounts: accounts.0,
                statistics,
            },
        ),
        Err(e) => (Output::Err(ErrorCode::of(e)), pre.clone()),
    };
    compare("output", &case.output, &output)?;
    compare("post_state", &case.post_state, &post)
}

fn compare<T: Serialize + PartialEq>(prefix: &str, expected: &T, got: &T) -> CaseResult {
    if expected == got {
        return Ok(());
    }
    let e = serde_json::to_value(expected).map_err(CaseError::failed)?;
    let g = serde_json::to_value(got).map_err(CaseError::failed)?;
    let mut m = first_diff(&e, &g).unwrap_or_else(|| crate::Mismatch {
        field: String::new(),
        expected: "equal JSON".into(),
        got: "unequal values".into(),
    });
    m.field = if m.field == "<root>" || m.field.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}.{}", m.field)
    };
    Err(CaseError::Mismatch(m))
}
