//! Unit tests of the PVM as a whole (GP v0.7.2 Appendix A), plus the benchmark kernels.

use std::path::PathBuf;
use std::sync::Arc;

use crate::*;

/// Builds a code blob from instruction byte groups (each group = one instruction).
fn blob(instrs: &[&[u8]], jump_table: &[u32]) -> Vec<u8> {
    let mut code = Vec::new();
    let mut bits = Vec::new();
    for ins in instrs {
        for (i, &b) in ins.iter().enumerate() {
            code.push(b);
            bits.push(i == 0);
        }
    }
    let mut mask = vec![0u8; bits.len().div_ceil(8)];
    for (i, &b) in bits.iter().enumerate() {
        if b {
            mask[i / 8] |= 1 << (i % 8);
        }
    }
    assert!(code.len() < 128 && jump_table.len() < 128);
    let mut out = vec![jump_table.len() as u8, 4, code.len() as u8];
    for &j in jump_table {
        out.extend_from_slice(&j.to_le_bytes());
    }
    out.extend_from_slice(&code);
    out.extend_from_slice(&mask);
    out
}

fn run(instrs: &[&[u8]], jt: &[u32], regs: [u64; 13], gas: i64) -> Instance {
    let p = Program::from_code_blob(&blob(instrs, jt)).unwrap();
    let mut inst = Instance::new(Arc::new(p), Memory::new(), regs, 0, gas);
    let _ = inst.run();
    inst
}

#[test]
fn add_then_implicit_trap() {
    let mut regs = [0u64; 13];
    regs[7] = 1;
    regs[8] = 2;
    let p = Program::from_code_blob(&blob(&[&[200, 0x87, 9]], &[])).unwrap();
    let mut inst = Instance::new(Arc::new(p), Memory::new(), regs, 0, 100);
    assert_eq!(inst.run(), Exit::Panic);
    assert_eq!(inst.regs[9], 3);
    assert_eq!(inst.pc, 3);
    assert_eq!(inst.gas, 98);
}

#[test]
fn out_of_gas_is_per_instruction() {
    // 4 × add_imm_64 r7 += 1, then trap: one gas block of 5.
    let add: &[u8] = &[149, 0x77, 1];
    for gas in 0..5 {
        let p = Program::from_code_blob(&blob(&[add, add, add, add], &[])).unwrap();
        let mut inst = Instance::new(Arc::new(p), Memory::new(), [0; 13], 0, gas);
        assert_eq!(inst.run(), Exit::OutOfGas, "gas {gas}");
        assert_eq!(inst.regs[7], (gas as u64).min(4));
        assert_eq!(inst.pc, 3 * gas as u32);
        assert_eq!(inst.gas, -1);
    }
    let inst = run(&[add, add, add, add], &[], [0; 13], 5);
    assert_eq!((inst.regs[7], inst.gas, inst.pc), (4, 0, 12));
}

#[test]
fn host_call_resumes_after_ecalli() {
    // ecalli 7; add_imm_64 r7 += 1; jump_ind r0 (halt)
    let prog: &[&[u8]] = &[&[10, 7], &[149, 0x77, 1], &[50, 0x00]];
    let p = Program::from_code_blob(&blob(prog, &[])).unwrap();
    let mut regs = [0u64; 13];
    regs[0] = 0xffff_0000;
    let mut inst = Instance::new(Arc::new(p), Memory::new(), regs, 0, 100);
    assert_eq!(inst.run(), Exit::HostCall(7));
    assert_eq!((inst.pc, inst.gas), (0, 99));
    assert_eq!(inst.resume_pc(), Some(2));
    assert_eq!(inst.run(), Exit::Halt);
    assert_eq!((inst.regs[7], inst.pc, inst.gas), (1, 5, 97));

    struct H(u32);
    impl HostCalls for H {
        fn host_call(&mut self, index: u32, ctx: &mut HostContext<'_>) -> HostResult {
            self.0 += index;
            ctx.set_reg(7, 41);
            if ctx.charge(10) {
                HostResult::Continue
            } else {
                HostResult::OutOfGas
            }
        }
    }
    let p = Program::from_code_blob(&blob(prog, &[])).unwrap();
    let mut inst = Instance::new(Arc::new(p), Memory::new(), regs, 0, 100);
    let mut h = H(0);
    assert_eq!(inst.run_with_host(&mut h), Exit::Halt);
    assert_eq!((inst.regs[7], h.0, inst.gas), (42, 7, 87));
}

