//! General host-call functions shared by Ψ_I, Ψ_R and Ψ_A (GP v0.7.2 B.1 result codes, B.6 `gas`
//! and `fetch`), plus the guest-memory helpers every host call uses.

use jam_pvm::{HostContext, HostResult};
use jam_state::codec::{encode_natural, Encode};
use jam_state::types::{OpaqueHash, WorkItem, WorkPackage};

/// Host-call result constants (GP B.1).
pub mod code {
    pub const NONE: u64 = u64::MAX;
    pub const WHAT: u64 = u64::MAX - 1;
    pub const OOB: u64 = u64::MAX - 2;
    pub const WHO: u64 = u64::MAX - 3;
    pub const FULL: u64 = u64::MAX - 4;
    pub const CORE: u64 = u64::MAX - 5;
    pub const CASH: u64 = u64::MAX - 6;
    pub const LOW: u64 = u64::MAX - 7;
    pub const HUH: u64 = u64::MAX - 8;
    pub const OK: u64 = 0;
}

/// Indices of the general host calls (GP B.6) and JIP-1 `log`.
pub mod index {
    pub const GAS: u32 = 0;
    pub const FETCH: u32 = 1;
    pub const LOG: u32 = 100;
}

/// Base gas of every host call (GP B.6–B.8 `g = 10`).
pub const HOST_GAS: u64 = 10;

/// Reads `len` octets at `addr` (u64 registers), `None` when not readable.
pub(crate) fn mem_read(c: &HostContext<'_>, addr: u64, len: u64) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    if addr.checked_add(len)? > 1 << 32 {
        return None;
    }
    c.read(addr as u32, len as u32).ok()
}

/// Writes `data` at `addr`; false when not writable (nothing written).
pub(crate) fn mem_write(c: &mut HostContext<'_>, addr: u64, data: &[u8]) -> bool {
    if data.is_empty() {
        return true;
    }
    match addr.checked_add(data.len() as u64) {
        Some(end) if end <= 1 << 32 => c.write(addr as u32, data).is_ok(),
        _ => false,
    }
}

/// The common tail of fetch/lookup/read/info/historical_lookup: writes `v[f..f+l]` at `o`,
/// sets ω7 to `|v|` (or `NONE`); panics when the window is not writable.
pub(crate) fn output(
    c: &mut HostContext<'_>,
    v: Option<&[u8]>,
    o: u64,
    f: u64,
    l: u64,
) -> HostResult {
    match v {
        None => {
            c.set_reg(7, code::NONE);
            HostResult::Continue
        }
        Some(v) => {
            let n = v.len() as u64;
            let f = f.min(n);
            let l = l.min(n - f);
            if !mem_write(c, o, &v[f as usize..(f + l) as usize]) {
                return HostResult::Panic;
            }
            c.set_reg(7, n);
            HostResult::Continue
        }
    }
}

/// The 32-octet hash at `o`, `None` when not readable.
pub(crate) fn hash_at(c: &HostContext<'_>, o: u64) -> Option<OpaqueHash> {
    mem_read(c, o, 32).map(|v| OpaqueHash::from_slice(&v).expect("32 octets"))
}

/// Ω_G (GP B.6): ω7 = ϱ' (the gas left after this call's charge).
pub(crate) fn gas(c: &mut HostContext<'_>) -> HostResult {
    let g = (*c.gas).max(0) as u64;
    c.set_reg(7, g);
    HostResult::Continue
}

/// `S(w)` of GP B.6 `fetch`: the fixed-size summary of a work item.
pub fn item_summary(w: &WorkItem) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + 32 + 16 + 6 + 4);
    v.extend_from_slice(&w.service.to_le_bytes());
    v.extend_from_slice(w.code_hash.as_bytes());
    v.extend_from_slice(&w.refine_gas_limit.to_le_bytes());
    v.extend_from_slice(&w.accumulate_gas_limit.to_le_bytes());
    v.extend_from_slice(&w.export_count.to_le_bytes());
    v.extend_from_slice(&(w.import_segments.len() as u16).to_le_bytes());
    v.extend_from_slice(&(w.extrinsic.len() as u16).to_le_bytes());
    v.extend_from_slice(&(w.payload.len() as u32).to_le_bytes());
    v
}

/// The work-package selectors of `fetch` (7–13), encoded once per package.
#[derive(Clone, Debug)]
pub struct EncodedPackage<'a> {
    pub package: &'a WorkPackage,
    /// `E(p)`.
    pub encoded: Vec<u8>,
    /// `H(p)`: the work-package hash.
    pub hash: OpaqueHash,
    /// `E(p_c)`.
    pub context: Vec<u8>,
    /// `S(w)` of each item.
    pub summaries: Vec<Vec<u8>>,
    /// `E(↕[S(w) | w <- p_w])`.
    pub all_summaries: Vec<u8>,
}

