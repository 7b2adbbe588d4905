//! STF vectors: accumulate (`stf/accumulate/{tiny,full}/*.bin`, schema `accumulate.asn`; GP §12).
//!
//! The vectors list each account's storage, preimages and requests explicitly; the adapter puts
//! them into the state-key representation accumulation works on, and compares the posterior the
//! same way (the expected accounts are converted through the same keys).

use super::preimages::{PreimagesBlobMapEntry, PreimagesRequestsMapEntry};
use super::vector::{compare, load};
use crate::{CaseOutcome, CaseResult};
use jam_consensus::accumulate::keys::{
    encode_slots, lookup_key, preimage_key, storage_key, StateKey,
};
use jam_consensus::accumulate::{
    self, AccumulateConfig, AccumulateInput, AccumulateState, PartialState,
};
use jam_state::codec::{Bytes, CodecError, CodecErrorKind, Decode, Encode, Reader};
use jam_state::jam_codec;
use jam_state::params::Params;
use jam_state::types::{
    AccumulatedQueue, AuthQueues, Entropy, OpaqueHash, Privileges, ReadyQueue,
    ServiceActivityRecord, ServiceId, ServiceInfo, ServicesStatistics, ServicesStatisticsMapEntry,
    TimeSlot, ValidatorsData, WorkReport,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

jam_codec! {
    /// a_s entry (unhashed key).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct StorageMapEntry {
        pub key: Bytes,
        pub value: Bytes,
    }
}

jam_codec! {
    /// A service account as the vectors list it.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ServiceAccount {
        pub service: ServiceInfo,
        pub storage: Vec<StorageMapEntry>,
        pub preimage_blobs: Vec<PreimagesBlobMapEntry>,
        pub preimage_requests: Vec<PreimagesRequestsMapEntry>,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct AccountsMapEntry {
        pub id: ServiceId,
        pub data: ServiceAccount,
    }
}

jam_codec! {
    /// The state components of the accumulate vectors.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct State {
        pub slot: TimeSlot,
        pub entropy: Entropy,
        pub ready_queue: ReadyQueue,
        pub accumulated: AccumulatedQueue,
        pub privileges: Privileges,
        pub statistics: ServicesStatistics,
        pub accounts: Vec<AccountsMapEntry>,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Input {
        pub slot: TimeSlot,
        pub reports: Vec<WorkReport>,
    }
}

/// `Output ::= CHOICE { ok OpaqueHash, err NULL }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    Ok(OpaqueHash),
    Err(()),
}

impl Encode for Output {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            Output::Ok(h) => {
                out.push(0);
                h.encode_to(out);
            }
            Output::Err(()) => out.push(1),
        }
    }
}

impl Decode for Output {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let at = r.position();
        match r.read_u8()? {
            0 => Ok(Output::Ok(OpaqueHash::decode(r)?)),
            1 => Ok(Output::Err(())),
            value => Err(CodecError::new(
                CodecErrorKind::InvalidDiscriminant {
                    ty: "Output",
                    value,
                },
                at,
            )),
        }
    }
}

jam_codec! {
    /// One accumulate case.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TestCase {
        pub input: Input,
        pub pre_state: State,
        pub output: Output,
        pub post_state: State,
    }
}

/// The vectors' accounts in the state-key representation.
pub fn accounts_to_state(
    accounts: &[AccountsMapEntry],
) -> (
    BTreeMap<ServiceId, ServiceInfo>,
    BTreeMap<StateKey, Vec<u8>>,
) {
    let mut infos = BTreeMap::new();
    let mut data = BTreeMap::new();
    for a in accounts {
        let s = a.id;
        infos.insert(s, a.data.service);
        for e in &a.data.storage {
            data.insert(storage_key(s, &e.key), e.value.to_vec());
        }
        for e in &a.data.preimage_blobs {
            data.insert(preimage_key(s, &e.hash), e.blob.to_vec());
        }
        for e in &a.data.preimage_requests {
            data.insert(
                lookup_key(s, &e.key.hash, e.key.length),
                encode_slots(&e.value),
            );
        }
    }
    (infos, data)
}

/// A comparable, readable form of the account state (hex keys and values).
#[derive(Debug, PartialEq, Eq, Serialize)]
struct AccountsView {
    accounts: BTreeMap<ServiceId, ServiceInfo>,
    service_data: BTreeMap<String, String>,
}

fn view(
    infos: &BTreeMap<ServiceId, ServiceInfo>,
    data: &BTreeMap<StateKey, Vec<u8>>,
) -> AccountsView {
    AccountsView {
        accounts: infos.clone(),
        service_data: data
            .iter()
            .map(|(k, v)| (hex::encode(k), hex::encode(v)))
            .collect(),
    }
}

/// Comparable rest of the state.
#[derive(Debug, PartialEq, Eq, Serialize)]
struct RestView<'a> {
    slot: TimeSlot,
    entropy: &'a Entropy,
    ready_queue: &'a ReadyQueue,
    accumulated: &'a AccumulatedQueue,
    privileges: &'a Privileges,
    statistics: &'a ServicesStatistics,
}

/// Runs one `.bin` case file.
pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    vec![CaseOutcome::of_file(path, run_case(path))]
}

fn run_case(path: &Path) -> CaseResult {
    let (params, case) = load::<TestCase>(path)?;
    run_case_with(&params, &case, &AccumulateConfig::default())
}

/// Runs a decoded case.
pub fn run_case_with(params: &Params, case: &TestCase, config: &AccumulateConfig) -> CaseResult {
    let pre = &case.pre_state;
    let (accounts, service_data) = accounts_to_state(&pre.accounts);
    let state = AccumulateState {
        partial: PartialState {
            accounts,
            service_data,
            staging: ValidatorsData::filled(params, Default::default()),
            auth_queues: AuthQueues::filled(
                params,
                jam_state::types::AuthQueue::filled(params, OpaqueHash::ZERO),
            ),
            privileges: pre.privileges.clone(),
        },
        ready_queue: pre.ready_queue.clone(),
        accumulated: pre.accumulated.clone(),
    };
    let input = AccumulateInput {
        slot: case.input.slot,
        prior_slot: pre.slot,
        entropy: pre.entropy,
        reports: &case.input.reports,
    };
    let out = accumulate::accumulate(params, config, state, &input);

    compare("output", &case.output, &Output::Ok(out.outputs_root))?;

    let statistics: ServicesStatistics = out
        .statistics
        .iter()
        .map(|(id, s)| ServicesStatisticsMapEntry {
            id: *id,
            record: ServiceActivityRecord {
                accumulate_count: s.count,
                accumulate_gas_used: s.gas_used,
                ..Default::default()
            },
        })
        .collect();
    let post = &case.post_state;
    compare(
        "post_state",
        &RestView {
            slot: post.slot,
            entropy: &post.entropy,
            ready_queue: &post.ready_queue,
            accumulated: &post.accumulated,
            privileges: &post.privileges,
            statistics: &post.statistics,
        },
        &RestView {
            slot: case.input.slot,
            entropy: &pre.entropy,
            ready_queue: &out.state.ready_queue,
            accumulated: &out.state.accumulated,
            privileges: &out.state.partial.privileges,
            statistics: &statistics,
        },
    )?;
    let (exp_infos, exp_data) = accounts_to_state(&post.accounts);
    compare(
        "post_state.accounts",
        &view(&exp_infos, &exp_data),
        &view(&out.state.partial.accounts, &out.state.partial.service_data),
    )
}
