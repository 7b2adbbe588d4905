//! The host-call dispatchers `F` of Ψ_I (GP v0.7.2 eq. B.2) and Ψ_R (eq. B.6), with the refine
//! functions `historical_lookup` and `export` (B.8) and JIP-1 `log`.

use super::lookup::{historical_lookup, ServiceView};
use super::machines::Machines;
use crate::general::{self, code, hash_at, mem_read, output, FetchData, HOST_GAS};
use jam_pvm::{HostCalls, HostContext, HostResult};
use jam_state::types::{ServiceId, TimeSlot};

/// Host-call indices of the is-authorized and refine invocations (GP B.6–B.8, JIP-1 `log`).
pub mod index {
    pub const GAS: u32 = crate::general::index::GAS;
    pub const FETCH: u32 = crate::general::index::FETCH;
    pub const HISTORICAL_LOOKUP: u32 = 6;
    pub const EXPORT: u32 = 7;
    pub const MACHINE: u32 = 8;
    pub const PEEK: u32 = 9;
    pub const POKE: u32 = 10;
    pub const PAGES: u32 = 11;
    pub const INVOKE: u32 = 12;
    pub const EXPUNGE: u32 = 13;
    pub const LOG: u32 = crate::general::index::LOG;
}

/// Charges the call's gas (`log_gas` for `log`, 10 otherwise); false when it ran out.
fn charge(idx: u32, log_gas: u64, c: &mut HostContext<'_>) -> bool {
    c.charge(if idx == index::LOG { log_gas } else { HOST_GAS })
}

/// `F` of Ψ_I: `gas`, `fetch` (package selectors only), `log`; anything else is `WHAT`.
pub(crate) struct IsAuthorizedHost<'a> {
    pub fetch: FetchData<'a>,
    pub log_gas: u64,
}

impl HostCalls for IsAuthorizedHost<'_> {
    fn host_call(&mut self, idx: u32, c: &mut HostContext<'_>) -> HostResult {
        if !charge(idx, self.log_gas, c) {
            return HostResult::OutOfGas;
        }
        match idx {
            index::GAS => general::gas(c),
            index::FETCH => general::fetch(c, &self.fetch),
            index::LOG => HostResult::Continue,
            _ => {
                c.set_reg(7, code::WHAT);
                HostResult::Continue
            }
        }
    }
}

/// `F` of Ψ_R over the refine context `(m, e)`: inner machines and exported segments.
pub(crate) struct RefineHost<'a, V: ?Sized> {
    /// `W_G`.
    pub segment_size: usize,
    /// `W_X`.
    pub max_exports: u64,
    /// δ, for `historical_lookup`.
    pub view: &'a V,
    /// `w_s`: the service whose item is refined.
    pub service: ServiceId,
    /// `(p_c)_t`: the lookup-anchor slot.
    pub lookup_slot: TimeSlot,
    pub fetch: FetchData<'a>,
    /// `ς`: the segments exported by earlier items of the package.
    pub export_offset: u64,
    pub log_gas: u64,
    /// `m`.
    pub machines: Machines,
    /// `e`.
    pub exports: Vec<Vec<u8>>,
}

impl<V: ServiceView + ?Sized> HostCalls for RefineHost<'_, V> {
    fn host_call(&mut self, idx: u32, c: &mut HostContext<'_>) -> HostResult {
        if !charge(idx, self.log_gas, c) {
            return HostResult::OutOfGas;
        }
        match idx {
            index::GAS => general::gas(c),
            index::FETCH => general::fetch(c, &self.fetch),
            index::HISTORICAL_LOOKUP => self.historical_lookup(c),
            index::EXPORT => self.export(c),
            index::MACHINE => self.machines.machine(c),
            index::PEEK => self.machines.peek(c),
            index::POKE => self.machines.poke(c),
            index::PAGES => self.machines.pages(c),
            index::INVOKE => self.machines.invoke(c),
            index::EXPUNGE => self.machines.expunge(c),
            index::LOG => HostResult::Continue,
            _ => {
                c.set_reg(7, code::WHAT);
                HostResult::Continue
            }
        }
    }
}

impl<V: ServiceView + ?Sized> RefineHost<'_, V> {
    /// Ω_H (`historical_lookup` = 6): `a` from ω7, `[h, o] = ω8,9`, window `[ω10, ω10 + ω11)`.
    fn historical_lookup(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let r7 = c.reg(7);
        let s = if r7 == u64::MAX && self.view.has_service(self.service) {
            Some(self.service)
        } else {
            u32::try_from(r7).ok().filter(|s| self.view.has_service(*s))
        };
        let Some(h) = hash_at(c, c.reg(8)) else {
            return HostResult::Panic;
        };
        let v = s.and_then(|s| historical_lookup(self.view, s, self.lookup_slot, &h));
        output(c, v, c.reg(9), c.reg(10), c.reg(11))
    }

    /// Ω_E (`export` = 7): `p = ω7`, `z = min(ω8, W_G)`; appends the zero-padded segment.
    fn export(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let p = c.reg(7);
        let z = c.reg(8).min(self.segment_size as u64);
        let Some(mut x) = mem_read(c, p, z) else {
            return HostResult::Panic;
        };
        let index = self.export_offset.saturating_add(self.exports.len() as u64);
        if index >= self.max_exports {
            c.set_reg(7, code::FULL);
            return HostResult::Continue;
        }
        x.resize(self.segment_size, 0);
        self.exports.push(x);
        c.set_reg(7, index);
        HostResult::Continue
    }
}
