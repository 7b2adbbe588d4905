//! Fuzzing jam-pvm (GP v0.7.2 Appendix A) against PolkaVM 0.37's interpreter.
//!
//! How to run (from `pvm/fuzz/`; only a stable toolchain is installed, so cargo-fuzz's
//! nightly flags need `RUSTC_BOOTSTRAP=1`):
//!
//! ```text
//! cargo install cargo-fuzz                      # once (0.13.x)
//! python3 seed_corpus.py                        # optional: PVM vector programs as seeds
//! RUSTC_BOOTSTRAP=1 cargo fuzz run -s none differential -- -max_total_time=300
//! RUSTC_BOOTSTRAP=1 cargo fuzz run -s none run_blob     -- -max_total_time=300
//! RUSTC_BOOTSTRAP=1 cargo fuzz run -s none differential artifacts/differential/crash-…  # replay
//! # (drop `-s none` for AddressSanitizer, ~10x slower; JAM_FUZZ_SHOW=1 prints each
//! #  compared case with both results)
//! # without libFuzzer: a seeded random loop over the same entry points
//! cargo run --release --example soak -- differential 300 [seed]
//! cargo run --release --example soak -- run_blob 300 [seed]
//! cargo run --release --example soak -- replay differential <file>...
//! ```
//!
//! The targets are in `fuzz_targets/`; the logic lives here so that `soak` runs it too.
//! - [`differential`]: builds a program from the input ([`gen::case`]), runs it in jam-pvm
//!   (`run` and `run_traced`, which must agree exactly), and, when PolkaVM accepts the same
//!   program, in PolkaVM's interpreter twice (per-instruction and per-block gas metering),
//!   then compares exit reason, pc, registers, gas and every mapped page (rules below).
//!   Up to 3 host calls are resumed in both machines (the "host" writes φ7, φ8).
//!   A divergence panics with a report (program hex, set-up, disassembly, both results).
//! - [`run_blob`]: input bytes → `Program::from_code_blob` → run with 100 000 gas on a
//!   fixed memory; must not panic or hang.

pub mod gen;
pub mod machines;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use jam_pvm::{Access, Exit, Instance, Memory, Opcode, Program};

use gen::{Case, PAGE};
use machines::{run_polkavm, run_program, Metering, Outcome};

/// Counters over the process lifetime (printed by `soak`).
pub struct Stats {
    pub cases: AtomicU64,
    pub raw: AtomicU64,
    /// Cases run in PolkaVM and compared.
    pub compared: AtomicU64,
    /// Cases PolkaVM refused (structured ones only; raw ones are mostly refused).
    pub refused_structured: AtomicU64,
    /// Compared cases that ran out of gas in PolkaVM's per-block metering (only the
    /// per-instruction run is compared in full for those).
    pub block_oog: AtomicU64,
    /// PolkaVM trapped at a not-taken branch to a target outside ϖ (convention 5).
    pub branch_parted: AtomicU64,
    pub exits: [AtomicU64; 5],
}

pub static STATS: Stats = Stats {
    cases: AtomicU64::new(0),
    raw: AtomicU64::new(0),
    compared: AtomicU64::new(0),
    refused_structured: AtomicU64::new(0),
    block_oog: AtomicU64::new(0),
    branch_parted: AtomicU64::new(0),
    exits: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
};

impl Stats {
    pub fn summary(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "cases {} (raw {}), compared with PolkaVM {}, structured refused by PolkaVM {}, per-block OOG {}, parted at invalid branch {}, exits of compared cases: halt {} panic {} oog {} fault {} host {}",
            g(&self.cases),
            g(&self.raw),
            g(&self.compared),
            g(&self.refused_structured),
            g(&self.block_oog),
            g(&self.branch_parted),
            g(&self.exits[0]),
            g(&self.exits[1]),
            g(&self.exits[2]),
            g(&self.exits[3]),
            g(&self.exits[4]),
        )
    }
}

fn exit_index(e: Exit) -> usize {
    match e {
        Exit::Halt => 0,
        Exit::Panic => 1,
        Exit::OutOfGas => 2,
        Exit::PageFault(_) => 3,
        Exit::HostCall(_) => 4,
    }
}

