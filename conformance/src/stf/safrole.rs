//! STF vectors: safrole (`stf/safrole/{tiny,full}/*.bin`, schema `safrole.asn`; GP section 6).

use super::vector::{self, compare, load, ErrorNames};
use crate::{CaseError, CaseOutcome, CaseResult};
use jam_consensus::bandersnatch::RingCache;
use jam_consensus::safrole::{self, SafroleInput, SafroleState};
use jam_state::jam_codec;
use jam_state::params::Params;
use jam_state::types::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::LazyLock;

/// Ring contexts shared by every case of the process (the SRS is parsed once per ring size).
static RINGS: LazyLock<RingCache> = LazyLock::new(RingCache::new);

jam_codec! {
    /// `Input` of `safrole.asn`.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Input {
        pub slot: TimeSlot,
        pub entropy: Entropy,
        pub extrinsic: TicketsExtrinsic,
    }
}

jam_codec! {
    /// `State` of `safrole.asn`.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct State {
        pub tau: TimeSlot,
        pub eta: EntropyBuffer,
        pub lambda: ValidatorsData,
        pub kappa: ValidatorsData,
        pub gamma_k: ValidatorsData,
        pub iota: ValidatorsData,
        pub gamma_a: TicketsAccumulator,
        pub gamma_s: TicketsOrKeys,
        pub gamma_z: BandersnatchRingCommitment,
        pub post_offenders: Vec<Ed25519Public>,
    }
}

jam_codec! {
    /// `OutputData` of `safrole.asn`.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct OutputData {
        pub epoch_mark: Option<EpochMark>,
        pub tickets_mark: Option<TicketsMark>,
    }
}

/// `ErrorCode` of `safrole.asn`, in code order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errors;

impl ErrorNames for Errors {
    const NAMES: &'static [&'static str] = &[
        "bad_slot",
        "unexpected_ticket",
        "bad_ticket_order",
        "bad_ticket_proof",
        "bad_ticket_attempt",
        "reserved",
        "duplicate_ticket",
    ];
}

/// `Output ::= CHOICE { ok OutputData, err ErrorCode }`.
pub type Output = vector::Output<OutputData, Errors>;

jam_codec! {
    /// `TestCase` of `safrole.asn`.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TestCase {
        pub input: Input,
        pub pre_state: State,
        pub output: Output,
        pub post_state: State,
    }
}

fn to_safrole_state(s: &State) -> SafroleState {
    SafroleState {
        tau: s.tau,
        eta: s.eta,
        lambda: s.lambda.clone(),
        kappa: s.kappa.clone(),
        gamma_k: s.gamma_k.clone(),
        iota: s.iota.clone(),
        gamma_a: s.gamma_a.clone(),
        gamma_s: s.gamma_s.clone(),
        gamma_z: s.gamma_z,
    }
}

fn from_safrole_state(s: SafroleState, post_offenders: Vec<Ed25519Public>) -> State {
    State {
        tau: s.tau,
        eta: s.eta,
        lambda: s.lambda,
        kappa: s.kappa,
        gamma_k: s.gamma_k,
        iota: s.iota,
        gamma_a: s.gamma_a,
        gamma_s: s.gamma_s,
        gamma_z: s.gamma_z,
        post_offenders,
    }
}

/// Runs a decoded case: the computed output and post-state.
pub fn run_case(params: &Params, case: &TestCase) -> Result<(Output, State), CaseError> {
    let ring = RINGS.get(params.validators()).map_err(CaseError::failed)?;
    let pre = to_safrole_state(&case.pre_state);
    let input = SafroleInput {
        slot: case.input.slot,
        entropy: case.input.entropy,
        extrinsic: &case.input.extrinsic,
        post_offenders: &case.pre_state.post_offenders,
    };
    Ok(match safrole::transition(params, &ring, &pre, &input) {
        Ok((post, out)) => (
            Output::Ok(OutputData {
                epoch_mark: out.epoch_mark,
                tickets_mark: out.tickets_mark,
            }),
            from_safrole_state(post, case.pre_state.post_offenders.clone()),
        ),
        Err(e) => (Output::err(e.code()), case.pre_state.clone()),
    })
}

fn check(path: &Path) -> CaseResult {
    let (params, case) = load::<TestCase>(path)?;
    let (output, post_state) = run_case(&params, &case)?;
    compare("output", &case.output, &output)?;
    compare("post_state", &case.post_state, &post_state)
}

pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    vec![CaseOutcome::of_file(path, check(path))]
}
