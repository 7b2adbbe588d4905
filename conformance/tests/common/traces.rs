//! Block-import trace steps (`traces/<set>/*.bin`, schema `traces/schema.asn`), decoded far
//! enough to read single state components: used to check STF pieces on real blocks.

#![allow(dead_code)]

use jam_conformance::vectors::jam_vectors_dir;
use jam_state::codec::{decode_exact, CodecError, Decode, Reader};
use jam_state::params::Params;
use jam_state::types::{Block, StateRoot};
use std::path::PathBuf;

/// One raw state: root and key/value pairs (31-octet keys).
pub struct RawState {
    pub state_root: StateRoot,
    pub keyvals: Vec<([u8; 31], Vec<u8>)>,
}

impl Decode for RawState {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let state_root = StateRoot::decode(r)?;
        let n = r.read_len(32)?;
        let mut keyvals = Vec::with_capacity(n);
        for _ in 0..n {
            let key = r.read_array::<31>()?;
            let len = r.read_len(1)?;
            keyvals.push((key, r.take(len)?.to_vec()));
        }
        Ok(RawState {
            state_root,
            keyvals,
        })
    }
}

impl RawState {
    /// The value of state component `C(i)`, decoded.
    pub fn component<T: Decode>(&self, i: u8, params: &Params) -> Option<T> {
        let mut key = [0u8; 31];
        key[0] = i;
        let (_, v) = self.keyvals.iter().find(|(k, _)| *k == key)?;
        Some(decode_exact(v, params).unwrap_or_else(|e| panic!("component {i}: {e}")))
    }
}

/// A trace step: pre-state, block, post-state.
pub struct TraceStep {
    pub pre_state: RawState,
    pub block: Block,
    pub post_state: RawState,
}

impl Decode for TraceStep {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(TraceStep {
            pre_state: RawState::decode(r)?,
            block: Block::decode(r)?,
            post_state: RawState::decode(r)?,
        })
    }
}

/// Every step file of every trace set, sorted (tiny parameters).
pub fn step_files() -> Vec<PathBuf> {
    let root = jam_vectors_dir().join("traces");
    let mut files = Vec::new();
    for set in std::fs::read_dir(&root).expect("traces folder") {
        let set = set.unwrap().path();
        if !set.is_dir() {
            continue;
        }
        for e in std::fs::read_dir(&set).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".bin") && name != "genesis.bin" {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Decodes one step file.
pub fn load_step(path: &std::path::Path, params: &Params) -> TraceStep {
    decode_exact(&std::fs::read(path).unwrap(), params)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
