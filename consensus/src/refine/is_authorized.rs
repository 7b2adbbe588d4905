//! The is-authorized invocation Ψ_I (GP v0.7.2 B.2, eq. B.1) and the package authorizer `p_a` (§14.3).

use super::host_calls::IsAuthorizedHost;
use super::lookup::{historical_lookup, split_code, ServiceView};
use super::RefineConfig;
use super::{WorkError, WorkOutput};
use crate::general::{EncodedPackage, FetchData};
use jam_state::hash::blake2b_256_concat;
use jam_state::params::Params;
use jam_state::types::{AuthorizerHash, CoreIndex, Gas, OpaqueHash, WorkPackage};

/// Entry point of the is-authorized code.
const IS_AUTHORIZED_PC: u32 = 0;

/// `p_a = H(p_u ⌢ p_f)`: the authorizer of a package.
pub fn authorizer_hash(p: &WorkPackage) -> AuthorizerHash {
    OpaqueHash(blake2b_256_concat(&[
        p.auth_code_hash.as_bytes(),
        &p.authorizer_config,
    ]))
}

/// What Ψ_I returns: the authorizer trace (or why there is none) and the gas used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// `r`: the output blob, or `BAD` / `BIG` / out-of-gas / panic.
    pub result: WorkOutput,
    /// `u`.
    pub gas_used: Gas,
}

/// Ψ_I(p, c): runs the package's authorizer code `p_c` (the historical lookup of `p_u` in
/// `δ[p_h]` at the lookup anchor) from pc 0 with `G_I` gas and argument `E2(c)`.
pub fn is_authorized<V: ServiceView + ?Sized>(
    params: &Params,
    config: &RefineConfig,
    view: &V,
    package: &EncodedPackage<'_>,
    core: CoreIndex,
) -> Authorization {
    let p = package.package;
    let fail = |e| Authorization {
        result: Err(e),
        gas_used: 0,
    };
    let blob = historical_lookup(
        view,
        p.auth_code_host,
        p.context.lookup_anchor_slot,
        &p.auth_code_hash,
    );
    let Some((_, code)) = blob.and_then(|b| split_code(params, b)) else {
        return fail(WorkError::Bad);
    };
    if code.len() > params.max_authorizer_code_size as usize {
        return fail(WorkError::Big);
    }
    let constants = params.to_protocol_parameters();
    let mut host = IsAuthorizedHost {
        fetch: FetchData {
            constants: &constants,
            package: Some(package),
            ..Default::default()
        },
        log_gas: config.log_gas,
    };
    let program = config.programs.get(&p.auth_code_hash, code);
    let inv = jam_pvm::invoke_standard(
        program.decoded(),
        IS_AUTHORIZED_PC,
        params.max_is_authorized_gas,
        &core.to_le_bytes(),
        &mut host,
    );
    Authorization {
        result: super::invocation::work_output(inv.result),
        gas_used: inv.gas_used,
    }
}
