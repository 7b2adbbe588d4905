//! Erasure-coding vectors (`erasure/{tiny,full}/ec-*.{bin,json}`): GP Appendix H.
//!
//! One case per `.bin` file. The `.json` twin is read (hex `data` and `shards`); the `.bin`
//! is checked to be its JAM-codec encoding (both sequences length-prefixed). The case passes when encoding `data` gives
//! exactly `shards`, and `data` is recovered from the systematic shards, from the last
//! `data_shards` shards and from a shuffled subset of `data_shards` shards.
//! Parameters come from the path: a `tiny` or `full` folder.

use crate::{CaseError, CaseOutcome, CaseResult};
use jam_state::erasure::{encode, reconstruct, ErasureParams};
use jam_state::hash::blake2b_256;
use jam_state::shuffle::shuffle;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Prints as raw text in `CaseError::mismatch` (whose values are `Debug`-formatted).
struct Raw(String);

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hex of `bytes`; long values show a 32-octet window starting near octet `at`.
fn show(bytes: &[u8], at: usize) -> Raw {
    if bytes.len() <= 64 {
        return Raw(format!("0x{}", hex::encode(bytes)));
    }
    let start = at.saturating_sub(8).min(bytes.len());
    let end = (start + 32).min(bytes.len());
    Raw(format!(
        "{} octets, [{start}..{end}] = 0x{}",
        bytes.len(),
        hex::encode(&bytes[start..end])
    ))
}

fn compare(field: impl Into<String>, expected: &[u8], got: &[u8]) -> CaseResult {
    if expected == got {
        return Ok(());
    }
    let at = expected
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(got.len()));
    Err(CaseError::mismatch(
        field,
        show(expected, at),
        show(got, at),
    ))
}

fn unhex(field: &str, s: &str) -> Result<Vec<u8>, CaseError> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(s).map_err(|e| CaseError::failed(format!("{field}: bad hex: {e}")))
}

/// GP C.1 variable-length natural-number encoding.
fn encode_natural(x: u64, out: &mut Vec<u8>) {
    for l in 0..8u32 {
        if x < 1u64 << (7 * (l + 1)) {
            let prefix = (256 - (1u64 << (8 - l))) + (x >> (8 * l));
            out.push(prefix as u8);
            out.extend_from_slice(&x.to_le_bytes()[..l as usize]);
            return;
        }
    }
    out.push(0xff);
    out.extend_from_slice(&x.to_le_bytes());
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    encode_natural(b.len() as u64, out);
    out.extend_from_slice(b);
}

fn params_for(path: &Path) -> Result<ErasureParams, CaseError> {
    for c in path.components().rev() {
        match c.as_os_str().to_str() {
            Some("tiny") => return Ok(ErasureParams::TINY),
            Some("full") => return Ok(ErasureParams::FULL),
            _ => {}
        }
    }
    Err(CaseError::failed(
        "path names neither a `tiny` nor a `full` folder",
    ))
}

fn run_case(path: &Path) -> CaseResult {
    let params = params_for(path)?;
    let (bin_path, json_path): (PathBuf, PathBuf) =
        (path.with_extension("bin"), path.with_extension("json"));
    let json = std::fs::read(&json_path)
        .map_err(|e| CaseError::failed(format!("read {}: {e}", json_path.display())))?;
    let json: Value = serde_json::from_slice(&json)
        .map_err(|e| CaseError::failed(format!("parse {}: {e}", json_path.display())))?;
    let data = json
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| CaseError::failed("missing string `data`"))?;
    let data = unhex("data", data)?;
    let shards = json
        .get("shards")
        .and_then(Value::as_array)
        .ok_or_else(|| CaseError::failed("missing array `shards`"))?
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let field = format!("shards[{i}]");
            let s = s
                .as_str()
                .ok_or_else(|| CaseError::failed(format!("{field} is not a string")))?;
            unhex(&field, s)
        })
        .collect::<Result<Vec<Vec<u8>>, _>>()?;

    // The `.bin` must be the JAM-codec encoding of the same case.
    if bin_path.exists() {
        let bin = std::fs::read(&bin_path)
            .map_err(|e| CaseError::failed(format!("read {}: {e}", bin_path.display())))?;
        let mut want = Vec::with_capacity(bin.len());
        encode_bytes(&data, &mut want);
        encode_natural(shards.len() as u64, &mut want);
        for s in &shards {
            encode_bytes(s, &mut want);
        }
        compare("<bin vs json>", &want, &bin)?;
    }

    let n = params.total_shards();
    if shards.len() != n {
        return Err(CaseError::mismatch("shards.len", shards.len(), n));
    }
    let got = encode(&params, &data).map_err(|e| CaseError::failed(format!("encode: {e}")))?;
    if got.len() != n {
        return Err(CaseError::mismatch("shards.len", n, got.len()));
    }
    for (i, (want, got)) in shards.iter().zip(&got).enumerate() {
        compare(format!("shards[{i}]"), want, got)?;
    }

    // Reconstruct from the expected shards.
    let kd = params.data_shards();
    let mut subsets: Vec<(&str, Vec<usize>)> = vec![
        ("systematic", (0..kd).collect()),
        ("last", (n - kd..n).collect()),
    ];
    let mut mixed = shuffle((0..n).collect::<Vec<usize>>(), &blake2b_256(&data));
    mixed.truncate(kd);
    subsets.push(("shuffled", mixed));
    for (name, idx) in subsets {
        let given = idx.iter().map(|&i| (i, shards[i].as_slice()));
        let back = reconstruct(&params, given, data.len())
            .map_err(|e| CaseError::failed(format!("reconstruct[{name}]: {e}")))?;
        compare(format!("reconstruct[{name}]"), &data, &back)?;
    }
    Ok(())
}

/// Runs one erasure case: `path` is its `.bin` (or `.json`) file. One outcome.
pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    vec![CaseOutcome::of_file(path, run_case(path))]
}