/// The `differential` target.
pub fn differential(data: &[u8]) {
    let Ok(case) = gen::case(data) else { return };
    let n = STATS.cases.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_power_of_two() && n >= 1 << 14 {
        eprintln!("jam-pvm-fuzz stats: {}", STATS.summary());
    }
    if !case.structured {
        STATS.raw.fetch_add(1, Ordering::Relaxed);
    }
    let program = match Program::from_code_blob(&case.blob) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            assert!(!case.structured, "generated blob refused by jam-pvm: {e}\n{}", describe(&case, None));
            return;
        }
    };
    let ours = run_program(program.clone(), &case, false);
    let traced = run_program(program.clone(), &case, true);
    if ours != traced {
        fail(&case, &program, "jam-pvm run() vs run_traced()", &ours, &traced, "results differ");
    }
    if !case.comparable {
        return;
    }
    let Some(polka_blob) = gen::to_polkavm_blob(&case.blob) else { return };
    let per_insn = match run_polkavm(&polka_blob, &case, Metering::PerInstruction) {
        Ok(o) => o,
        Err(e) => {
            if case.structured {
                STATS.refused_structured.fetch_add(1, Ordering::Relaxed);
                if std::env::var_os("JAM_FUZZ_VERBOSE").is_some() {
                    eprintln!("PolkaVM refused a generated program: {e}\n{}", describe(&case, Some(&program)));
                }
            }
            return;
        }
    };
    STATS.compared.fetch_add(1, Ordering::Relaxed);
    if std::env::var_os("JAM_FUZZ_SHOW").is_some() {
        eprintln!(
            "{}jam-pvm: {}\nPolkaVM (per-instruction): {}",
            describe(&case, Some(&program)),
            brief(&ours),
            brief(&per_insn)
        );
    }
    STATS.exits[exit_index(ours.exit)].fetch_add(1, Ordering::Relaxed);
    if let Err(why) = compare_per_instruction(&case, &program, &ours, &per_insn) {
        fail(&case, &program, "PolkaVM per-instruction metering", &ours, &per_insn, &why);
    }
    let block = run_polkavm(&polka_blob, &case, Metering::Block)
        .unwrap_or_else(|e| panic!("PolkaVM accepted the program with per-instruction metering only: {e}"));
    if block.exit == Exit::OutOfGas {
        STATS.block_oog.fetch_add(1, Ordering::Relaxed);
    } else if let Err(why) = compare_block(&case, &program, &ours, &block) {
        fail(&case, &program, "PolkaVM per-block metering", &ours, &block, &why);
    }
}

/// The `run_blob` target.
pub fn run_blob(data: &[u8]) {
    let Ok(program) = Program::from_code_blob(data) else { return };
    let mut memory = Memory::new();
    memory.map(0x1_0000, 2 * PAGE, Access::ReadOnly);
    memory.map(0x2_0000, 4 * PAGE, Access::ReadWrite);
    memory.map(0xfffe_0000, PAGE, Access::ReadWrite);
    let _ = memory.write_init(0x1_0000, &data[..data.len().min(2 * PAGE as usize)]);
    let mut regs = [0u64; 13];
    regs[0] = gen::HALT as u64;
    regs[1] = 0x2_4000;
    for (i, r) in regs.iter_mut().enumerate().skip(2) {
        *r = data.get(i).copied().unwrap_or(0) as u64 * 0x101;
    }
    let mut inst = Instance::new(Arc::new(program), memory, regs, 0, 100_000);
    let exit = inst.run();
    assert!(inst.gas >= -1 && inst.gas <= 100_000, "gas out of range: {} ({exit:?})", inst.gas);
    if let Exit::HostCall(_) = exit {
        // Resume once after the host call: must not panic either.
        let _ = inst.run();
    }
}

