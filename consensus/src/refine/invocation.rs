//! The refine invocation Ψ_R (GP v0.7.2 B.3, eq. B.5): one work item of a package.

use super::host_calls::RefineHost;
use super::lookup::{historical_lookup, split_code, ServiceView};
use super::machines::Machines;
use super::RefineConfig;
use super::{WorkError, WorkOutput};
use crate::general::{EncodedPackage, FetchData};
use jam_pvm::InvocationFailure;
use jam_state::codec::encode_natural;
use jam_state::params::Params;
use jam_state::types::{CoreIndex, Gas};

/// Entry point of the refine code.
const REFINE_PC: u32 = 0;

/// Ψ_M's result as a work output.
pub(crate) fn work_output(r: Result<Vec<u8>, InvocationFailure>) -> WorkOutput {
    r.map_err(|e| match e {
        InvocationFailure::OutOfGas => WorkError::OutOfGas,
        InvocationFailure::Panic => WorkError::Panic,
    })
}

/// The read-only inputs of Ψ_R for every item of one package.
#[derive(Clone, Copy)]
pub struct RefineArgs<'a> {
    /// `c`.
    pub core: CoreIndex,
    /// `p`, pre-encoded for `fetch`.
    pub package: &'a EncodedPackage<'a>,
    /// `r`: the authorizer trace.
    pub auth_trace: &'a [u8],
    /// `ī`: the import segments of every item.
    pub imports: &'a [Vec<Vec<u8>>],
    /// `x̄`: the extrinsic blobs of every item.
    pub extrinsics: &'a [Vec<Vec<u8>>],
}

/// What Ψ_R returns for one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refinement {
    /// The output blob or error.
    pub result: WorkOutput,
    /// `e`: the exported segments (empty unless the code halted).
    pub exports: Vec<Vec<u8>>,
    /// `u`.
    pub gas_used: Gas,
}

/// Ψ_R(c, i, p, r, ī, ς): refines item `i` of the package whose earlier items export `ς`
/// segments, with the service code looked up in `view` at the lookup anchor.
pub fn refine<V: ServiceView + ?Sized>(
    params: &Params,
    config: &RefineConfig,
    view: &V,
    args: &RefineArgs<'_>,
    i: usize,
    export_offset: u64,
) -> Refinement {
    let p = args.package.package;
    let w = &p.items[i];
    let fail = |e| Refinement {
        result: Err(e),
        exports: Vec::new(),
        gas_used: 0,
    };
    let t = p.context.lookup_anchor_slot;
    let Some(blob) = historical_lookup(view, w.service, t, &w.code_hash) else {
        return fail(WorkError::Bad);
    };
    if blob.len() > params.max_service_code_size as usize {
        return fail(WorkError::Big);
    }
    let Some((_, code)) = split_code(params, blob) else {
        return fail(WorkError::Bad);
    };
    let mut a = Vec::with_capacity(48 + w.payload.len());
    encode_natural(args.core as u64, &mut a);
    encode_natural(i as u64, &mut a);
    encode_natural(w.service as u64, &mut a);
    encode_natural(w.payload.len() as u64, &mut a);
    a.extend_from_slice(&w.payload);
    a.extend_from_slice(args.package.hash.as_bytes());

    let constants = params.to_protocol_parameters();
    let zero = [0u8; 32];
    let mut host = RefineHost {
        segment_size: params.segment_size(),
        max_exports: params.max_exports as u64,
        view,
        service: w.service,
        lookup_slot: t,
        fetch: FetchData {
            constants: &constants,
            package: Some(args.package),
            entropy: Some(&zero),
            auth_trace: Some(args.auth_trace),
            item: Some(i),
            imports: Some(args.imports),
            extrinsics: Some(args.extrinsics),
            inputs: None,
        },
        export_offset,
        log_gas: config.log_gas,
        machines: Machines::default(),
        exports: Vec::new(),
    };
    let program = config.programs.get(&w.code_hash, code);
    let inv = jam_pvm::invoke_standard(
        program.decoded(),
        REFINE_PC,
        w.refine_gas_limit,
        &a,
        &mut host,
    );
    let exports = if inv.result.is_ok() {
        host.exports
    } else {
        Vec::new()
    };
    Refinement {
        result: work_output(inv.result),
        exports,
        gas_used: inv.gas_used,
    }
}
