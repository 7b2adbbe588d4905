//! Dev-chain genesis: a genesis state σ (GP v0.7.2 §4.2, §6 Safrole components) and header for given validators, and its JIP-4 chainspec JSON.
//!
//! [`genesis_state`] builds a fresh state: κ = λ = γ_k = ι = the validators, η from a fixed
//! seed ([`DEV_ENTROPY_SEED`]), γ_z = O(γ_k), γ_s = the fallback keys `F(η_2, κ)` (GP 6.26),
//! τ = 0, the dev services ([`install_dev_services`]), everything else empty. [`with_validators`] does the same to a template (e.g. the
//! traces' `genesis.bin`, which also holds a bootstrap service), keeping all else.
//!
//! The genesis header is not defined by the GP; [`genesis_header`] follows the public traces'
//! layout: zero parent, state root and extrinsic hash, the genesis slot, an epoch marker, no
//! author (`H_i = 0xffff`), zero entropy source and seal. Its epoch marker announces the current
//! epoch as a marker at an epoch change would have: `(η_1, η_2, γ_k)`.

use crate::bandersnatch::RingContext;
use crate::safrole::{fallback_keys, ring_root};
use jam_state::codec::{decode_exact, to_hex, CodecError, Encode};
use jam_state::hash::{blake2b_256, blake2b_256_concat};
use jam_state::keys::{encode_lookup, lookup_key, preimage_key};
use jam_state::params::{ChainSpec, Params, ParamsError};
use jam_state::state::{State, StateError};
use jam_state::types::*;

/// The demo service's id in the dev genesis (`services/demo.s`); it also hosts the dev
/// authorizer's code preimage (`p_h`).
pub const DEMO_SERVICE_ID: ServiceId = 0;

/// Balance of the dev genesis service: far above its threshold `a_t` (GP 9.8).
pub const DEV_SERVICE_BALANCE: u64 = 1 << 40;

/// `g`, `m` of the dev genesis service: the minimum accumulate gas per item / memo (GP 9.3).
pub const DEV_SERVICE_MIN_GAS: Gas = 100;

/// The dev authorizer's code hash `p_u`: `H` of `services/authorizer.s`'s code blob.
pub fn dev_authorizer_code_hash() -> CodeHash {
    OpaqueHash(blake2b_256(&jam_pvm::asm::services::authorizer_code()))
}

/// The dev authorizer `p_a = H(p_u ⌢ p_f)` with an empty configuration `p_f` (GP §14.3):
/// the hash in every core's pool α and queue φ.
pub fn dev_authorizer() -> AuthorizerHash {
    OpaqueHash(blake2b_256_concat(&[
        dev_authorizer_code_hash().as_bytes(),
        &[],
    ]))
}

/// The demo service's code hash: `H` of `services/demo.s`'s code blob.
pub fn demo_code_hash() -> CodeHash {
    OpaqueHash(blake2b_256(&jam_pvm::asm::services::demo_service_code()))
}

/// The blob the demo service solicits in the dev genesis (a lookup entry with no slots, the
/// preimage not provided: GP 12.37), to be supplied through E_P (e.g. JIP-2 `submitPreimage`).
pub fn dev_requested_preimage() -> &'static [u8] {
    b"jam dev preimage"
}

/// Adds the dev services to `state` (GP §9): the demo service [`DEMO_SERVICE_ID`] whose
/// preimages (available from slot 0) are its own code and the dev authorizer's, a solicited
/// [`dev_requested_preimage`], and the dev authorizer ([`dev_authorizer`]) in every core's pool α and filling every queue φ.
pub fn install_dev_services(state: &mut State) {
    let s = DEMO_SERVICE_ID;
    let mut info = ServiceInfo {
        code_hash: demo_code_hash(),
        balance: DEV_SERVICE_BALANCE,
        min_item_gas: DEV_SERVICE_MIN_GAS,
        min_memo_gas: DEV_SERVICE_MIN_GAS,
        ..Default::default()
    };
    for blob in [
        jam_pvm::asm::services::demo_service_code(),
        jam_pvm::asm::services::authorizer_code(),
    ] {
        let h = OpaqueHash(blake2b_256(&blob));
        // a_i += 2 and a_o += 81 + z per lookup entry (GP 9.8).
        info.items += 2;
        info.bytes += 81 + blob.len() as u64;
        state
            .service_data
            .insert(lookup_key(s, &h, blob.len() as u32), encode_lookup(&[0]));
        state.service_data.insert(preimage_key(s, &h), blob);
    }
    let wanted = dev_requested_preimage();
    info.items += 2;
    info.bytes += 81 + wanted.len() as u64;
    state.service_data.insert(
        lookup_key(s, &OpaqueHash(blake2b_256(wanted)), wanted.len() as u32),
        encode_lookup(&[]),
    );
    state.accounts.insert(s, info);
    let auth = dev_authorizer();
    for pool in state.auth_pools.iter_mut() {
        *pool = vec![auth];
    }
    for queue in state.auth_queues.iter_mut() {
        for a in queue.iter_mut() {
            *a = auth;
        }
    }
}

/// A one-item package for the demo service under the dev authorizer (GP 14.2), refining
/// `payload` in `context` with ample gas (its format: `services/README.md`).
pub fn demo_work_package(context: RefineContext, payload: &[u8]) -> WorkPackage {
    WorkPackage {
        auth_code_host: DEMO_SERVICE_ID,
        auth_code_hash: dev_authorizer_code_hash(),
        context,
        items: vec![WorkItem {
            service: DEMO_SERVICE_ID,
            code_hash: demo_code_hash(),
            refine_gas_limit: 100_000,
            accumulate_gas_limit: 20_000,
            payload: Bytes(payload.to_vec()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

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
    install_dev_services(&mut state);
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
    fn dev_services_refine_a_demo_package() {
        use crate::refine::{compute_work_report, InMemoryPackageData, RefineConfig};
        let params = Params::tiny();
        let mut state = State::empty(&params);
        install_dev_services(&mut state);
        let wanted = dev_requested_preimage();
        let h = OpaqueHash(blake2b_256(wanted));
        assert_eq!(
            state.lookup(DEMO_SERVICE_ID, &h, wanted.len() as u32),
            Some(vec![])
        );
        assert_eq!(state.preimage(DEMO_SERVICE_ID, &h), None);
        assert!(state
            .auth_pools
            .iter()
            .all(|p| p == &vec![dev_authorizer()]));
        let p = demo_work_package(RefineContext::default(), b"J\x01kv");
        assert_eq!(crate::refine::authorizer_hash(&p), dev_authorizer());
        let r = compute_work_report(
            &params,
            &RefineConfig::default(),
            &state,
            &InMemoryPackageData::default(),
            &p,
            1,
        )
        .unwrap();
        assert_eq!(r.report.authorizer_hash, dev_authorizer());
        assert_eq!(r.report.core_index, 1);
        let want = [1, b'k', b'v', 1 + b'k' + b'v', 0, 0, 0];
        assert_eq!(
            r.report.results[0].result,
            WorkExecResult::Ok(Bytes(want.to_vec()))
        );
    }

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
