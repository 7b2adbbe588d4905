//! STF vectors: authorizations (`stf/authorizations/{tiny,full}/*.bin`, schema `authorizations.asn`; GP section 8).

use super::vector::{compare, load};
use crate::{CaseOutcome, CaseResult};
use jam_consensus::authorizations;
use jam_state::jam_codec;
use jam_state::params::Params;
use jam_state::types::{AuthPools, AuthQueues, CoreIndex, OpaqueHash, TimeSlot};
use serde::{Deserialize, Serialize};
use std::path::Path;

jam_codec! {
    /// α and φ.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct State {
        pub auth_pools: AuthPools,
        pub auth_queues: AuthQueues,
    }
}

jam_codec! {
    /// The (core, authorizer hash) of one guarantee of E_G.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CoreAuthorizer {
        pub core: CoreIndex,
        pub auth_hash: OpaqueHash,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Input {
        pub slot: TimeSlot,
        pub auths: Vec<CoreAuthorizer>,
    }
}

jam_codec! {
    /// One authorizations vector (`Output ::= NULL`).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TestCase {
        pub input: Input,
        pub pre_state: State,
        pub output: (),
        pub post_state: State,
    }
}

/// Runs the authorizations STF on a case: the posterior state.
pub fn apply(params: &Params, case: &TestCase) -> State {
    let pre = &case.pre_state;
    let used: Vec<(CoreIndex, OpaqueHash)> = case
        .input
        .auths
        .iter()
        .map(|a| (a.core, a.auth_hash))
        .collect();
    let pools = authorizations::transition(
        params,
        &pre.auth_pools,
        &pre.auth_queues,
        case.input.slot,
        &used,
    );
    State {
        auth_pools: pools,
        auth_queues: pre.auth_queues.clone(),
    }
}

/// Runs one `.bin` case file.
pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    vec![CaseOutcome::of_file(path, run_case(path))]
}

fn run_case(path: &Path) -> CaseResult {
    let (params, case) = load::<TestCase>(path)?;
    let post_state = apply(&params, &case);
    compare("post_state", &case.post_state, &post_state)
}
