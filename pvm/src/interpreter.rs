//! The PVM machine Ψ and its single step Ψ₁ (GP v0.7.2 A.1, A.4 instruction semantics).
//!
//! Gas is charged per *gas block* at block entry (the vectors' model: a block that
//! page-faults part-way has still been charged in full, Ψ_M refunding the rest; a panic on an
//! access below 2^16 refunds the instructions after it, as GP A.1 charges only those Ψ₁
//! steps through). A gas block ends after every instruction of `T`, after an invalid opcode
//! and after `ecalli`.
//! When the gas left is below the cost of the block being entered, execution falls back to
//! a per-instruction slow path so that out-of-gas stops at exactly the instruction GP A.1
//! names, with the prior register state and `ϱ' = ϱ - 1`.

use std::sync::Arc;

use crate::memory::{fast, Memory, RESERVED};
use crate::program::{Instruction, Program, INVALID_TARGET};

/// Why the machine stopped (ε of GP A.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exit {
    /// Regular halt (dynamic jump to 2^32 - 2^16).
    Halt,
    /// Panic (trap, invalid jump, access below 2^16, ...).
    Panic,
    /// Out of gas.
    OutOfGas,
    /// Page fault at the given page address.
    PageFault(u32),
    /// `ecalli` with the given host-call index; `run` again to resume after it.
    HostCall(u32),
}

/// A program loaded into a machine: registers, pc, gas and RAM (the state of GP A.1).
pub struct Instance {
    /// ω: the 13 registers.
    pub regs: [u64; 13],
    /// ı: the program counter. After an exit it is the pc of the instruction that caused it.
    pub pc: u32,
    /// ϱ: the gas left (negative after running out of gas, as `ϱ'` of GP A.1).
    pub gas: i64,
    /// μ: the RAM.
    pub memory: Memory,
    program: Arc<Program>,
    /// After a host-call exit: (pc of the ecalli, instruction index to resume at).
    resume: Option<(u32, u32)>,
    /// After a page-fault exit part-way through a block paid for in full: the gas of the
    /// block's instructions after the faulting one, which never ran (0 otherwise). Ψ_M gives
    /// it back when the fault ends the invocation (see `host::run_invocation`).
    pub(crate) fault_refund: i64,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("regs", &self.regs)
            .field("pc", &self.pc)
            .field("gas", &self.gas)
            .finish()
    }
}

/// One executed instruction, as reported by [`Instance::run_traced`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// The instruction (with its pc).
    pub instruction: Instruction,
    /// Gas left when the instruction started (block costs are charged at block entry).
    pub gas: i64,
    /// Registers whose value changed, with their new values.
    pub regs_written: Vec<(u8, u64)>,
}

/// Internal per-step hook; `ENABLED = false` compiles to nothing.
pub(crate) trait Tracer {
    const ENABLED: bool;
    fn step(&mut self, idx: usize, regs: &[u64; 13], gas: i64);
}

struct NoTrace;

impl Tracer for NoTrace {
    const ENABLED: bool = false;
    #[inline(always)]
    fn step(&mut self, _: usize, _: &[u64; 13], _: i64) {}
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Halt,
    Panic,
    OutOfGas,
    /// Address of the first inaccessible byte.
    Fault(u32),
    Host(u32),
    /// Not enough gas for the block being entered: continue per instruction.
    Slow,
}

impl Instance {
    /// A machine about to execute `program` at `pc`.
    pub fn new(
        program: Arc<Program>,
        memory: Memory,
        regs: [u64; 13],
        pc: u32,
        gas: i64,
    ) -> Instance {
        Instance {
            regs,
            pc,
            gas,
            memory,
            program,
            resume: None,
            fault_refund: 0,
        }
    }

    /// The program this machine runs.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// The pc at which `run` would continue after the last host call, if any.
    pub fn resume_pc(&self) -> Option<u32> {
        let (epc, idx) = self.resume?;
        (epc == self.pc).then(|| self.program.pcs[idx as usize])
    }

    /// Basic Ψ: runs until an exit. After [`Exit::HostCall`], `pc` is the ecalli's pc and
    /// calling `run` again (pc unchanged) resumes at the next instruction.
    pub fn run(&mut self) -> Exit {
        self.run_with(&mut NoTrace)
    }