impl<'a> EncodedPackage<'a> {
    pub fn new(package: &'a WorkPackage) -> Self {
        let summaries: Vec<Vec<u8>> = package.items.iter().map(item_summary).collect();
        let mut all_summaries = Vec::new();
        encode_natural(summaries.len() as u64, &mut all_summaries);
        for s in &summaries {
            all_summaries.extend_from_slice(s);
        }
        let encoded = package.encode();
        EncodedPackage {
            package,
            hash: OpaqueHash(jam_state::hash::blake2b_256(&encoded)),
            encoded,
            context: package.context.encode(),
            summaries,
            all_summaries,
        }
    }
}

/// The arguments of Ω_Y (GP B.6): `(p, n, r, i, ī, x̄, i)`, `None` where an invocation does
/// not supply them (Ψ_I: only `p`; Ψ_R: all but the accumulation inputs; Ψ_A: `n` and inputs).
#[derive(Clone, Copy, Default)]
pub(crate) struct FetchData<'a> {
    /// Selector 0: the protocol parameters blob.
    pub constants: &'a [u8],
    /// `p`, pre-encoded.
    pub package: Option<&'a EncodedPackage<'a>>,
    /// `n`: η'_0 (accumulate) or the zero hash (refine).
    pub entropy: Option<&'a [u8]>,
    /// `r`: the authorizer trace.
    pub auth_trace: Option<&'a [u8]>,
    /// `i`: the index of the work item being refined.
    pub item: Option<usize>,
    /// `ī`: the import segments of every work item.
    pub imports: Option<&'a [Vec<Vec<u8>>]>,
    /// `x̄`: the extrinsic blobs of every work item.
    pub extrinsics: Option<&'a [Vec<Vec<u8>>]>,
    /// `i` (accumulate): each input already encoded as `E(i)`.
    pub inputs: Option<&'a [Vec<u8>]>,
}

fn nested(v: &[Vec<Vec<u8>>], a: u64, b: u64) -> Option<&[u8]> {
    let a = usize::try_from(a).ok()?;
    let b = usize::try_from(b).ok()?;
    v.get(a)?.get(b).map(|x| x.as_slice())
}

/// Ω_Y (GP B.6): selector ω10, sub-indices ω11/ω12, window `[ω8, ω8 + ω9)` written at ω7.
pub(crate) fn fetch(c: &mut HostContext<'_>, d: &FetchData<'_>) -> HostResult {
    let (r11, r12) = (c.reg(11), c.reg(12));
    let owned: Vec<u8>;
    let p = d.package;
    let v: Option<&[u8]> = match c.reg(10) {
        0 => Some(d.constants),
        1 => d.entropy,
        2 => d.auth_trace,
        3 => d.extrinsics.and_then(|x| nested(x, r11, r12)),
        4 => match (d.extrinsics, d.item) {
            (Some(x), Some(i)) => nested(x, i as u64, r11),
            _ => None,
        },
        5 => d.imports.and_then(|x| nested(x, r11, r12)),
        6 => match (d.imports, d.item) {
            (Some(x), Some(i)) => nested(x, i as u64, r11),
            _ => None,
        },
        7 => p.map(|p| p.encoded.as_slice()),
        8 => p.map(|p| p.package.authorizer_config.as_slice()),
        9 => p.map(|p| p.package.authorization.as_slice()),
        10 => p.map(|p| p.context.as_slice()),
        11 => p.map(|p| p.all_summaries.as_slice()),
        12 => p.and_then(|p| {
            let j = usize::try_from(r11).ok()?;
            p.summaries.get(j).map(|s| s.as_slice())
        }),
        13 => p.and_then(|p| {
            let j = usize::try_from(r11).ok()?;
            p.package.items.get(j).map(|w| w.payload.as_slice())
        }),
        14 => match d.inputs {
            Some(inputs) => {
                let mut out = Vec::new();
                encode_natural(inputs.len() as u64, &mut out);
                for i in inputs {
                    out.extend_from_slice(i);
                }
                owned = out;
                Some(owned.as_slice())
            }
            None => None,
        },
        15 => d.inputs.and_then(|inputs| {
            let j = usize::try_from(r11).ok()?;
            inputs.get(j).map(|v| v.as_slice())
        }),
        _ => None,
    };
    output(c, v, c.reg(7), c.reg(8), c.reg(9))
}