// ---------------------------------------------------------------------------------------
// Comparison rules.
//
// Reference: PolkaVM's interpreter with per-instruction metering, which charges 1 gas
// before every instruction as GP A.1's ϱ does. Against it exit reason, pc, registers and
// memory must be identical, and the gas too except for these documented conventions:
//
// 1. Out of gas. GP A.1 ends with ε = ∞ and ϱ' = ϱ - 1 < 0 at the instruction it cannot
//    pay for; jam-pvm reports that ϱ' (always -1 with 1 gas per instruction), PolkaVM
//    leaves its counter at 0 without charging. Pc, registers and memory must still match.
// 2. Gas on a page fault part-way through a block. jam-pvm charges a whole gas block at
//    its entry and keeps that charge on a page fault, as the public PVM test vectors expect
//    (pvm/src/lib.rs "Conventions"); when the block could not be paid in full it runs per
//    instruction instead. So its gas is either the per-instruction value or that value
//    minus the instructions after the faulting one up to the end of its gas block.
//    A panic on an access below 2^16 charges only the instructions up to and including
//    the access (pvm/src/lib.rs "Conventions", GP A.1), i.e. exactly the per-instruction
//    value. (Set JAM_FUZZ_RESERVED_PANIC_WHOLE_BLOCK=1 to accept the older whole-block
//    charge for those panics too.)
// 3. Page-fault address. GP A.1 reports the page of the lowest inaccessible address. For a
//    store straddling a read-only page and an unmapped next page, PolkaVM's
//    `DynamicMemory::store_impl` reports the unmapped (higher) page; accepted as such.
// 4. Halt: PolkaVM's `program_counter()` is `None` after `Finished`; pc is not compared.
// 5. Static branch to a target outside ϖ. GP A.5's branch(b, C) panics only when
//    the condition C holds; otherwise execution continues at the next instruction, and
//    `load_imm_jump` writes φ_A before its branch panics. PolkaVM compiles any branch or
//    jump whose target (or fall-through) is not a valid jump target into an unconditional
//    trap (interpreter.rs `emit_branch!` → `invalid_branch_trap`), so it traps at the
//    branch even when the condition is false and without `load_imm_and_jump`'s write.
//    When PolkaVM traps at such a branch: if the condition (evaluated on PolkaVM's
//    registers, which are those before the branch) holds, jam-pvm must panic there too
//    (with φ_A = ν_X for load_imm_jump); if it does not hold, the runs part ways at that
//    point by design and the case is not compared further.
//
// Second reference: PolkaVM with per-block metering (`GasMeteringKind::Sync`, naive cost
// model), which charges a whole basic block (up to a terminator of GP A.3's T) on entry
// and, when the block cannot be paid in full, stops with NotEnoughGas at the block's
// first instruction having executed none of it. GP A.1 instead runs the block up to the
// instruction that cannot be paid; those runs are therefore only counted (the
// per-instruction run covers them). Other runs must match as above, with gas:
// jam-pvm's gas blocks end at every T instruction and also after `ecalli`, PolkaVM's at
// T only, so ours = PolkaVM's + (PolkaVM block rest after the exit pc) - (our gas block
// rest after the exit pc), the latter taken as 0 for a panic on an access below 2^16
// (refunded, see 2).
//
// 6. Three-register operands: GP A.5.13 takes r_D = min(12, c_{ı+2}) (the whole octet),
//    PolkaVM's `read_args_regs3` min(12, low nibble). `gen::to_polkavm_blob` rewrites that
//    octet to min(12, octet) for PolkaVM when it is inside the instruction, and does not
//    compare the case when it is not (truncated encoding).
//
// Not generated (would be PolkaVM-specific differences, not jam-pvm bugs):
// - `sbrk` (GP 101; PolkaVM 0.37 JamV1 has none; its 101–110 are GP's 102–111, remapped
//   by `gen::to_polkavm_blob`) and bytes that are not GP opcodes (trap in GP A.5, rejected
//   by PolkaVM at load, `2` = `unlikely` in PolkaVM).
// - Programs whose last instruction can fall through or is a branch (generated programs
//   always end with `trap`; raw blobs are compared only when they end with trap, jump,
//   jump_ind, load_imm_jump or load_imm_jump_ind): PolkaVM refuses a trailing
//   non-terminator and traps at any branch whose fall-through target is past the end,
//   taken or not, where GP A.1 reads ζ's zero padding (a trap) past the code.
// - A jump-table entry size of 0 with a non-empty table (GP: all entries 0; PolkaVM: none).
// - The top page 0xffff_f000 mapped: an access whose end reaches 2^32 is treated by
//   PolkaVM as wrapping (trap if that page is mapped), while GP reads addresses mod 2^32.
//   With the page unmapped both report a page fault at 0xffff_f000.
// ---------------------------------------------------------------------------------------

fn is_memory_access(op: Opcode) -> bool {
    matches!(op as u8, 30..=33 | 52..=62 | 70..=73 | 120..=130)
}