    /// Like [`Instance::run`], reporting every executed instruction to `on_step`.
    pub fn run_traced(&mut self, on_step: &mut impl FnMut(TraceStep)) -> Exit {
        struct Collect<'a, F: FnMut(TraceStep)> {
            prog: Arc<Program>,
            pending: Option<(usize, [u64; 13], i64)>,
            f: &'a mut F,
        }
        impl<F: FnMut(TraceStep)> Collect<'_, F> {
            fn flush(&mut self, regs: &[u64; 13]) {
                if let Some((idx, before, gas)) = self.pending.take() {
                    let regs_written = (0..13u8)
                        .filter(|&r| before[r as usize] != regs[r as usize])
                        .map(|r| (r, regs[r as usize]))
                        .collect();
                    let instruction = self.prog.instruction_at(self.prog.pcs[idx]);
                    (self.f)(TraceStep {
                        instruction,
                        gas,
                        regs_written,
                    });
                }
            }
        }
        impl<F: FnMut(TraceStep)> Tracer for Collect<'_, F> {
            const ENABLED: bool = true;
            fn step(&mut self, idx: usize, regs: &[u64; 13], gas: i64) {
                self.flush(regs);
                self.pending = Some((idx, *regs, gas));
            }
        }
        let mut c = Collect {
            prog: self.program.clone(),
            pending: None,
            f: on_step,
        };
        let exit = self.run_with(&mut c);
        let regs = self.regs;
        c.flush(&regs);
        exit
    }

    fn run_with<T: Tracer>(&mut self, tracer: &mut T) -> Exit {
        let Instance {
            regs,
            pc,
            gas,
            memory,
            program,
            resume,
            fault_refund,
        } = self;
        *fault_refund = 0;
        let prog: &Program = program;
        let start = match resume.take() {
            Some((epc, idx)) if epc == *pc => Some(idx as usize),
            _ => prog.index_of_pc(*pc),
        };
        let Some(mut idx) = start else {
            // Not an opcode position: ζ gives opcode 0, a trap costing 1.
            *gas = gas.saturating_sub(1);
            return if *gas < 0 {
                Exit::OutOfGas
            } else {
                Exit::Panic
            };
        };
        let cost = prog.insts[idx].z as i64;
        let outcome = if *gas < cost {
            execute::<T, true>(prog, regs, memory, gas, &mut idx, tracer)
        } else {
            *gas -= cost;
            match execute::<T, false>(prog, regs, memory, gas, &mut idx, tracer) {
                Outcome::Slow => execute::<T, true>(prog, regs, memory, gas, &mut idx, tracer),
                // A memory access that fails part-way through a block paid for in full.
                // GP A.1: Ψ charges ϱ_Δ = 1 per instruction Ψ₁ steps through, so the failing
                // access is charged ("some gas is always charged whenever execution is
                // attempted") but the rest of the block never runs. A panic (access below
                // 2^16) refunds it here; a page fault keeps the whole-block charge at this
                // level (as the PVM vectors expect) and leaves the refund to Ψ_M.
                Outcome::Fault(a) => {
                    let rest = (prog.insts[idx].z as i64 - 1).max(0);
                    if a < RESERVED {
                        *gas += rest;
                    } else {
                        *fault_refund = rest;
                    }
                    Outcome::Fault(a)
                }
                o => o,
            }
        };
        *pc = prog.pcs[idx];
        match outcome {
            Outcome::Halt => Exit::Halt,
            Outcome::Panic => Exit::Panic,
            Outcome::OutOfGas => Exit::OutOfGas,
            Outcome::Fault(a) if a < RESERVED => Exit::Panic,
            Outcome::Fault(a) => Exit::PageFault(a & !(crate::memory::PAGE_SIZE - 1)),
            Outcome::Host(n) => {
                *resume = Some((*pc, idx as u32 + 1));
                Exit::HostCall(n)
            }
            Outcome::Slow => unreachable!("slow path never asks for the slow path"),
        }
    }
}

/// ν sign-extended from the 32 bits stored in [`crate::program::Inst`].
#[inline(always)]
fn sx(x: u32) -> u64 {
    x as i32 as i64 as u64
}

/// X_4: sign-extends the low 32 bits.
#[inline(always)]
fn s32(x: u64) -> u64 {
    x as u32 as i32 as i64 as u64
}

#[inline(always)]
fn smod64(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        a.wrapping_rem(b)
    }
}