#[test]
fn zero_width_jump_table_is_not_materialised() {
    // |j| = 2^40 entries of width 0 (all 0), code: jump_ind r1 (r1 = 2 → j[0] = pc 0).
    // E(2^40) = [256 - 2^3 + 1] ⌢ E_5(0); then z = 0, |c| = 2, c, k.
    let b = [0xf9, 0, 0, 0, 0, 0, 0, 2, 50, 0x01, 1];
    let p = Program::from_code_blob(&b).unwrap();
    assert_eq!(p.jump_table_len(), 1 << 40);
    let mut regs = [0u64; 13];
    regs[1] = 2;
    let mut inst = Instance::new(Arc::new(p), Memory::new(), regs, 0, 3);
    assert_eq!(inst.run(), Exit::OutOfGas); // loops on itself until the gas is gone
    assert_eq!(inst.gas, -1);
}

#[test]
fn branches_to_non_block_start_panic() {
    // jump +1 (into the middle of itself: not a block start)
    let inst = run(&[&[40, 1]], &[], [0; 13], 10);
    assert_eq!(inst.pc, 0);
    // djump to an unaligned / out-of-range address panics at the jump
    let mut regs = [0u64; 13];
    regs[3] = 3;
    let p = Program::from_code_blob(&blob(&[&[50, 0x03]], &[0])).unwrap();
    let mut inst = Instance::new(Arc::new(p), Memory::new(), regs, 0, 10);
    assert_eq!(inst.run(), Exit::Panic);
    assert_eq!(inst.pc, 0);
}

#[test]
fn trace_reports_register_writes() {
    let p = Program::from_code_blob(&blob(&[&[51, 0x07, 5], &[149, 0x77, 1]], &[])).unwrap();
    let mut inst = Instance::new(Arc::new(p), Memory::new(), [0; 13], 0, 100);
    let mut steps = Vec::new();
    assert_eq!(inst.run_traced(&mut |s| steps.push(s)), Exit::Panic);
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0].instruction.opcode, Opcode::load_imm);
    assert_eq!(steps[0].regs_written, vec![(7, 5)]);
    assert_eq!(steps[1].regs_written, vec![(7, 6)]);
    assert_eq!(steps[2].instruction.opcode, Opcode::trap);
}

#[test]
fn invoke_returns_output() {
    // Ψ_M of a program that halts immediately: output = args (ω7, ω8 untouched).
    let code = blob(&[&[50, 0x00]], &[]);
    let mut p = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0];
    p.extend_from_slice(&(code.len() as u32).to_le_bytes());
    p.extend_from_slice(&code);
    let r = invoke(&p, 0, 1000, b"hello", &mut NoHostCalls);
    assert_eq!(
        r,
        Invocation {
            gas_used: 1,
            result: Ok(b"hello".to_vec())
        }
    );
    let r = invoke(&p[1..], 0, 1000, b"hello", &mut NoHostCalls);
    assert_eq!(r.result, Err(InvocationFailure::Panic));
}

