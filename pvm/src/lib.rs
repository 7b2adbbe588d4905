//! JAM PVM: the Polkadot Virtual Machine of Gray Paper v0.7.2, Appendix A.
//!
//! # API
//!
//! - [`Program::from_code_blob`] — GP A.1 `deblob`: `E(|j|) ⌢ E1(z) ⌢ E(|c|) ⌢ E_z(j) ⌢ c ⌢ k`,
//!   validated and decoded once into a compact pre-decoded form. `Program` is immutable,
//!   `Send + Sync`; share it with `Arc`. [`Program::disassemble`], [`Program::instruction_at`]
//!   and [`Program::instructions`] give the disassembly; [`Opcode`] is the one instruction
//!   table (names, formats, terminators) driving decoder, interpreter and disassembler.
//! - [`Memory`] — 4 KiB pages, inaccessible / [`Access::ReadOnly`] / [`Access::ReadWrite`];
//!   `new`, `map`, `unmap`, `write_init` (setup, ignores read-only), `read`, `read_vec`,
//!   `write` (honours access), `is_readable`, `is_writable`, `sbrk`. Faults are returned as
//!   `Err(page address)`. The lowest 2^16 bytes are never mapped.
//! - [`Instance`] — `regs`, `pc`, `gas`, `memory` (public fields). [`Instance::run`] is the
//!   basic Ψ and returns an [`Exit`]: `Halt`, `Panic`, `OutOfGas`, `PageFault(page)`,
//!   `HostCall(index)`. After `HostCall` the pc is the ecalli's; calling `run` again resumes
//!   after it. [`Instance::run_traced`] reports each executed instruction ([`TraceStep`]:
//!   instruction, gas, registers written) without slowing down `run`.
//! - [`HostCalls`] / [`HostContext`] / [`HostResult`] and [`Instance::run_with_host`] — Ψ_H.
//! - [`standard_init`] — GP A.7 `Y(p, a)`: returns the program, the laid-out RAM and registers.
//! - [`invoke`] — Ψ_M (GP A.8): standard init + Ψ_H + result extraction → [`Invocation`].
//!   [`StandardProgram`] decodes a standard blob once; [`invoke_standard`] is Ψ_M on it, so
//!   callers can cache decoded programs (e.g. by code hash) across invocations.
//! - [`asm::assemble`] — the assembler: text in the disassembler's syntax → code blob (A.1),
//!   standard program blob (A.7) and service code blob (GP 9.4); [`asm::services`] holds the
//!   services built from `services/*.s`.
//!
//! # Design (for speed)
//!
//! - `program.rs` decodes once into 16-byte entries (opcode, clamped registers, 32-bit
//!   immediates, static targets as entry indices, the gas cost of the rest of the gas block);
//!   implicit traps are inserted wherever execution would run onto a non-opcode position, so
//!   the loop never bounds-checks the instruction stream. Branches to targets outside ϖ point
//!   at zero-cost trap entries that report the branch's pc. The jump table is resolved to
//!   entry indices.
//! - Hot instruction pairs and triples inside a gas block (loop increments with their branch,
//!   shift+xor, load+alu, stack stores/loads, ...) are fused into superinstructions; the
//!   following entries keep their own opcodes, so entering mid-pair, single-stepping (slow
//!   gas path) and tracing see plain instructions.
//! - `interpreter.rs` is one `match` loop over an instruction pointer, with gas charged at
//!   block entry and a per-instruction slow path used only when the block cannot be paid for.
//! - `memory.rs` uses a flat 2^20-entry page table (backing address | access bits); guest
//!   loads/stores are one table load, one flag/offset test and the access.
//!
//! # Conventions (checked against the public PVM vectors)
//!
//! - Gas: 1 per instruction, charged per gas block at block entry; a page fault part-way
//!   through a block leaves the whole block charged at the Ψ level (as the vectors expect),
//!   but [`invoke`] (Ψ_M), where the fault ends the invocation, and a panic on an access
//!   below 2^16 charge the instructions up to and including the access only (GP A.1, as the
//!   recorded fuzz sessions expect). When the gas
//!   left is less than the block's cost, execution proceeds instruction by instruction and
//!   stops with `OutOfGas` at the first instruction it cannot pay for, registers and pc as
//!   before that instruction and `gas = ϱ - 1` (negative), as GP A.1's ϱ'.
//! - Exit pc: the pc of the instruction that caused the exit (also for halt and panic, as
//!   the vectors expect, rather than the 0 of the outer Ψ).
//! - Memory accesses below 2^16 panic; other inaccessible accesses page-fault with the page
//!   address of the first inaccessible byte; nothing is written on a fault.
//! - `sbrk` (opcode 101) grows the heap from the end of the standard layout's read-write
//!   section; without a standard layout it returns 0.

pub mod asm;
mod host;
mod initialization;
mod instructions;
mod interpreter;
mod memory;
mod program;

pub use host::{
    invoke, invoke_standard, HostCalls, HostContext, HostResult, Invocation, InvocationFailure,
    NoHostCalls,
};
pub use initialization::{standard_init, StandardProgram, MAX_INPUT, ZONE_SIZE};
pub use instructions::{ArgFormat, Opcode};
pub use interpreter::{Exit, Instance, TraceStep};
pub use memory::{Access, Memory, PAGE_SIZE, RESERVED};
pub use program::{decode_natural, Instruction, Program, ProgramError};

#[cfg(test)]
mod tests;
