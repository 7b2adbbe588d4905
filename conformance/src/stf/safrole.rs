//! STF vectors: safrole (`stf/safrole/{tiny,full}/*.bin`, schema `safrole.asn`; GP section 6).

use crate::{diff::first_diff, CaseError, CaseOutcome, CaseResult};
use jam_consensus::bandersnatch::RingCache;
use jam_consensus::safrole::{self, SafroleError, SafroleInput, SafroleState};
use jam_state::codec::{decode_exact, CodecError, CodecErrorKind, Decode, Encode, Reader};
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

/// `ErrorCode` of `safrole.asn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadSlot = 0,
    UnexpectedTicket = 1,
    BadTicketOrder = 2,
    BadTicketProof = 3,
    BadTicketAttempt = 4,
    Reserved = 5,
    DuplicateTicket = 6,
}

impl ErrorCode {
    const ALL: [ErrorCode; 7] = [
        ErrorCode::BadSlot,
        ErrorCode::UnexpectedTicket,
        ErrorCode::BadTicketOrder,
        ErrorCode::BadTicketProof,
        ErrorCode::BadTicketAttempt,
        ErrorCode::Reserved,
        ErrorCode::DuplicateTicket,
    ];

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }
}

impl From<SafroleError> for ErrorCode {
    fn from(e: SafroleError) -> Self {
        ErrorCode::from_code(e.code()).expect("safrole error codes are 0..=6")
    }
}

impl Encode for ErrorCode {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(*self as u8)
    }
}

impl Decode for ErrorCode {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let start = r.position();
        let value = r.read_u8()?;
        ErrorCode::from_code(value).ok_or_else(|| {
            CodecError::new(
                CodecErrorKind::InvalidDiscriminant {
                    ty: "ErrorCode",
                    value,
                },
                start,
            )
        })
    }
}

/// `Output` of `safrole.asn`: `{"ok": OutputData}` or `{"err": ErrorCode}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    Ok(OutputData),
    Err(ErrorCode),
}

impl Encode for Output {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            Output::Ok(d) => {
                out.push(0);
                d.encode_to(out)
            }
            Output::Err(e) => {
                out.push(1);
                e.encode_to(out)
            }
        }
    }
}

impl Decode for Output {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let start = r.position();
        match r.read_u8()? {
            0 => Ok(Output::Ok(
                OutputData::decode(r).map_err(|e| e.at_field("ok"))?,
            )),
            1 => Ok(Output::Err(
                ErrorCode::decode(r).map_err(|e| e.at_field("err"))?,
            )),
            value => Err(CodecError::new(
                CodecErrorKind::InvalidDiscriminant {
                    ty: "Output",
                    value,
                },
                start,
            )),
        }
    }
}

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

/// The chain parameters implied by a vector path (`…/tiny/…` or `…/full/…`).
fn params_for(path: &Path) -> Result<Params, CaseError> {
    let p = path.to_string_lossy();
    if p.contains("/tiny/") {
        Ok(Params::tiny())
    } else if p.contains("/full/") {
        Ok(Params::full())
    } else {
        Err(CaseError::failed(format!(
            "{}: neither tiny nor full",
            path.display()
        )))
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
        Err(e) => (Output::Err(e.into()), case.pre_state.clone()),
    })
}

fn check(path: &Path) -> CaseResult {
    let params = params_for(path)?;
    let bytes =
        std::fs::read(path).map_err(|e| CaseError::failed(format!("{}: {e}", path.display())))?;
    let case: TestCase =
        decode_exact(&bytes, &params).map_err(|e| CaseError::failed(format!("decode: {e}")))?;
    if case.encode() != bytes {
        return Err(CaseError::failed(
            "decode: re-encoding differs from the vector bytes",
        ));
    }
    let (output, post_state) = run_case(&params, &case)?;
    let json = |o: &Output, s: &State| serde_json::json!({ "output": o, "post_state": s });
    match first_diff(
        &json(&case.output, &case.post_state),
        &json(&output, &post_state),
    ) {
        Some(m) => Err(CaseError::Mismatch(m)),
        None => Ok(()),
    }
}

pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    vec![CaseOutcome::of_file(path, check(path))]
}