/// The interpreter loop. `SLOW` charges one gas per instruction instead of per block.
#[inline(always)]
fn execute<T: Tracer, const SLOW: bool>(
    prog: &Program,
    regs: &mut [u64; 13],
    mem: &mut Memory,
    gas: &mut i64,
    idx: &mut usize,
    tracer: &mut T,
) -> Outcome {
    let base = prog.insts.as_ptr();
    let jt: &[u32] = &prog.jump_targets;
    let rp = regs.as_mut_ptr();
    // SAFETY: `*idx` is a valid index of `insts` (checked by the caller).
    let mut ip = unsafe { base.add(*idx) };
    let mut g = *gas;

    // SAFETY (for `reg!`/`set!`): decoded register indices are clamped to 0..=12 by the
    // decoder, and `rp` points to a [u64; 13].
    macro_rules! reg {
        ($n:expr) => {{
            let n = $n as usize;
            unsafe { *rp.add(n) }
        }};
    }
    macro_rules! set {
        ($n:expr, $v:expr) => {{
            let v: u64 = $v;
            let n = $n as usize;
            unsafe { *rp.add(n) = v }
        }};
    }
    // Operand fields are read where used (volatile keeps LLVM from hoisting every field
    // load in front of the dispatch, which costs registers).
    // SAFETY: `ip` points to a live entry of `insts`.
    macro_rules! field {
        ($f:ident) => {
            unsafe { std::ptr::read_volatile(std::ptr::addr_of!((*ip).$f)) }
        };
    }
    macro_rules! a {
        () => {
            field!(a)
        };
    }
    macro_rules! b {
        () => {
            field!(b)
        };
    }
    macro_rules! d {
        () => {
            field!(d)
        };
    }
    macro_rules! x {
        () => {
            field!(x)
        };
    }
    macro_rules! y {
        () => {
            field!(y)
        };
    }
    macro_rules! exit {
        ($o:expr) => {{
            // SAFETY: `ip` and `base` point into the same allocation.
            *idx = unsafe { ip.offset_from(base) } as usize;
            *gas = g;
            return $o;
        }};
    }
    macro_rules! next {
        () => {{
            // SAFETY: every non-terminator is followed by another entry.
            ip = unsafe { ip.add(1) };
            continue;
        }};
    }
    // Enter the gas block starting at the entry `t`.
    macro_rules! goto_ptr {
        ($t:expr) => {{
            let t: *const crate::program::Inst = $t;
            if !SLOW {
                // SAFETY: `t` is a valid entry (see `goto!`).
                let c = unsafe { (*t).z } as i64;
                if g < c {
                    ip = t;
                    exit!(Outcome::Slow);
                }
                g -= c;
            }
            ip = t;
            continue;
        }};
    }
    // SAFETY: static targets, jump-table targets and the entry after a terminator are
    // valid indices of `insts`.
    macro_rules! goto {
        ($t:expr) => {{
            let t = $t as usize;
            goto_ptr!(unsafe { base.add(t) })
        }};
    }
    macro_rules! branch {
        ($cond:expr, $t:expr) => {{
            if $cond {
                goto!($t)
            } else {
                goto_ptr!(unsafe { ip.add(1) })
            }
        }};
    }
    macro_rules! djump {
        ($addr:expr) => {{
            let addr: u32 = $addr;
            if addr == 0xffff_0000 {
                exit!(Outcome::Halt);
            }
            let k = (addr >> 1).wrapping_sub(1) as usize;
            if addr & 1 != 0 {
                exit!(Outcome::Panic);
            }
            let t = if k < jt.len() {
                // SAFETY: k < jt.len() checked above.
                unsafe { *jt.get_unchecked(k) }
            } else if (k as u64) < prog.zero_entries {
                prog.zero_entry_target
            } else {
                INVALID_TARGET
            };
            if t == INVALID_TARGET {
                exit!(Outcome::Panic);
            }
            goto!(t)
        }};
    }
    // The page table never moves while `mem` is borrowed here; see `Memory::table_ptr`.
    let table = mem.table_ptr();
    macro_rules! ld {
        ($f:ident, $addr:expr, $dst:expr, $conv:expr) => {{
            let addr: u32 = $addr;
            // SAFETY: `table` belongs to `mem`, which is not otherwise borrowed.
            let v = match unsafe { fast::$f(table, addr) } {
                Some(v) => v,
                None => match mem.load_slow(addr, width!($f)) {
                    Ok(v) => v,
                    Err(a) => exit!(Outcome::Fault(a)),
                },
            };
            set!($dst, $conv(v))
        }};
    }
    macro_rules! st {
        ($f:ident, $addr:expr, $val:expr) => {{
            let addr: u32 = $addr;
            let val: u64 = $val;
            // SAFETY: `table` belongs to `mem`, which is not otherwise borrowed.
            if !unsafe { fast::$f(table, addr, val) } {
                if let Err(a) = mem.store_slow(addr, width!($f), val) {
                    exit!(Outcome::Fault(a));
                }
            }
        }};
    }
    macro_rules! width {
        (load_u8) => {
            1
        };
        (load_u16) => {
            2
        };
        (load_u32) => {
            4
        };
        (load_u64) => {
            8
        };
        (store_u8) => {
            1
        };
        (store_u16) => {
            2
        };
        (store_u32) => {
            4
        };
        (store_u64) => {
            8
        };
    }
    macro_rules! load {
        ($f:ident, $addr:expr, $dst:expr, $conv:expr) => {{
            ld!($f, $addr, $dst, $conv);
            next!()
        }};
    }
    macro_rules! store {
        ($f:ident, $addr:expr, $val:expr) => {{
            st!($f, $addr, $val);
            next!()
        }};
    }
    // In a fused pair: move on to the second instruction (single-stepping in the slow
    // path and when tracing, where the second entry is dispatched on its own).
    macro_rules! second {
        () => {{
            if SLOW || T::ENABLED {
                next!();
            }
            // SAFETY: the second instruction of a pair is the next entry.
            ip = unsafe { ip.add(1) };
        }};
    }
    let id = |v: u64| v;
    let i8x = |v: u64| v as u8 as i8 as i64 as u64;
    let i16x = |v: u64| v as u16 as i16 as i64 as u64;
    let i32x = |v: u64| v as u32 as i32 as i64 as u64;

    loop {
        // SAFETY: `ip` always points to a valid entry (see `next!` and `goto!`).
        let op = unsafe { (*ip).op };
        debug_assert!(op <= crate::program::fused::MAX_CODE);
        if SLOW {
            // SAFETY: as above.
            if unsafe { (*ip).z } != 0 {
                if g < 1 {
                    g = g.saturating_sub(1);
                    exit!(Outcome::OutOfGas);
                }
                g -= 1;
            }
        }
        if T::ENABLED {
            // SAFETY: `rp` points to the [u64; 13] borrowed by this function.
            let i = unsafe { ip.offset_from(base) } as usize;
            tracer.step(i, unsafe { &*(rp as *const [u64; 13]) }, g);
        }
        use crate::instructions::code as c;
        use crate::program::fused as f;
        match op {
            c::trap => exit!(Outcome::Panic),
            c::fallthrough => goto_ptr!(unsafe { ip.add(1) }),
            c::ecalli => exit!(Outcome::Host(x!())),
            c::load_imm_64 => {
                set!(a!(), x!() as u64 | (y!() as u64) << 32);
                next!()
            }
            c::store_imm_u8 => store!(store_u8, x!(), sx(y!())),
            c::store_imm_u16 => store!(store_u16, x!(), sx(y!())),
            c::store_imm_u32 => store!(store_u32, x!(), sx(y!())),
            c::store_imm_u64 => store!(store_u64, x!(), sx(y!())),
            c::jump => goto!(y!()),
            c::jump_ind => djump!((reg!(a!()) as u32).wrapping_add(x!())),
            c::load_imm => {
                set!(a!(), sx(x!()));
                next!()
            }
            c::load_u8 => load!(load_u8, x!(), a!(), id),
            c::load_i8 => load!(load_u8, x!(), a!(), i8x),
            c::load_u16 => load!(load_u16, x!(), a!(), id),
            c::load_i16 => load!(load_u16, x!(), a!(), i16x),
            c::load_u32 => load!(load_u32, x!(), a!(), id),
            c::load_i32 => load!(load_u32, x!(), a!(), i32x),
            c::load_u64 => load!(load_u64, x!(), a!(), id),
            c::store_u8 => store!(store_u8, x!(), reg!(a!())),
            c::store_u16 => store!(store_u16, x!(), reg!(a!())),
            c::store_u32 => store!(store_u32, x!(), reg!(a!())),
            c::store_u64 => store!(store_u64, x!(), reg!(a!())),
            c::store_imm_ind_u8 => {
                store!(store_u8, (reg!(a!()) as u32).wrapping_add(x!()), sx(y!()))
            }
            c::store_imm_ind_u16 => {
                store!(store_u16, (reg!(a!()) as u32).wrapping_add(x!()), sx(y!()))
            }
            c::store_imm_ind_u32 => {
                store!(store_u32, (reg!(a!()) as u32).wrapping_add(x!()), sx(y!()))
            }
            c::store_imm_ind_u64 => {
                store!(store_u64, (reg!(a!()) as u32).wrapping_add(x!()), sx(y!()))
            }
            c::load_imm_jump => {
                set!(a!(), sx(x!()));
                goto!(y!())
            }
            c::branch_eq_imm => branch!(reg!(a!()) == sx(x!()), y!()),
            c::branch_ne_imm => branch!(reg!(a!()) != sx(x!()), y!()),
            c::branch_lt_u_imm => branch!(reg!(a!()) < sx(x!()), y!()),
            c::branch_le_u_imm => branch!(reg!(a!()) <= sx(x!()), y!()),
            c::branch_ge_u_imm => branch!(reg!(a!()) >= sx(x!()), y!()),
            c::branch_gt_u_imm => branch!(reg!(a!()) > sx(x!()), y!()),
            c::branch_lt_s_imm => branch!((reg!(a!()) as i64) < x!() as i32 as i64, y!()),
            c::branch_le_s_imm => branch!((reg!(a!()) as i64) <= x!() as i32 as i64, y!()),
            c::branch_ge_s_imm => branch!((reg!(a!()) as i64) >= x!() as i32 as i64, y!()),
            c::branch_gt_s_imm => branch!((reg!(a!()) as i64) > x!() as i32 as i64, y!()),
            // Two registers: a!() = r_D, b!() = r_A.
            c::move_reg => {
                set!(a!(), reg!(b!()));
                next!()
            }
            c::sbrk => {
                set!(a!(), mem.sbrk(reg!(b!())));
                next!()
            }
            c::count_set_bits_64 => {
                set!(a!(), reg!(b!()).count_ones() as u64);
                next!()
            }
            c::count_set_bits_32 => {
                set!(a!(), (reg!(b!()) as u32).count_ones() as u64);
                next!()
            }
            c::leading_zero_bits_64 => {
                set!(a!(), reg!(b!()).leading_zeros() as u64);
                next!()
            }
            c::leading_zero_bits_32 => {
                set!(a!(), (reg!(b!()) as u32).leading_zeros() as u64);
                next!()
            }
            c::trailing_zero_bits_64 => {
                set!(a!(), reg!(b!()).trailing_zeros() as u64);
                next!()
            }
            c::trailing_zero_bits_32 => {
                set!(a!(), (reg!(b!()) as u32).trailing_zeros() as u64);
                next!()
            }
            c::sign_extend_8 => {
                set!(a!(), i8x(reg!(b!())));
                next!()
            }
            c::sign_extend_16 => {
                set!(a!(), i16x(reg!(b!())));
                next!()
            }
            c::zero_extend_16 => {
                set!(a!(), reg!(b!()) as u16 as u64);
                next!()
            }
            c::reverse_bytes => {
                set!(a!(), reg!(b!()).swap_bytes());
                next!()
            }
            // Two registers and an immediate: a!() = r_A, b!() = r_B.
            c::store_ind_u8 => store!(store_u8, (reg!(b!()) as u32).wrapping_add(x!()), reg!(a!())),
            c::store_ind_u16 => store!(
                store_u16,
                (reg!(b!()) as u32).wrapping_add(x!()),
                reg!(a!())
            ),
            c::store_ind_u32 => store!(
                store_u32,
                (reg!(b!()) as u32).wrapping_add(x!()),
                reg!(a!())
            ),
            c::store_ind_u64 => store!(
                store_u64,
                (reg!(b!()) as u32).wrapping_add(x!()),
                reg!(a!())
            ),
            c::load_ind_u8 => load!(load_u8, (reg!(b!()) as u32).wrapping_add(x!()), a!(), id),
            c::load_ind_i8 => load!(load_u8, (reg!(b!()) as u32).wrapping_add(x!()), a!(), i8x),
            c::load_ind_u16 => load!(load_u16, (reg!(b!()) as u32).wrapping_add(x!()), a!(), id),
            c::load_ind_i16 => load!(load_u16, (reg!(b!()) as u32).wrapping_add(x!()), a!(), i16x),
            c::load_ind_u32 => load!(load_u32, (reg!(b!()) as u32).wrapping_add(x!()), a!(), id),
            c::load_ind_i32 => load!(load_u32, (reg!(b!()) as u32).wrapping_add(x!()), a!(), i32x),
            c::load_ind_u64 => load!(load_u64, (reg!(b!()) as u32).wrapping_add(x!()), a!(), id),
            c::add_imm_32 => {
                set!(a!(), s32(reg!(b!()).wrapping_add(sx(x!()))));
                next!()
            }
            c::and_imm => {
                set!(a!(), reg!(b!()) & sx(x!()));
                next!()
            }
            c::xor_imm => {
                set!(a!(), reg!(b!()) ^ sx(x!()));
                next!()
            }
            c::or_imm => {
                set!(a!(), reg!(b!()) | sx(x!()));
                next!()
            }
            c::mul_imm_32 => {
                set!(a!(), s32(reg!(b!()).wrapping_mul(sx(x!()))));
                next!()
            }
            c::set_lt_u_imm => {
                set!(a!(), (reg!(b!()) < sx(x!())) as u64);
                next!()
            }
            c::set_lt_s_imm => {
                set!(a!(), ((reg!(b!()) as i64) < x!() as i32 as i64) as u64);
                next!()
            }
            c::shlo_l_imm_32 => {
                set!(a!(), s32(reg!(b!()) << (x!() % 32)));
                next!()
            }
            c::shlo_r_imm_32 => {
                set!(a!(), s32(((reg!(b!()) as u32) >> (x!() % 32)) as u64));
                next!()
            }
            c::shar_r_imm_32 => {
                set!(
                    a!(),
                    ((reg!(b!()) as u32 as i32) >> (x!() % 32)) as i64 as u64
                );
                next!()
            }
            c::neg_add_imm_32 => {
                set!(a!(), s32(sx(x!()).wrapping_sub(reg!(b!()))));
                next!()
            }
            c::set_gt_u_imm => {
                set!(a!(), (reg!(b!()) > sx(x!())) as u64);
                next!()
            }
            c::set_gt_s_imm => {
                set!(a!(), ((reg!(b!()) as i64) > x!() as i32 as i64) as u64);
                next!()
            }
            c::shlo_l_imm_alt_32 => {
                set!(a!(), s32(sx(x!()) << (reg!(b!()) % 32)));
                next!()
            }
            c::shlo_r_imm_alt_32 => {
                set!(a!(), s32((x!() >> (reg!(b!()) % 32)) as u64));
                next!()
            }
            c::shar_r_imm_alt_32 => {
                set!(a!(), ((x!() as i32) >> (reg!(b!()) % 32)) as i64 as u64);
                next!()
            }
            c::cmov_iz_imm => {
                if reg!(b!()) == 0 {
                    set!(a!(), sx(x!()));
                }
                next!()
            }
            c::cmov_nz_imm => {
                if reg!(b!()) != 0 {
                    set!(a!(), sx(x!()));
                }
                next!()
            }
            c::add_imm_64 => {
                set!(a!(), reg!(b!()).wrapping_add(sx(x!())));
                next!()
            }
            c::mul_imm_64 => {
                set!(a!(), reg!(b!()).wrapping_mul(sx(x!())));
                next!()
            }
            c::shlo_l_imm_64 => {
                set!(a!(), reg!(b!()) << (x!() % 64));
                next!()
            }
            c::shlo_r_imm_64 => {
                set!(a!(), reg!(b!()) >> (x!() % 64));
                next!()
            }
            c::shar_r_imm_64 => {
                set!(a!(), ((reg!(b!()) as i64) >> (x!() % 64)) as u64);
                next!()
            }
            c::neg_add_imm_64 => {
                set!(a!(), sx(x!()).wrapping_sub(reg!(b!())));
                next!()
            }
            c::shlo_l_imm_alt_64 => {
                set!(a!(), sx(x!()) << (reg!(b!()) % 64));
                next!()
            }
            c::shlo_r_imm_alt_64 => {
                set!(a!(), sx(x!()) >> (reg!(b!()) % 64));
                next!()
            }
            c::shar_r_imm_alt_64 => {
                set!(a!(), ((sx(x!()) as i64) >> (reg!(b!()) % 64)) as u64);
                next!()
            }
            c::rot_r_64_imm => {
                set!(a!(), reg!(b!()).rotate_right(x!() % 64));
                next!()
            }
            c::rot_r_64_imm_alt => {
                set!(a!(), sx(x!()).rotate_right((reg!(b!()) % 64) as u32));
                next!()
            }
            c::rot_r_32_imm => {
                set!(
                    a!(),
                    s32((reg!(b!()) as u32).rotate_right(x!() % 32) as u64)
                );
                next!()
            }
            c::rot_r_32_imm_alt => {
                set!(
                    a!(),
                    s32(x!().rotate_right((reg!(b!()) % 32) as u32) as u64)
                );
                next!()
            }
            c::branch_eq => branch!(reg!(a!()) == reg!(b!()), y!()),
            c::branch_ne => branch!(reg!(a!()) != reg!(b!()), y!()),
            c::branch_lt_u => branch!(reg!(a!()) < reg!(b!()), y!()),
            c::branch_lt_s => branch!((reg!(a!()) as i64) < reg!(b!()) as i64, y!()),
            c::branch_ge_u => branch!(reg!(a!()) >= reg!(b!()), y!()),
            c::branch_ge_s => branch!((reg!(a!()) as i64) >= reg!(b!()) as i64, y!()),
            c::load_imm_jump_ind => {
                let target = (reg!(b!()) as u32).wrapping_add(y!());
                set!(a!(), sx(x!()));
                djump!(target)
            }
            // Three registers: a!() = r_A, b!() = r_B, d!() = r_D.
            c::add_32 => {
                set!(d!(), s32(reg!(a!()).wrapping_add(reg!(b!()))));
                next!()
            }
            c::sub_32 => {
                set!(d!(), s32(reg!(a!()).wrapping_sub(reg!(b!()))));
                next!()
            }
            c::mul_32 => {
                set!(d!(), s32(reg!(a!()).wrapping_mul(reg!(b!()))));
                next!()
            }
            c::div_u_32 => {
                let (p, q) = (reg!(a!()) as u32, reg!(b!()) as u32);
                set!(d!(), p.checked_div(q).map_or(u64::MAX, |v| s32(v as u64)));
                next!()
            }
            c::div_s_32 => {
                let (p, q) = (reg!(a!()) as u32 as i32, reg!(b!()) as u32 as i32);
                let v = if q == 0 {
                    u64::MAX
                } else if p == i32::MIN && q == -1 {
                    p as i64 as u64
                } else {
                    (p / q) as i64 as u64
                };
                set!(d!(), v);
                next!()
            }
            c::rem_u_32 => {
                let (p, q) = (reg!(a!()) as u32, reg!(b!()) as u32);
                set!(
                    d!(),
                    if q == 0 {
                        s32(p as u64)
                    } else {
                        s32((p % q) as u64)
                    }
                );
                next!()
            }
            c::rem_s_32 => {
                let (p, q) = (reg!(a!()) as u32 as i32, reg!(b!()) as u32 as i32);
                let v = if p == i32::MIN && q == -1 {
                    0
                } else if q == 0 {
                    p as i64 as u64
                } else {
                    (p % q) as i64 as u64
                };
                set!(d!(), v);
                next!()
            }
            c::shlo_l_32 => {
                set!(d!(), s32(reg!(a!()) << (reg!(b!()) % 32)));
                next!()
            }
            c::shlo_r_32 => {
                set!(d!(), s32(((reg!(a!()) as u32) >> (reg!(b!()) % 32)) as u64));
                next!()
            }
            c::shar_r_32 => {
                set!(
                    d!(),
                    ((reg!(a!()) as u32 as i32) >> (reg!(b!()) % 32)) as i64 as u64
                );
                next!()
            }
            c::add_64 => {
                set!(d!(), reg!(a!()).wrapping_add(reg!(b!())));
                next!()
            }
            c::sub_64 => {
                set!(d!(), reg!(a!()).wrapping_sub(reg!(b!())));
                next!()
            }
            c::mul_64 => {
                set!(d!(), reg!(a!()).wrapping_mul(reg!(b!())));
                next!()
            }
            c::div_u_64 => {
                let (p, q) = (reg!(a!()), reg!(b!()));
                set!(d!(), p.checked_div(q).unwrap_or(u64::MAX));
                next!()
            }
            c::div_s_64 => {
                let (p, q) = (reg!(a!()) as i64, reg!(b!()) as i64);
                let v = if q == 0 {
                    u64::MAX
                } else if p == i64::MIN && q == -1 {
                    p as u64
                } else {
                    (p / q) as u64
                };
                set!(d!(), v);
                next!()
            }
            c::rem_u_64 => {
                let (p, q) = (reg!(a!()), reg!(b!()));
                set!(d!(), if q == 0 { p } else { p % q });
                next!()
            }
            c::rem_s_64 => {
                let (p, q) = (reg!(a!()) as i64, reg!(b!()) as i64);
                set!(
                    d!(),
                    if p == i64::MIN && q == -1 {
                        0
                    } else {
                        smod64(p, q) as u64
                    }
                );
                next!()
            }
            c::shlo_l_64 => {
                set!(d!(), reg!(a!()) << (reg!(b!()) % 64));
                next!()
            }
            c::shlo_r_64 => {
                set!(d!(), reg!(a!()) >> (reg!(b!()) % 64));
                next!()
            }
            c::shar_r_64 => {
                set!(d!(), ((reg!(a!()) as i64) >> (reg!(b!()) % 64)) as u64);
                next!()
            }
            c::and => {
                set!(d!(), reg!(a!()) & reg!(b!()));
                next!()
            }
            c::xor => {
                set!(d!(), reg!(a!()) ^ reg!(b!()));
                next!()
            }
            c::or => {
                set!(d!(), reg!(a!()) | reg!(b!()));
                next!()
            }
            c::mul_upper_s_s => {
                set!(
                    d!(),
                    ((reg!(a!()) as i64 as i128 * reg!(b!()) as i64 as i128) >> 64) as u64
                );
                next!()
            }
            c::mul_upper_u_u => {
                set!(
                    d!(),
                    ((reg!(a!()) as u128 * reg!(b!()) as u128) >> 64) as u64
                );
                next!()
            }
            c::mul_upper_s_u => {
                set!(
                    d!(),
                    ((reg!(a!()) as i64 as i128 * reg!(b!()) as i128) >> 64) as u64
                );
                next!()
            }
            c::set_lt_u => {
                set!(d!(), (reg!(a!()) < reg!(b!())) as u64);
                next!()
            }
            c::set_lt_s => {
                set!(d!(), ((reg!(a!()) as i64) < reg!(b!()) as i64) as u64);
                next!()
            }
            c::cmov_iz => {
                if reg!(b!()) == 0 {
                    set!(d!(), reg!(a!()));
                }
                next!()
            }
            c::cmov_nz => {
                if reg!(b!()) != 0 {
                    set!(d!(), reg!(a!()));
                }
                next!()
            }
            c::rot_l_64 => {
                set!(d!(), reg!(a!()).rotate_left((reg!(b!()) % 64) as u32));
                next!()
            }
            c::rot_l_32 => {
                set!(
                    d!(),
                    s32((reg!(a!()) as u32).rotate_left((reg!(b!()) % 32) as u32) as u64)
                );
                next!()
            }
            c::rot_r_64 => {
                set!(d!(), reg!(a!()).rotate_right((reg!(b!()) % 64) as u32));
                next!()
            }
            c::rot_r_32 => {
                set!(
                    d!(),
                    s32((reg!(a!()) as u32).rotate_right((reg!(b!()) % 32) as u32) as u64)
                );
                next!()
            }
            c::and_inv => {
                set!(d!(), reg!(a!()) & !reg!(b!()));
                next!()
            }
            c::or_inv => {
                set!(d!(), reg!(a!()) | !reg!(b!()));
                next!()
            }
            c::xnor => {
                set!(d!(), !(reg!(a!()) ^ reg!(b!())));
                next!()
            }
            c::max => {
                set!(d!(), (reg!(a!()) as i64).max(reg!(b!()) as i64) as u64);
                next!()
            }
            c::max_u => {
                set!(d!(), reg!(a!()).max(reg!(b!())));
                next!()
            }
            c::min => {
                set!(d!(), (reg!(a!()) as i64).min(reg!(b!()) as i64) as u64);
                next!()
            }
            c::min_u => {
                set!(d!(), reg!(a!()).min(reg!(b!())));
                next!()
            }
            // Fused pairs (see `program::fused`): first instruction, `second!()`, second.
            f::ADD_IMM_64_BRANCH_LT_U => {
                set!(a!(), reg!(b!()).wrapping_add(sx(x!())));
                second!();
                branch!(reg!(a!()) < reg!(b!()), y!())
            }
            f::ADD_64_BRANCH_LT_U => {
                set!(d!(), reg!(a!()).wrapping_add(reg!(b!())));
                second!();
                branch!(reg!(a!()) < reg!(b!()), y!())
            }
            // Chained pairs: the second's r_B is the first's result `v` (and its r_A is not).
            f::SHLO_L_IMM_64_XOR => {
                let v = reg!(b!()) << (x!() % 64);
                set!(a!(), v);
                second!();
                set!(d!(), reg!(a!()) ^ v);
                next!()
            }
            f::SHLO_R_IMM_64_XOR => {
                let v = reg!(b!()) >> (x!() % 64);
                set!(a!(), v);
                second!();
                set!(d!(), reg!(a!()) ^ v);
                next!()
            }
            f::LOAD_IND_U8_XOR => {
                let mut v = 0;
                ld!(load_u8, (reg!(b!()) as u32).wrapping_add(x!()), a!(), |l| {
                    v = l;
                    l
                });
                second!();
                set!(d!(), reg!(a!()) ^ v);
                next!()
            }
            f::LOAD_IND_U8_ADD_64 => {
                let mut v = 0;
                ld!(load_u8, (reg!(b!()) as u32).wrapping_add(x!()), a!(), |l| {
                    v = l;
                    l
                });
                second!();
                set!(d!(), reg!(a!()).wrapping_add(v));
                next!()
            }
            f::MUL_64_ADD_64 => {
                let v = reg!(a!()).wrapping_mul(reg!(b!()));
                set!(d!(), v);
                second!();
                set!(d!(), reg!(a!()).wrapping_add(v));
                next!()
            }
            f::MUL_64_ADD_IMM_64 => {
                set!(d!(), reg!(a!()).wrapping_mul(reg!(b!())));
                second!();
                set!(a!(), reg!(b!()).wrapping_add(sx(x!())));
                next!()
            }
            f::STORE_IMM_IND_U8_ADD_64 => {
                st!(store_u8, (reg!(a!()) as u32).wrapping_add(x!()), sx(y!()));
                second!();
                set!(d!(), reg!(a!()).wrapping_add(reg!(b!())));
                next!()
            }
            f::STORE_IND_U64_ADD_IMM_64 => {
                st!(
                    store_u64,
                    (reg!(b!()) as u32).wrapping_add(x!()),
                    reg!(a!())
                );
                second!();
                set!(a!(), reg!(b!()).wrapping_add(sx(x!())));
                next!()
            }
            f::ADD_IMM_64_JUMP_IND => {
                set!(a!(), reg!(b!()).wrapping_add(sx(x!())));
                second!();
                djump!((reg!(a!()) as u32).wrapping_add(x!()))
            }
            f::ADD_IMM_64_STORE_IND_U64 => {
                set!(a!(), reg!(b!()).wrapping_add(sx(x!())));
                second!();
                store!(
                    store_u64,
                    (reg!(b!()) as u32).wrapping_add(x!()),
                    reg!(a!())
                )
            }
            f::LOAD_IND_U64_LOAD_IND_U64 => {
                ld!(load_u64, (reg!(b!()) as u32).wrapping_add(x!()), a!(), id);
                second!();
                load!(load_u64, (reg!(b!()) as u32).wrapping_add(x!()), a!(), id)
            }
            f::STORE_IND_U64_STORE_IND_U64 => {
                st!(
                    store_u64,
                    (reg!(b!()) as u32).wrapping_add(x!()),
                    reg!(a!())
                );
                second!();
                store!(
                    store_u64,
                    (reg!(b!()) as u32).wrapping_add(x!()),
                    reg!(a!())
                )
            }
            f::MOVE_REG_ADD_IMM_64 => {
                set!(a!(), reg!(b!()));
                second!();
                set!(a!(), reg!(b!()).wrapping_add(sx(x!())));
                next!()
            }
            f::ADD_IMM_64_LOAD_IMM_JUMP => {
                set!(a!(), reg!(b!()).wrapping_add(sx(x!())));
                second!();
                set!(a!(), sx(x!()));
                goto!(y!())
            }
            f::ADD_64_LOAD_IND_U64 => {
                set!(d!(), reg!(a!()).wrapping_add(reg!(b!())));
                second!();
                load!(load_u64, (reg!(b!()) as u32).wrapping_add(x!()), a!(), id)
            }
            f::LOAD_IND_U64_ADD_IMM_64 => {
                ld!(load_u64, (reg!(b!()) as u32).wrapping_add(x!()), a!(), id);
                second!();
                set!(a!(), reg!(b!()).wrapping_add(sx(x!())));
                next!()
            }
            f::STORE_IMM_IND_U8_ADD_64_BRANCH_LT_U => {
                st!(store_u8, (reg!(a!()) as u32).wrapping_add(x!()), sx(y!()));
                second!();
                set!(d!(), reg!(a!()).wrapping_add(reg!(b!())));
                second!();
                branch!(reg!(a!()) < reg!(b!()), y!())
            }
            f::STORE_IND_U64_ADD_IMM_64_BRANCH_LT_U => {
                st!(
                    store_u64,
                    (reg!(b!()) as u32).wrapping_add(x!()),
                    reg!(a!())
                );
                second!();
                set!(a!(), reg!(b!()).wrapping_add(sx(x!())));
                second!();
                branch!(reg!(a!()) < reg!(b!()), y!())
            }
            f::MUL_64_ADD_IMM_64_BRANCH_LT_U => {
                set!(d!(), reg!(a!()).wrapping_mul(reg!(b!())));
                second!();
                set!(a!(), reg!(b!()).wrapping_add(sx(x!())));
                second!();
                branch!(reg!(a!()) < reg!(b!()), y!())
            }
            // SAFETY: `Inst::op` only ever holds the GP opcodes matched above and the fused
            // codes of `program::fused` (see the assertion at the top of the loop).
            _ => unsafe { std::hint::unreachable_unchecked() },
        }
    }
}
