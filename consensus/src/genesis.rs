//! Dev-chain genesis: a genesis state σ (GP v0.7.2 §4.2, §6 Safrole components) and header for given validators, and its JIP-4 chainspec JSON.
//!
//! [`genesis_state`] builds a fresh state: κ = λ = γ_k = ι = the validators, η from a fixed
//! seed ([`DEV_ENTROPY_SEED`]), γ_z = O(γ_k), γ_s = the fallback keys `F(η_2, κ)` (GP 6.26),
//! τ = 0, everything else empty. [`with_validators`] does the same to a template (e.g. the
//! traces' `genesis.bin`, which also holds a bootstrap service), keeping all else.
//!
//! The genesis header is not defined by the GP; [`genesis_header`] follows the public traces'
//! layout: zero parent, state root and extrinsic hash, the genesis slot, an epoch marker, no
//! author (`H_i = 0xffff`), zero entropy source and seal. Its epoch marker announces the current
//! epoch as a marker at an epoch change would have: `(η_1, η_2, γ_k)`.

use crate::bandersnatch::RingContext;
use crate::safrole::{fallback_keys, ring_root};
use jam_state::codec::{decode_exact, to_hex, CodecError, Encode};
use jam_state::hash::blake2b_256_concat;
use jam_state::params::{ChainSpec, Params, ParamsError};
use jam_state::state::{State, StateError};
use jam_state::types::*;

/// Seed of the dev genesis entropy: `η_i = H(seed ‖ E1(i))`.
pub const DEV_ENTROPY_SEED: &[u8] = b"jam_dev_genesis_entropy";