fn ends_gas_block(op: Opcode) -> bool {
    op.is_terminator() || op == Opcode::ecalli
}

/// Instructions after `pc` up to and including the end of its block (`ends` decides).
fn block_rest(program: &Program, pc: u32, ends: fn(Opcode) -> bool) -> i64 {
    let ins: Vec<_> = program.instructions().collect();
    let Some(i) = ins.iter().position(|x| x.pc == pc) else { return 0 };
    if ends(ins[i].opcode) {
        return 0;
    }
    let mut n = 0;
    for x in &ins[i + 1..] {
        n += 1;
        if ends(x.opcode) {
            break;
        }
    }
    n
}

fn access_of(case: &Case, page: u32) -> Option<Access> {
    case.pages.iter().find(|(a, _, _)| *a == page).map(|(_, acc, _)| *acc)
}

fn exits_match(case: &Case, ours: Exit, theirs: Exit) -> bool {
    if ours == theirs {
        return true;
    }
    // Convention 3.
    matches!((ours, theirs), (Exit::PageFault(a), Exit::PageFault(b))
        if b == a.wrapping_add(PAGE) && access_of(case, a) == Some(Access::ReadOnly) && access_of(case, b).is_none())
}

/// Convention 5: adjusts PolkaVM's outcome when it trapped at a static branch whose target
/// is not in ϖ. Returns `false` when the case cannot be compared (branch not taken).
fn adjust_invalid_branch(program: &Program, theirs: &mut Outcome, count: bool) -> bool {
    let (Exit::Panic, Some(pc)) = (theirs.exit, theirs.pc) else { return true };
    let ins = program.instruction_at(pc);
    let Some(t) = ins.target else { return true };
    if t >= 0 && t <= u32::MAX as i64 && program.is_basic_block_start(t as u32) {
        return true;
    }
    let a = theirs.regs[ins.ra as usize];
    let b = theirs.regs[ins.rb as usize];
    let x = ins.imm_x;
    let taken = match ins.opcode as u8 {
        40 => true,
        80 => {
            theirs.regs[ins.ra as usize] = ins.imm_x;
            true
        }
        81 => a == x,
        82 => a != x,
        83 => a < x,
        84 => a <= x,
        85 => a >= x,
        86 => a > x,
        87 => (a as i64) < x as i64,
        88 => (a as i64) <= x as i64,
        89 => (a as i64) >= x as i64,
        90 => (a as i64) > x as i64,
        170 => a == b,
        171 => a != b,
        172 => a < b,
        173 => (a as i64) < b as i64,
        174 => a >= b,
        175 => (a as i64) >= b as i64,
        _ => true,
    };
    if !taken && count {
        STATS.branch_parted.fetch_add(1, Ordering::Relaxed);
    }
    taken
}

/// Host-call stops (both machines resume up to `MAX_RESUMES` host calls, with the same
/// register writes by the "host"): exit, pc and registers must match at each, and the gas
/// too when `gas` (per-instruction metering; jam-pvm's gas blocks end at `ecalli`).
fn stops(ours: &Outcome, theirs: &Outcome, gas: bool) -> Result<(), String> {
    if ours.stops.len() != theirs.stops.len() {
        return Err(format!("host-call stops: jam-pvm {:x?}, PolkaVM {:x?}", ours.stops, theirs.stops));
    }
    for (k, (a, b)) in ours.stops.iter().zip(&theirs.stops).enumerate() {
        if a.0 != b.0 || a.1 != b.1 || a.2 != b.2 || (gas && a.3 != b.3) {
            return Err(format!("host-call stop {k}: jam-pvm {a:x?}, PolkaVM {b:x?}"));
        }
    }
    Ok(())
}

fn common(case: &Case, ours: &Outcome, theirs: &Outcome) -> Result<(), String> {
    if !exits_match(case, ours.exit, theirs.exit) {
        return Err(format!("exit: jam-pvm {:?}, PolkaVM {:?}", ours.exit, theirs.exit));
    }
    if ours.exit != Exit::Halt && ours.pc != theirs.pc {
        return Err(format!("pc: jam-pvm {:?}, PolkaVM {:?}", ours.pc, theirs.pc));
    }
    for r in 0..13 {
        if ours.regs[r] != theirs.regs[r] {
            return Err(format!("φ{r}: jam-pvm {:#x}, PolkaVM {:#x}", ours.regs[r], theirs.regs[r]));
        }
    }
    for (k, (a, b)) in ours.memory.iter().zip(&theirs.memory).enumerate() {
        if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
            let addr = case.pages[k].0 + i as u32;
            return Err(format!("memory at {addr:#x}: jam-pvm {:#04x}, PolkaVM {:#04x}", a[i], b[i]));
        }
    }
    Ok(())
}

