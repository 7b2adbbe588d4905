//! STF vectors: recent history (`stf/history/{tiny,full}/*.bin`, schema `history.asn`; GP section 7).

use super::vector::{compare, load};
use crate::{CaseOutcome, CaseResult};
use jam_consensus::history::{self, HistoryInput};
use jam_state::jam_codec;
use jam_state::types::{HeaderHash, OpaqueHash, RecentBlocks, ReportedWorkPackage, StateRoot};
use serde::{Deserialize, Serialize};
use std::path::Path;

jam_codec! {
    /// The state component the history STF reads and writes.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct State {
        pub beta: RecentBlocks,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Input {
        pub header_hash: HeaderHash,
        pub parent_state_root: StateRoot,
        pub accumulate_root: OpaqueHash,
        pub work_packages: Vec<ReportedWorkPackage>,
    }
}

jam_codec! {
    /// One history case. The output is `NULL`: nothing in the binary form, `null` in JSON.
    /// The `NULL` output encodes to nothing and shows as `null` in JSON.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TestCase {
        pub input: Input,
        pub pre_state: State,
        pub output: (),
        pub post_state: State,
    }
}

/// Runs one `.bin` case file.
pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    vec![CaseOutcome::of_file(path, run_case(path))]
}

fn run_case(path: &Path) -> CaseResult {
    let (params, case) = load::<TestCase>(path)?;
    let input = HistoryInput {
        header_hash: case.input.header_hash,
        parent_state_root: case.input.parent_state_root,
        accumulate_root: case.input.accumulate_root,
        work_packages: case.input.work_packages.clone(),
    };
    let got = State {
        beta: history::transition(&params, &case.pre_state.beta, &input),
    };
    compare("post_state", &case.post_state, &got)
}