/// Why a genesis could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The validator set does not have exactly `V` entries.
    #[error("{got} validators given, the chain has V = {expected}")]
    ValidatorCount { expected: usize, got: usize },
    /// The chainspec is not valid JIP-4.
    #[error("chainspec: {0}")]
    ChainSpec(#[from] ParamsError),
    /// The chainspec's genesis header does not decode.
    #[error("chainspec genesis_header: {0}")]
    Header(CodecError),
    /// The chainspec's genesis state is not a valid state.
    #[error("chainspec genesis_state: {0}")]
    State(#[from] StateError),
}

/// The fixed dev genesis entropy buffer η.
pub fn dev_entropy() -> EntropyBuffer {
    let mut eta = EntropyBuffer::default();
    for (i, e) in eta.iter_mut().enumerate() {
        *e = OpaqueHash(blake2b_256_concat(&[DEV_ENTROPY_SEED, &[i as u8]]));
    }
    eta
}

/// A fresh dev genesis state for `validators` (exactly `V` of them); see the module docs.
pub fn genesis_state(
    params: &Params,
    ring: &RingContext,
    validators: &[ValidatorData],
) -> Result<State, GenesisError> {
    let mut state = State::empty(params);
    state.entropy = dev_entropy();
    state.timeslot = 0;
    with_validators(params, ring, state, validators)
}

/// `template` with κ = λ = γ_k = ι = `validators`, γ_z = O(γ_k), γ_s = F(η_2, κ) and γ_a
/// empty; every other component (η, τ, services, ...) is kept.
pub fn with_validators(
    params: &Params,
    ring: &RingContext,
    mut template: State,
    validators: &[ValidatorData],
) -> Result<State, GenesisError> {
    if validators.len() != params.validators() {
        return Err(GenesisError::ValidatorCount {
            expected: params.validators(),
            got: validators.len(),
        });
    }
    let vals = ValidatorsData::new(validators.to_vec());
    template.active_validators = vals.clone();
    template.previous_validators = vals.clone();
    template.staging_validators = vals.clone();
    template.safrole.gamma_k = vals;
    template.safrole.gamma_z = ring_root(ring, validators);
    template.safrole.gamma_s =
        TicketsOrKeys::Keys(fallback_keys(params, &template.entropy[2], validators).into());
    template.safrole.gamma_a = Vec::new();
    Ok(template)
}

/// The genesis header of `state` (see the module docs).
pub fn genesis_header(state: &State) -> Header {
    Header {
        slot: state.timeslot,
        epoch_mark: Some(EpochMark {
            entropy: state.entropy[1],
            tickets_entropy: state.entropy[2],
            validators: state
                .safrole
                .gamma_k
                .iter()
                .map(|k| EpochMarkValidatorKeys {
                    bandersnatch: k.bandersnatch,
                    ed25519: k.ed25519,
                })
                .collect(),
        }),
        author_index: ValidatorIndex::MAX,
        ..Default::default()
    }
}

/// A JSON string literal of `s`.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Hex without the `0x` prefix (as in the JIP-4 example).
fn bare_hex(bytes: &[u8]) -> String {
    to_hex(bytes).trim_start_matches("0x").to_string()
}

/// The JIP-4 chainspec JSON of a chain: `id`, `bootnodes`, `genesis_header` (E(H)),
/// `genesis_state` (31-byte state keys ↦ values, in key order) and `protocol_parameters`
/// (GP B.6 blob).
pub fn chainspec_json(
    id: &str,
    bootnodes: &[String],
    params: &Params,
    header: &Header,
    state: &State,
) -> String {
    let mut out = String::new();
    out.push_str("{\n  \"id\": ");
    out.push_str(&json_string(id));
    out.push_str(",\n  \"bootnodes\": [");
    let nodes: Vec<String> = bootnodes.iter().map(|b| json_string(b)).collect();
    out.push_str(&nodes.join(", "));
    out.push_str("],\n  \"genesis_header\": \"");
    out.push_str(&bare_hex(&header.encode()));
    out.push_str("\",\n  \"genesis_state\": {");
    let entries: Vec<String> = state
        .to_key_values()
        .iter()
        .map(|(k, v)| format!("\n    \"{}\": \"{}\"", bare_hex(k), bare_hex(v)))
        .collect();
    out.push_str(&entries.join(","));
    out.push_str("\n  },\n  \"protocol_parameters\": \"");
    out.push_str(&bare_hex(&params.to_protocol_parameters()));
    out.push_str("\"\n}\n");
    out
}

/// A chain read from a JIP-4 chainspec: parameters, genesis header and genesis state.
#[derive(Clone, Debug)]
pub struct GenesisChain {
    pub spec: ChainSpec,
    pub header: Header,
    pub state: State,
}

/// Parses a JIP-4 chainspec JSON text and decodes its genesis header and state.
pub fn read_chainspec(text: &str) -> Result<GenesisChain, GenesisError> {
    let spec = ChainSpec::from_json(text)?;
    let header: Header =
        decode_exact(&spec.genesis_header, &spec.params).map_err(GenesisError::Header)?;
    let state = State::from_key_values(&spec.genesis_state, &spec.params)?;
    Ok(GenesisChain {
        spec,
        header,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validator_keys::dev_validators;

    #[test]
    fn chainspec_round_trip() {
        let params = Params::tiny();
        let ring = RingContext::new(params.validators()).unwrap();
        let vals: Vec<ValidatorData> = dev_validators(params.validators())
            .iter()
            .map(|k| k.validator_data())
            .collect();
        let state = genesis_state(&params, &ring, &vals).unwrap();
        assert_eq!(
            state.safrole.gamma_z,
            ring_root(&ring, &state.safrole.gamma_k)
        );
        let header = genesis_header(&state);
        let json = chainspec_json(
            "jam-dev \"tiny\"",
            &["node@127.0.0.1:40000".to_string()],
            &params,
            &header,
            &state,
        );
        let chain = read_chainspec(&json).unwrap();
        assert_eq!(chain.spec.id, "jam-dev \"tiny\"");
        assert_eq!(chain.spec.bootnodes, vec!["node@127.0.0.1:40000"]);
        assert_eq!(chain.header, header);
        assert_eq!(chain.state, state);
        assert_eq!(
            chain.spec.params.to_protocol_parameters(),
            params.to_protocol_parameters()
        );
        assert!(matches!(
            genesis_state(&params, &ring, &vals[..5]),
            Err(GenesisError::ValidatorCount { .. })
        ));
    }
}
