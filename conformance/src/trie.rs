//! Trie vectors (`trie/trie.json`): state Merklization roots (GP Appendix D).
//!
//! Each entry maps hex keys (32 octets in the vectors; the trie uses the first 31, as the
//! GP's 31-octet state keys) to hex values, and gives the expected root.

use crate::{CaseError, CaseOutcome, CaseResult};
use jam_state::merkle::{state_root_in, LegacyLsbFirst, StateKey};
use serde_json::Value;
use std::path::Path;

fn unhex(s: &str) -> Result<Vec<u8>, CaseError> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(s).map_err(|e| CaseError::failed(format!("bad hex {s:?}: {e}")))
}

struct Hex(Vec<u8>);

impl std::fmt::Debug for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{}", hex::encode(&self.0))
    }
}

fn run_case(case: &Value) -> CaseResult {
    let input = case
        .get("input")
        .and_then(Value::as_object)
        .ok_or_else(|| CaseError::failed("missing object `input`"))?;
    let expected = case
        .get("output")
        .and_then(Value::as_str)
        .ok_or_else(|| CaseError::failed("missing string `output`"))?;
    let expected = unhex(expected)?;
    let mut kvs: Vec<(StateKey, Vec<u8>)> = Vec::with_capacity(input.len());
    for (k, v) in input {
        let key = unhex(k)?;
        let key: StateKey = key
            .get(..31)
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| CaseError::failed(format!("key {k} shorter than 31 octets")))?;
        let value = v
            .as_str()
            .ok_or_else(|| CaseError::failed(format!("value of {k} is not a string")))?;
        kvs.push((key, unhex(value)?));
    }
    // trie.json predates GP 0.4.0's reversal of the key bit order and was never regenerated
    // (davxy/jam-test-vectors issue #81): run it under that layout. The GP layout itself is
    // checked by every trace step's state root.
    let got = state_root_in::<LegacyLsbFirst, _>(&kvs);
    if got.as_slice() != expected.as_slice() {
        return Err(CaseError::mismatch(
            "output",
            Hex(expected),
            Hex(got.to_vec()),
        ));
    }
    Ok(())
}

/// Runs every entry of a `trie.json` file: one outcome per entry, named `path#index`.
pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    crate::run_json_array(path, run_case)
}
