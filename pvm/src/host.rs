//! Host calls Ψ_H (GP v0.7.2 A.6) and the argument invocation Ψ_M (GP A.8).

use std::sync::Arc;

use crate::initialization::{standard_init, StandardProgram};
use crate::interpreter::{Exit, Instance};
use crate::memory::Memory;
use crate::program::{Program, ProgramError};

/// What a host call decided (the ε of the context mutator f in GP A.6, plus page faults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostResult {
    /// Continue after the `ecalli`.
    Continue,
    Halt,
    Panic,
    OutOfGas,
    PageFault(u32),
}

/// The machine state a host call may inspect and change.
pub struct HostContext<'a> {
    pub regs: &'a mut [u64; 13],
    pub gas: &'a mut i64,
    pub memory: &'a mut Memory,
}

impl HostContext<'_> {
    /// Charges `amount` gas; returns false (leaving the gas negative) when it ran out,
    /// in which case the host call should return [`HostResult::OutOfGas`].
    pub fn charge(&mut self, amount: u64) -> bool {
        *self.gas = self.gas.saturating_sub(amount.min(i64::MAX as u64) as i64);
        *self.gas >= 0
    }

    /// Register ω_i.
    pub fn reg(&self, i: usize) -> u64 {
        self.regs[i]
    }

    /// Sets register ω_i.
    pub fn set_reg(&mut self, i: usize, v: u64) {
        self.regs[i] = v;
    }

    /// Reads guest memory; `Err` holds the page address of the first unreadable byte.
    pub fn read(&self, addr: u32, len: u32) -> Result<Vec<u8>, u32> {
        self.memory.read_vec(addr, len)
    }

    /// Writes guest memory honouring access; `Err` holds the first unwritable page address.
    pub fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), u32> {
        self.memory.write(addr, data)
    }
}

/// Host functions, implemented by the embedder (accumulate, refine, ...).
pub trait HostCalls {
    /// Handles `ecalli index`. Gas for the call is charged here, as the embedder decides.
    fn host_call(&mut self, index: u32, ctx: &mut HostContext<'_>) -> HostResult;
}

/// A host that ends the machine with a panic on any host call.
pub struct NoHostCalls;

impl HostCalls for NoHostCalls {
    fn host_call(&mut self, _: u32, _: &mut HostContext<'_>) -> HostResult {
        HostResult::Panic
    }
}

impl Instance {
    /// Ψ_H: runs, handing every `ecalli` to `host` and resuming after it while the host
    /// says [`HostResult::Continue`]. Never returns [`Exit::HostCall`].
    pub fn run_with_host<H: HostCalls + ?Sized>(&mut self, host: &mut H) -> Exit {
        loop {
            match self.run() {
                Exit::HostCall(index) => {
                    let mut ctx = HostContext {
                        regs: &mut self.regs,
                        gas: &mut self.gas,
                        memory: &mut self.memory,
                    };
                    match host.host_call(index, &mut ctx) {
                        HostResult::Continue => {}
                        HostResult::Halt => return Exit::Halt,
                        HostResult::Panic => return Exit::Panic,
                        HostResult::OutOfGas => return Exit::OutOfGas,
                        HostResult::PageFault(a) => return Exit::PageFault(a),
                    }
                }
                exit => return exit,
            }
        }
    }
}

/// The non-blob results of Ψ_M.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvocationFailure {
    Panic,
    OutOfGas,
}

/// The result of Ψ_M: gas used and the output blob or failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// u = ϱ - max(ϱ', 0).
    pub gas_used: u64,
    pub result: Result<Vec<u8>, InvocationFailure>,
}

/// Ψ_M (GP A.8): standard initialisation of `program` (the A.7 encoding) with `args`,
/// then Ψ_H from `pc` with `gas`, then result extraction from ω7/ω8.
pub fn invoke<H: HostCalls + ?Sized>(
    program: &[u8],
    pc: u32,
    gas: u64,
    args: &[u8],
    host: &mut H,
) -> Invocation {
    let Ok((prog, memory, regs)) = standard_init(program, args) else {
        return PANIC_AT_INIT;
    };
    run_invocation(Arc::new(prog), memory, regs, pc, gas, host)
}

/// Ψ_M for an already decoded standard program (or the result of decoding one): the same
/// result as [`invoke`] on the blob, without decoding its code again.
pub fn invoke_standard<H: HostCalls + ?Sized>(
    program: Result<&StandardProgram, &ProgramError>,
    pc: u32,
    gas: u64,
    args: &[u8],
    host: &mut H,
) -> Invocation {
    let Some((prog, memory, regs)) = program.ok().and_then(|p| p.init(args).ok()) else {
        return PANIC_AT_INIT;
    };
    run_invocation(prog, memory, regs, pc, gas, host)
}

const PANIC_AT_INIT: Invocation = Invocation {
    gas_used: 0,
    result: Err(InvocationFailure::Panic),
};

fn run_invocation<H: HostCalls + ?Sized>(
    prog: Arc<Program>,
    memory: Memory,
    regs: [u64; 13],
    pc: u32,
    gas: u64,
    host: &mut H,
) -> Invocation {
    let gas = gas.min(i64::MAX as u64) as i64;
    let mut inst = Instance::new(prog, memory, regs, pc, gas);
    let exit = inst.run_with_host(host);
    if let Exit::PageFault(_) = exit {
        // The fault ends the invocation (a panic for Ψ_M): the instructions of the block
        // after the faulting one never ran and are not charged (GP A.1, per-instruction ϱ_Δ).
        inst.gas += inst.fault_refund;
    }
    let gas_used = (gas - inst.gas.max(0)).max(0) as u64;
    let result = match exit {
        Exit::OutOfGas => Err(InvocationFailure::OutOfGas),
        Exit::Halt => {
            let (start, len) = (inst.regs[7], inst.regs[8]);
            let readable = start <= u32::MAX as u64
                && len <= u32::MAX as u64
                && start + len <= 1u64 << 32
                && inst.memory.is_readable(start as u32, len as u32);
            if readable {
                Ok(inst
                    .memory
                    .read_vec(start as u32, len as u32)
                    .unwrap_or_default())
            } else {
                Ok(Vec::new())
            }
        }
        _ => Err(InvocationFailure::Panic),
    };
    Invocation { gas_used, result }
}
