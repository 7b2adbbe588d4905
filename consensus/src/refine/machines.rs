//! Inner PVM guests `m ∈ ⟨N → G⟩` of the refine context (GP v0.7.2 eq. B.9 and B.8 `machine`,
//! `peek`, `poke`, `pages`, `invoke`, `expunge`).

use crate::general::{code, mem_read};
use jam_pvm::{Access, Exit, HostContext, HostResult, Instance, Memory, Program, PAGE_SIZE};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Result codes of an inner invocation (GP B.1).
pub mod inner {
    pub const HALT: u64 = 0;
    pub const PANIC: u64 = 1;
    pub const FAULT: u64 = 2;
    pub const HOST: u64 = 3;
    pub const OOG: u64 = 4;
}

/// A guest `G = (p: code, u: RAM, i: pc)` (eq. B.9), kept as a loaded machine (its code
/// decoded once, its RAM in place) so that `invoke` moves nothing.
pub struct Guest {
    inst: Instance,
    pc: u64,
}

impl std::fmt::Debug for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest").field("pc", &self.pc).finish()
    }
}

impl Guest {
    /// The guest's program counter.
    pub fn pc(&self) -> u64 {
        self.pc
    }
    /// The guest's RAM.
    pub fn ram(&self) -> &Memory {
        &self.inst.memory
    }
}

/// Pages in the 32-bit address space (`2^32 / Z_P`).
const PAGES: u64 = (1u64 << 32) / PAGE_SIZE as u64;
/// Pages of the reserved lowest 2^16 octets.
const RESERVED_PAGES: u64 = 16;

/// Whether `[o, o + z)` of `m` is writable (`V*_μ`), for u64 register operands.
fn writable(m: &Memory, o: u64, z: u64) -> bool {
    z == 0
        || (o.checked_add(z).is_some_and(|e| e <= 1 << 32)
            && z <= u32::MAX as u64
            && m.is_writable(o as u32, z as u32))
}

/// Whether `[o, o + z)` of `m` is readable (`V_μ`).
fn readable(m: &Memory, o: u64, z: u64) -> bool {
    z == 0
        || (o.checked_add(z).is_some_and(|e| e <= 1 << 32)
            && z <= u32::MAX as u64
            && m.is_readable(o as u32, z as u32))
}

/// The guests of one refine invocation, by index.
#[derive(Debug, Default)]
pub struct Machines {
    guests: BTreeMap<u64, Guest>,
}

impl Machines {
    /// The guest with index `n`.
    pub fn get(&self, n: u64) -> Option<&Guest> {
        self.guests.get(&n)
    }

    /// Number of live guests.
    pub fn len(&self) -> usize {
        self.guests.len()
    }

    /// Whether there are no guests.
    pub fn is_empty(&self) -> bool {
        self.guests.is_empty()
    }

    /// Ω_M (`machine` = 8): `[p_O, p_Z, i] = ω7..9`.
    pub fn machine(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let (po, pz, i) = (c.reg(7), c.reg(8), c.reg(9));
        let Some(p) = mem_read(c, po, pz) else {
            return HostResult::Panic;
        };
        let Ok(program) = Program::from_code_blob(&p) else {
            c.set_reg(7, code::HUH);
            return HostResult::Continue;
        };
        let n = (0u64..)
            .find(|n| !self.guests.contains_key(n))
            .expect("fewer than 2^64 guests");
        let inst = Instance::new(Arc::new(program), Memory::new(), [0; 13], 0, 0);
        self.guests.insert(n, Guest { inst, pc: i });
        c.set_reg(7, n);
        HostResult::Continue
    }

    /// Ω_P (`peek` = 9): `[n, o, s, z] = ω7..10`, copies guest `[s, s+z)` to `[o, o+z)`.
    pub fn peek(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let (n, o, s, z) = (c.reg(7), c.reg(8), c.reg(9), c.reg(10));
        if !writable(c.memory, o, z) {
            return HostResult::Panic;
        }
        let Some(g) = self.guests.get(&n) else {
            c.set_reg(7, code::WHO);
            return HostResult::Continue;
        };
        if !readable(&g.inst.memory, s, z) {
            c.set_reg(7, code::OOB);
            return HostResult::Continue;
        }
        if z > 0 {
            let data = g
                .inst
                .memory
                .read_vec(s as u32, z as u32)
                .expect("checked readable");
            c.write(o as u32, &data).expect("checked writable");
        }
        c.set_reg(7, code::OK);
        HostResult::Continue
    }