#[test]
fn hostile_inputs_do_not_crash() {
    // Every single-byte opcode with random-ish operands, at several gas levels.
    for op in 0..=255u8 {
        for tail in [[0u8; 6], [0xff; 6], [0x12, 0x80, 0, 0, 0, 0x80]] {
            let mut ins = vec![op];
            ins.extend_from_slice(&tail);
            let p = Arc::new(Program::from_code_blob(&blob(&[&ins], &[2, 0, 7])).unwrap());
            for gas in [i64::MIN, -1, 0, 1, 3] {
                let mut mem = Memory::new();
                mem.map(0x10000, 0x1000, Access::ReadWrite);
                let mut inst = Instance::new(p.clone(), mem, [0xffff_fff0_0001_0000; 13], 0, gas);
                let _ = inst.run();
                let mut inst = Instance::new(p.clone(), Memory::new(), [u64::MAX; 13], 1, gas);
                let _ = inst.run_traced(&mut |_| {});
            }
        }
    }
}

/// The benchmark kernels: `$JAM_PVM_BENCH`, default `../shared/pvm-bench` beside the
/// repository. A missing folder fails the test with a message, never a silent pass.
fn bench_dir() -> PathBuf {
    let dir = std::env::var_os("JAM_PVM_BENCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/pvm-bench")
        });
    assert!(
        dir.is_dir(),
        "PVM benchmark kernels not found at {} (set JAM_PVM_BENCH to the shared/pvm-bench folder)",
        dir.display()
    );
    dir
}

