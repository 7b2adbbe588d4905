//! STF vectors: preimages (`stf/preimages/{tiny,full}/*.bin`, schema `preimages.asn`; GP section 12.4).

use super::vector::{self, compare, load, ErrorNames};
use crate::{CaseOutcome, CaseResult};
use jam_consensus::preimages::{self, PreimageState};
use jam_state::codec::Bytes;
use jam_state::jam_codec;
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

/// `ErrorCode` of `preimages.asn`, in code order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errors;

impl ErrorNames for Errors {
    const NAMES: &'static [&'static str] = &["preimage_unneeded", "preimages_not_sorted_unique"];
}

/// `Output ::= CHOICE { ok OutputData, err ErrorCode }`.
pub type Output = vector::Output<(), Errors>;

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
    let (_, case) = load::<TestCase>(path)?;
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
        Err(e) => (Output::err(e.code()), pre.clone()),
    };
    compare("output", &case.output, &output)?;
    compare("post_state", &case.post_state, &post)
}