    /// Ω_O (`poke` = 10): `[n, s, o, z] = ω7..10`, copies `[s, s+z)` to guest `[o, o+z)`.
    pub fn poke(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let (n, s, o, z) = (c.reg(7), c.reg(8), c.reg(9), c.reg(10));
        let Some(data) = mem_read(c, s, z) else {
            return HostResult::Panic;
        };
        let Some(g) = self.guests.get_mut(&n) else {
            c.set_reg(7, code::WHO);
            return HostResult::Continue;
        };
        if !writable(&g.inst.memory, o, z) {
            c.set_reg(7, code::OOB);
            return HostResult::Continue;
        }
        if z > 0 {
            g.inst
                .memory
                .write(o as u32, &data)
                .expect("checked writable");
        }
        c.set_reg(7, code::OK);
        HostResult::Continue
    }

    /// Ω_Z (`pages` = 11): `[n, p, c, r] = ω7..10`, sets the access (and zeroes for `r < 3`)
    /// of guest pages `[p, p + c)`.
    pub fn pages(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let (n, p, count, r) = (c.reg(7), c.reg(8), c.reg(9), c.reg(10));
        let Some(g) = self.guests.get_mut(&n) else {
            c.set_reg(7, code::WHO);
            return HostResult::Continue;
        };
        let end = p.checked_add(count);
        if r > 4 || p < RESERVED_PAGES || end.is_none_or(|e| e >= PAGES) {
            c.set_reg(7, code::HUH);
            return HostResult::Continue;
        }
        let (start, len) = (
            (p * PAGE_SIZE as u64) as u32,
            (count * PAGE_SIZE as u64) as u32,
        );
        if r > 2
            && (p..p + count).any(|q| {
                g.inst
                    .memory
                    .access((q * PAGE_SIZE as u64) as u32)
                    .is_none()
            })
        {
            c.set_reg(7, code::HUH);
            return HostResult::Continue;
        }
        if len > 0 {
            if r < 3 {
                g.inst.memory.unmap(start, len);
            }
            match r {
                1 | 3 => g.inst.memory.map(start, len, Access::ReadOnly),
                2 | 4 => g.inst.memory.map(start, len, Access::ReadWrite),
                _ => {}
            }
        }
        c.set_reg(7, code::OK);
        HostResult::Continue
    }

    /// Ω_K (`invoke` = 12): `[n, o] = ω7,8`; runs guest `n` (basic Ψ) with the gas and 13
    /// registers encoded at `[o, o + 112)`, writing them back afterwards.
    pub fn invoke(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let (n, o) = (c.reg(7), c.reg(8));
        if !writable(c.memory, o, 112) {
            return HostResult::Panic;
        }
        let raw = mem_read(c, o, 112).expect("writable memory is readable");
        let word = |k: usize| u64::from_le_bytes(raw[8 * k..8 * k + 8].try_into().expect("8"));
        let gas = word(0);
        let mut regs = [0u64; 13];
        for (k, r) in regs.iter_mut().enumerate() {
            *r = word(k + 1);
        }
        let Some(g) = self.guests.get_mut(&n) else {
            c.set_reg(7, code::WHO);
            return HostResult::Continue;
        };
        let inst = &mut g.inst;
        // A pc beyond 32 bits is no opcode position: the run traps, as at any such pc.
        inst.pc = u32::try_from(g.pc).unwrap_or(u32::MAX);
        inst.regs = regs;
        inst.gas = gas.min(i64::MAX as u64) as i64;
        let exit = inst.run();
        let (status, r8) = match exit {
            Exit::Halt => (inner::HALT, c.reg(8)),
            Exit::Panic => (inner::PANIC, c.reg(8)),
            Exit::OutOfGas => (inner::OOG, c.reg(8)),
            Exit::PageFault(x) => (inner::FAULT, x as u64),
            Exit::HostCall(h) => (inner::HOST, h as u64),
        };
        g.pc = match exit {
            Exit::HostCall(_) => inst.resume_pc().unwrap_or(inst.pc) as u64,
            _ => inst.pc as u64,
        };
        let mut out = Vec::with_capacity(112);
        out.extend_from_slice(&(inst.gas.max(0) as u64).to_le_bytes());
        for r in inst.regs {
            out.extend_from_slice(&r.to_le_bytes());
        }
        c.write(o as u32, &out).expect("checked writable");
        c.set_reg(7, status);
        c.set_reg(8, r8);
        HostResult::Continue
    }

    /// Ω_X (`expunge` = 13): `n = ω7`; removes guest `n`, ω7 = its pc.
    pub fn expunge(&mut self, c: &mut HostContext<'_>) -> HostResult {
        match self.guests.remove(&c.reg(7)) {
            Some(g) => c.set_reg(7, g.pc),
            None => c.set_reg(7, code::WHO),
        }
        HostResult::Continue
    }
}