fn kernel_code(name: &str) -> Vec<u8> {
    let path = bench_dir().join(format!("{name}.code.bin"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const KERNELS: &[(&str, u32)] = &[
    ("alu", 4096),
    ("sieve", 1052672),
    ("hash", 69632),
    ("fib", 65536),
];

/// Fused pairs, per-block gas and the slow path must agree with single-stepping (tracing
/// runs without fusion) at every gas level, including out-of-gas inside fused pairs.
#[test]
fn fast_path_matches_single_stepping() {
    for &(name, stack) in KERNELS {
        let code = kernel_code(name);
        let p = Arc::new(Program::from_code_blob(&code).unwrap());
        for gas in (0..400).chain([1000, 5000]) {
            let mk = || {
                let sp: u32 = 0xfefe_0000;
                let mut mem = Memory::new();
                mem.map(sp - stack, stack, Access::ReadWrite);
                let mut regs = [0u64; 13];
                regs[0] = 0xffff_0000;
                regs[1] = sp as u64;
                Instance::new(p.clone(), mem, regs, 0, gas)
            };
            let mut fast = mk();
            let mut slow = mk();
            let e1 = fast.run();
            let mut steps = 0u64;
            let e2 = slow.run_traced(&mut |_| steps += 1);
            assert_eq!(e1, e2, "{name} gas {gas}");
            assert_eq!(
                (fast.regs, fast.pc, fast.gas),
                (slow.regs, slow.pc, slow.gas),
                "{name} gas {gas}"
            );
            if e1 == Exit::OutOfGas {
                assert_eq!(fast.gas, -1);
                assert_eq!(steps as i64, gas, "{name}: instructions executed");
            }
        }
    }
}

#[test]
fn sbrk_grows_the_heap_and_low_addresses_panic() {
    // sbrk r7, r8; u8 [r7] = r8; jump_ind r0 (halt)
    let code = blob(&[&[101, 0x87], &[120, 0x78], &[50, 0x00]], &[]);
    let mut spi = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0];
    spi.extend_from_slice(&(code.len() as u32).to_le_bytes());
    spi.extend_from_slice(&code);
    let (p, mem, mut regs) = standard_init(&spi, &[]).unwrap();
    assert_eq!(mem.heap_top(), 0x20000);
    regs[8] = 5000;
    let mut inst = Instance::new(Arc::new(p), mem, regs, 0, 100);
    assert_eq!(inst.run(), Exit::Halt);
    assert_eq!(inst.regs[7], 0x20000);
    assert_eq!(inst.memory.heap_top(), 0x20000 + 5000);
    assert_eq!(inst.memory.read_vec(0x20000, 1).unwrap(), vec![0x88]);
    assert!(inst.memory.is_writable(0x21000, 0x1000));
    assert!(!inst.memory.is_readable(0x22000, 1));

    // A load from below 2^16 panics; above, an unmapped page faults with its page address.
    // The panic charges the load only (GP A.1: the implicit trap after it never runs); the
    // page fault keeps the whole block [load, trap] charged at this level, as the vectors do.
    for (addr, exit, gas) in [
        (0x100u64, Exit::Panic, 99),
        (0x12_3456, Exit::PageFault(0x12_3000), 98),
    ] {
        let mut regs = [0u64; 13];
        regs[2] = addr;
        let mut inst = run_with_regs(&[&[124, 0x21]], regs);
        assert_eq!(inst.run(), exit);
        assert_eq!((inst.pc, inst.gas), (0, gas));
    }
}

fn run_with_regs(instrs: &[&[u8]], regs: [u64; 13]) -> Instance {
    let p = Program::from_code_blob(&blob(instrs, &[])).unwrap();
    Instance::new(Arc::new(p), Memory::new(), regs, 0, 100)
}

/// Random straight-line programs over the fused opcodes (and their neighbours): the fused
/// fast path must agree with single-stepping on registers, pc, gas, exit and memory.
#[test]
fn fused_pairs_match_single_stepping_on_random_programs() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for _ in 0..3000 {
        let mut instrs: Vec<Vec<u8>> = Vec::new();
        for _ in 0..rnd(12) + 1 {
            let r = |rnd: &mut dyn FnMut(u64) -> u64| 1 + rnd(4) as u8;
            let (a, b, d) = (r(&mut rnd), r(&mut rnd), r(&mut rnd));
            let imm = rnd(256) as u8;
            instrs.push(match rnd(13) {
                0 => vec![149, b << 4 | a, imm],
                1 => vec![151, b << 4 | a, imm],
                2 => vec![152, b << 4 | a, imm],
                3 => vec![124, b << 4 | a, imm],
                4 => vec![123, b << 4 | a, imm],
                5 => vec![130, b << 4 | a, imm],
                6 => vec![211, b << 4 | a, d],
                7 => vec![200, b << 4 | a, d],
                8 => vec![202, b << 4 | a, d],
                9 => vec![100, b << 4 | a],
                10 => vec![70, 0x10 | a, imm, 0x5a],
                11 => vec![171, b << 4 | a, 0], // branch_ne to itself (not a block start → panic)
                _ => vec![172, b << 4 | a, 0],
            });
        }
        instrs.push(vec![50, 0x00]);
        let refs: Vec<&[u8]> = instrs.iter().map(|v| v.as_slice()).collect();
        let p = Arc::new(Program::from_code_blob(&blob(&refs, &[])).unwrap());
        let mut regs = [0u64; 13];
        regs[0] = 0xffff_0000;
        for r in &mut regs[1..5] {
            *r = if rnd(4) == 0 {
                rnd(u64::MAX)
            } else {
                0x1_0000 + rnd(0x1100)
            };
        }
        for gas in [rnd(8) as i64, 1000] {
            let mk = || {
                let mut mem = Memory::new();
                mem.map(0x1_0000, 0x1000, Access::ReadWrite);
                Instance::new(p.clone(), mem, regs, 0, gas)
            };
            let (mut fast, mut slow) = (mk(), mk());
            let e1 = fast.run();
            let e2 = slow.run_traced(&mut |_| {});
            assert_eq!(e1, e2, "{}", p.disassemble());
            assert_eq!(
                (fast.regs, fast.pc, fast.gas),
                (slow.regs, slow.pc, slow.gas),
                "{}",
                p.disassemble()
            );
            assert_eq!(
                fast.memory.read_vec(0x1_0000, 0x1000),
                slow.memory.read_vec(0x1_0000, 0x1000)
            );
        }
    }
}
