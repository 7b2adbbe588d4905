//! What every STF suite shares: loading a case file, comparing by field path, and the
//! vectors' `Output ::= CHOICE { ok OutputData, err ErrorCode }`.

use crate::diff::first_diff;
use crate::{CaseError, CaseResult};
use jam_state::codec::{decode_exact, CodecError, CodecErrorKind, Decode, Encode, Reader};
use jam_state::params::Params;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::path::Path;

/// Decodes a case file with the parameters named by its path (`tiny`/`full`); checks that it
/// re-encodes to the same bytes and, where a `.json` twin exists, that it reads the same.
pub fn load<T>(path: &Path) -> Result<(Params, T), CaseError>
where
    T: Decode + Encode + Serialize + serde::de::DeserializeOwned + PartialEq,
{
    let params = Params::from_vector_path(path)
        .ok_or_else(|| CaseError::failed("no `tiny` or `full` in the path"))?;
    let bytes = std::fs::read(path).map_err(|e| CaseError::failed(format!("read: {e}")))?;
    let case: T =
        decode_exact(&bytes, &params).map_err(|e| CaseError::failed(format!("decode: {e}")))?;
    if case.encode() != bytes {
        return Err(CaseError::failed(
            "the decoded case does not re-encode to the same bytes",
        ));
    }
    let json_path = path.with_extension("json");
    if json_path.is_file() {
        let text = std::fs::read_to_string(&json_path)
            .map_err(|e| CaseError::failed(format!("read json twin: {e}")))?;
        let from_json: T = serde_json::from_str(&text)
            .map_err(|e| CaseError::failed(format!("json twin: {e}")))?;
        compare("json_twin", &from_json, &case)?;
    }
    Ok((params, case))
}

/// Compares two values; when they differ, reports the first differing field (by their JSON
/// form) under `root`.
pub fn compare<T: Serialize + PartialEq>(root: &str, expected: &T, got: &T) -> CaseResult {
    if expected == got {
        return Ok(());
    }
    let to_json = |v: &T| {
        serde_json::to_value(v).map_err(|e| CaseError::failed(format!("{root}: to json: {e}")))
    };
    let (e, g) = (to_json(expected)?, to_json(got)?);
    let mut m = first_diff(&e, &g).unwrap_or_else(|| crate::Mismatch {
        field: "<root>".into(),
        expected: "a different value (equal JSON forms)".into(),
        got: "unequal value".into(),
    });
    m.field = if m.field == "<root>" {
        root.to_string()
    } else {
        format!("{root}.{}", m.field)
    };
    Err(CaseError::Mismatch(m))
}

/// The names of a suite's `ErrorCode` enumeration, in code order (as in its `.asn`).
pub trait ErrorNames {
    const NAMES: &'static [&'static str];
}

/// An error code of suite `N`, held as its number; JSON shows its name.
pub struct ErrorCode<N>(u8, PhantomData<N>);

impl<N: ErrorNames> ErrorCode<N> {
    /// The code numbered `code`, if the suite has one.
    pub fn new(code: u8) -> Option<Self> {
        ((code as usize) < N::NAMES.len()).then_some(ErrorCode(code, PhantomData))
    }
    pub fn code(&self) -> u8 {
        self.0
    }
    pub fn name(&self) -> &'static str {
        N::NAMES[self.0 as usize]
    }
}

impl<N> Clone for ErrorCode<N> {
    fn clone(&self) -> Self {
        ErrorCode(self.0, PhantomData)
    }
}
impl<N> PartialEq for ErrorCode<N> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<N> Eq for ErrorCode<N> {}
impl<N: ErrorNames> std::fmt::Debug for ErrorCode<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
impl<N> Encode for ErrorCode<N> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(self.0)
    }
}
impl<N: ErrorNames> Decode for ErrorCode<N> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let at = r.position();
        let value = r.read_u8()?;
        ErrorCode::new(value).ok_or_else(|| {
            CodecError::new(
                CodecErrorKind::InvalidDiscriminant {
                    ty: "ErrorCode",
                    value,
                },
                at,
            )
        })
    }
}
impl<N: ErrorNames> Serialize for ErrorCode<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}
impl<'de, N: ErrorNames> Deserialize<'de> for ErrorCode<N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        N::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|c| ErrorCode(c as u8, PhantomData))
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code {name:?}")))
    }
}

/// `Output ::= CHOICE { ok D, err ErrorCode }`; JSON `{"ok": ..}` / `{"err": "name"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "snake_case",
    bound(serialize = "D: Serialize", deserialize = "D: Deserialize<'de>")
)]
pub enum Output<D, N: ErrorNames> {
    Ok(D),
    Err(ErrorCode<N>),
}

impl<D, N: ErrorNames> Output<D, N> {
    /// The output of a failed transition, from the consensus error's code number.
    pub fn err(code: u8) -> Self {
        Output::Err(ErrorCode::new(code).expect("consensus error codes mirror the vector's"))
    }
}

impl<D: Encode, N: ErrorNames> Encode for Output<D, N> {
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

impl<D: Decode, N: ErrorNames> Decode for Output<D, N> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let at = r.position();
        match r.read_u8()? {
            0 => D::decode(r).map(Output::Ok).map_err(|e| e.at_field("ok")),
            1 => ErrorCode::decode(r)
                .map(Output::Err)
                .map_err(|e| e.at_field("err")),
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