fn compare_per_instruction(case: &Case, program: &Program, ours: &Outcome, theirs: &Outcome) -> Result<(), String> {
    let mut theirs = theirs.clone();
    if !adjust_invalid_branch(program, &mut theirs, true) {
        return Ok(());
    }
    let theirs = &theirs;
    stops(ours, theirs, true)?;
    common(case, ours, theirs)?;
    let ok = match ours.exit {
        Exit::OutOfGas => ours.gas == -1 && theirs.gas == 0,
        Exit::PageFault(_) => {
            let rest = block_rest(program, ours.pc.unwrap(), ends_gas_block);
            ours.gas == theirs.gas || (theirs.gas >= rest && ours.gas == theirs.gas - rest)
        }
        Exit::Panic if is_memory_access(program.instruction_at(ours.pc.unwrap()).opcode) => {
            if std::env::var_os("JAM_FUZZ_RESERVED_PANIC_WHOLE_BLOCK").is_some() {
                let rest = block_rest(program, ours.pc.unwrap(), ends_gas_block);
                ours.gas == theirs.gas || (theirs.gas >= rest && ours.gas == theirs.gas - rest)
            } else {
                ours.gas == theirs.gas
            }
        }
        _ => ours.gas == theirs.gas,
    };
    if !ok {
        return Err(format!("gas: jam-pvm {}, PolkaVM {}", ours.gas, theirs.gas));
    }
    Ok(())
}

fn compare_block(case: &Case, program: &Program, ours: &Outcome, theirs: &Outcome) -> Result<(), String> {
    let mut theirs = theirs.clone();
    if !adjust_invalid_branch(program, &mut theirs, false) {
        return Ok(());
    }
    let theirs = &theirs;
    stops(ours, theirs, false)?;
    common(case, ours, theirs)?;
    let pc = ours.pc.unwrap();
    let reserved_panic = ours.exit == Exit::Panic
        && is_memory_access(program.instruction_at(pc).opcode)
        && std::env::var_os("JAM_FUZZ_RESERVED_PANIC_WHOLE_BLOCK").is_none();
    let ours_rest = if reserved_panic { 0 } else { block_rest(program, pc, ends_gas_block) };
    let expected = theirs.gas + block_rest(program, pc, Opcode::is_terminator) - ours_rest;
    if ours.gas != expected {
        return Err(format!(
            "gas: jam-pvm {}, PolkaVM {} (expected jam-pvm {expected} after block adjustment)",
            ours.gas, theirs.gas
        ));
    }
    Ok(())
}

/// A human-readable description of a case (the reproducer).
pub fn describe(case: &Case, program: Option<&Program>) -> String {
    let mut s = String::new();
    s += &format!("GP code blob ({} bytes): {}\n", case.blob.len(), hex(&case.blob));
    if let Some(pb) = gen::to_polkavm_blob(&case.blob) {
        if pb != case.blob {
            s += &format!("PolkaVM code_and_jump_table: {}\n", hex(&pb));
        }
    }
    s += &format!("pc {} gas {}\nregs {:#x?}\n", case.pc, case.gas, case.regs);
    for (addr, access, content) in &case.pages {
        s += &format!("page {addr:#010x} {access:?} first bytes {}\n", hex(&content[..16]));
    }
    if let Some(p) = program {
        s += &format!("jump table {:?}\n{}", p.jump_table(), p.disassemble());
    }
    s
}

fn fail(case: &Case, program: &Program, against: &str, ours: &Outcome, theirs: &Outcome, why: &str) -> ! {
    panic!(
        "DIVERGENCE vs {against}: {why}\n{}jam-pvm: {}\nother:   {}\n",
        describe(case, Some(program)),
        brief(ours),
        brief(theirs)
    );
}

fn brief(o: &Outcome) -> String {
    format!("exit {:?} pc {:?} gas {} regs {:x?} host-call stops {:x?}", o.exit, o.pc, o.gas, o.regs, o.stops)
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
