//! Tests of the assembler: every GP v0.7.2 A.5 instruction against the decoder, labels, data,
//! errors, execution, and the public PVM test vectors' programs.

use std::path::PathBuf;
use std::sync::Arc;

use super::*;
use crate::instructions::ArgFormat;
use crate::{invoke, Exit, Instance, InvocationFailure, Memory, NoHostCalls};

/// Immediates covering every encoded length (0..=4 octets, both signs).
const IMMS: &[i64] = &[
    0,
    1,
    -1,
    127,
    -128,
    128,
    -129,
    0x7fff,
    -0x8000,
    0x12_3456,
    -0x80_0000,
    0x7fff_ffff,
    -0x8000_0000,
];

/// The disassembler's text of `op` with registers `a`, `b`, `d`, immediates `x`, `y` and
/// target `t` (for one-instruction programs).
fn text(op: Opcode, (a, b, d): (u8, u8, u8), x: i64, y: i64, t: u32) -> String {
    let name = op.name();
    match op.format() {
        ArgFormat::NoArgs => name.to_string(),
        ArgFormat::OneImm => format!("{name} {}", x as u32),
        ArgFormat::RegExtImm => format!("{name} r{a}, {:#x}", x as u64 ^ 0x5555_0000_0000),
        ArgFormat::TwoImm => format!("{name} [{:#x}], {y}", x as u32),
        ArgFormat::OneOffset => format!("{name} @{t}"),
        ArgFormat::RegImm => format!("{name} r{a}, {x}"),
        ArgFormat::RegTwoImm => format!("{name} [r{a} + {x}], {y}"),
        ArgFormat::RegImmOffset => format!("{name} r{a}, {x}, @{t}"),
        ArgFormat::TwoRegs => format!("{name} r{a}, r{b}"),
        ArgFormat::TwoRegsImm => format!("{name} r{a}, r{b}, {x}"),
        ArgFormat::TwoRegsOffset => format!("{name} r{a}, r{b}, @{t}"),
        ArgFormat::TwoRegsTwoImm => format!("{name} r{a}, r{b}, {x}, {y}"),
        ArgFormat::ThreeRegs => format!("{name} r{d}, r{a}, r{b}"),
    }
}

#[test]
fn every_instruction_round_trips_through_the_decoder() {
    let mut checked = 0;
    for &op in Opcode::ALL {
        for (k, &x) in IMMS.iter().enumerate() {
            let y = IMMS[(k * 5 + 3) % IMMS.len()];
            let regs = (
                (k % 13) as u8,
                ((k * 7 + 1) % 13) as u8,
                ((k * 3 + 2) % 13) as u8,
            );
            let src = text(op, regs, x, y, 0);
            let asm = assemble(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
            let p = asm.program().unwrap();
            let ins = p.instruction_at(0);
            assert_eq!(ins.opcode, op, "{src}");
            assert_eq!(ins.to_string(), src, "decoded text of {:?}", asm.code);
            assert_eq!(ins.len as usize, asm.code.len(), "{src}");
            assert_eq!(asm.opcode_at(0), Some(op));
            // The disassembly assembles back to the same code.
            let again = assemble(&p.disassemble()).unwrap();
            assert_eq!(again.code_blob(), asm.code_blob(), "{src}");
            checked += 1;
        }
    }
    assert_eq!(checked, 139 * IMMS.len());
}

#[test]
fn shortest_encodings() {
    let code = |s: &str| assemble(s).unwrap().code;
    assert_eq!(code("add_64 r9, r7, r8"), [200, 0x87, 9]);
    assert_eq!(code("add_imm_64 r7, r7, 1"), [149, 0x77, 1]);
    assert_eq!(code("add_imm_64 r7, r8, 0"), [149, 0x87]);
    assert_eq!(code("load_imm r7, 255"), [51, 7, 255, 0]);
    assert_eq!(code("load_imm r7, -1"), [51, 7, 255]);
    assert_eq!(code("load_imm r7, 0xffffffff"), [51, 7, 255]);
    assert_eq!(code("load_imm r7, 0xffffffffffffffff"), [51, 7, 255]);
    assert_eq!(code("ecalli 100"), [10, 100]);
    assert_eq!(code("store_imm_u8 [0x20000], 5"), [30, 3, 0, 0, 2, 5]);
    assert_eq!(code("store_imm_ind_u32 [sp - 8], 0"), [72, 0x11, 0xf8]);
    assert_eq!(code("load_imm_jump_ind ra, a0, 2, 0"), [180, 0x70, 1, 2]);
    assert_eq!(code("load_imm_64 a1, 1"), [20, 8, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(code("jump @0"), [40]);
    assert_eq!(code("move_reg r7, r8"), [100, 0x87]);
    assert_eq!(code("trap\nfallthrough"), [0, 1]);
}

#[test]
fn labels_targets_and_jump_table() {
    let src = "
        start:  load_imm r7, 0      ; 2 octets
                jump @next          ; forward
        back:   add_imm_64 r7, r7, 1
                fallthrough         ; `next` must start a basic block
        next:   branch_lt_u_imm r7, 3, back
                load_imm r8, &sub
                jump_ind r8, 0
        sub:    jump start
        end:
    ";
    let a = assemble(src).unwrap();
    let p = a.program().unwrap();
    let pc = |l: &str| a.symbol(l).unwrap() as u32;
    assert_eq!(pc("start"), 0);
    assert_eq!(p.instruction_at(2).target, Some(pc("next") as i64));
    assert_eq!(p.instruction_at(pc("next")).target, Some(pc("back") as i64));
    assert_eq!(a.jump_table, vec![pc("sub")]);
    assert_eq!(p.instruction_at(pc("sub")).target, Some(0));
    assert_eq!(pc("end") as usize, a.code.len());
    for l in ["back", "next", "sub"] {
        assert!(p.is_basic_block_start(pc(l)), "{l}");
    }
    // Explicit entries come first; `&` of a listed label reuses its entry.
    let a =
        assemble(".jump_table @b, @a, @7\nload_imm r0, &a\nfallthrough\na: trap\nb: trap").unwrap();
    assert_eq!(a.jump_table, vec![5, 4, 7]);
    assert_eq!(a.code[..3], [51, 0, 4]);
}

#[test]
fn long_branches_grow_until_they_fit() {
    // A branch over 200 octets needs a 2-octet offset; the loop must converge.
    let mut src = String::from("top: branch_eq r1, r2, @bottom\n");
    for _ in 0..70 {
        src.push_str("add_64 r1, r1, r2\n");
    }
    src.push_str("fallthrough\nbottom: jump @top\n");
    let a = assemble(&src).unwrap();
    let p = a.program().unwrap();
    let bottom = a.symbol("bottom").unwrap();
    assert_eq!(bottom, 4 + 70 * 3 + 1);
    assert_eq!(p.instruction_at(0).target, Some(bottom as i64));
    assert_eq!(p.instruction_at(bottom as u32).target, Some(0));
    assert_eq!(a.code[bottom as usize..], [40, 0x29, 0xff]); // -215
}

#[test]
fn org_pads_the_previous_instruction() {
    let a = assemble("jump @refine\n.org 5\njump @acc\nrefine: trap\nacc: fallthrough").unwrap();
    assert_eq!(a.code, [40, 7, 0, 0, 0, 40, 3, 0, 1]);
    let p = a.program().unwrap();
    assert_eq!(p.instruction_at(0).target, Some(7));
    assert_eq!(p.instruction_at(5).target, Some(8));
    // Listing addresses pad the same way; the final `pc: trap` is the implicit trap.
    let a = assemble("0: load_imm r1, 1\n5: trap\n6: trap").unwrap();
    assert_eq!(a.code, [51, 1, 1, 0, 0, 0]);
    assert_eq!(a.program().unwrap().instruction_at(0).imm_x, 1);
}

#[test]
fn data_sections_and_constants() {
    let src = r#"
        .equ  N, 3
        .equ  TWICE, N + N
        .stack_size 0x1000
        .heap_pages 2
        .metadata "demo\x00"
        .ro_data
        msg:    .ascii "hi"
        .align 8
        words:  .u32 N, -1
        .rw_data
        .zero TWICE
        cell:   .u64 msg + 1
        .code
                load_imm r7, cell
                load_imm r8, words - msg
    "#;
    let a = assemble(src).unwrap();
    assert_eq!(
        a.ro_data,
        [b'h', b'i', 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 255, 255, 255, 255]
    );
    assert_eq!(a.symbol("msg"), Some(0x10000));
    assert_eq!(a.symbol("words"), Some(0x10008));
    assert_eq!(a.symbol("cell"), Some(0x30006));
    assert_eq!(a.rw_data, [0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
    assert_eq!((a.stack_size, a.heap_pages), (0x1000, 2));
    assert_eq!(a.metadata, b"demo\0");
    let p = a.program().unwrap();
    assert_eq!(p.instruction_at(0).imm_x, 0x30006);
    // The blobs decode as GP A.7 / GP 9.4 say.
    let std_blob = a.standard_blob();
    let (_, mem, regs) = crate::standard_init(&std_blob, &[]).unwrap();
    assert_eq!(mem.read_vec(0x10008, 4).unwrap(), [3, 0, 0, 0]);
    assert_eq!(mem.read_vec(0x30006, 2).unwrap(), [1, 0]);
    assert!(mem.is_writable(0x30000, 0x3000));
    assert_eq!(regs[1], 0xfefe_0000);
    let svc = a.service_blob();
    assert_eq!(svc[0], 5);
    assert_eq!(&svc[1..6], b"demo\0");
    assert_eq!(&svc[6..], &std_blob[..]);
}

fn line_err(src: &str) -> (usize, AsmErrorKind) {
    let e = assemble(src).unwrap_err();
    (e.line, e.kind)
}

#[test]
fn errors_carry_line_numbers() {
    use AsmErrorKind as K;
    assert_eq!(
        line_err("trap\n  frobnicate r1"),
        (2, K::UnknownMnemonic("frobnicate".into()))
    );
    assert!(matches!(
        line_err("\n\nadd_64 r1, r2, r13"),
        (3, K::BadOperand(_))
    ));
    assert!(matches!(
        line_err("add_64 r1, r2, 5"),
        (1, K::BadOperand(_))
    ));
    assert!(matches!(
        line_err("store_u8 r1, [0x100]"),
        (1, K::BadOperand(_))
    ));
    assert_eq!(
        line_err("add_64 r1, r2"),
        (
            1,
            K::OperandCount {
                mnemonic: "add_64",
                expected: 3,
                found: 2
            }
        )
    );
    assert_eq!(
        line_err("trap\njump @nowhere"),
        (2, K::UndefinedLabel("nowhere".into()))
    );
    assert_eq!(
        line_err("load_imm r1, &nowhere"),
        (1, K::UndefinedLabel("nowhere".into()))
    );
    assert_eq!(
        line_err("load_imm r1, FOO"),
        (1, K::UndefinedSymbol("FOO".into()))
    );
    assert_eq!(
        line_err("load_imm r1, 0x100000000"),
        (
            1,
            K::OutOfRange {
                value: 1 << 32,
                what: "an immediate"
            }
        )
    );
    assert!(matches!(
        line_err("load_imm r1, -0x80000001"),
        (1, K::OutOfRange { .. })
    ));
    assert!(matches!(
        line_err(".rw_data\n.u8 256"),
        (2, K::OutOfRange { .. })
    ));
    assert!(matches!(
        line_err("a: trap\na: trap"),
        (2, K::DuplicateSymbol(_))
    ));
    assert!(matches!(
        line_err("x: trap\nload_imm r1, x"),
        (2, K::BadOperand(_))
    ));
    assert!(matches!(
        line_err(".equ A, B\n.equ B, A\nload_imm r1, A"),
        (_, K::RecursiveConstant(_))
    ));
    assert!(matches!(line_err(".frob 1"), (1, K::UnknownDirective(_))));
    assert!(matches!(
        line_err(".ro_data\ntrap"),
        (2, K::WrongSection(..))
    ));
    assert!(matches!(line_err(".u8 1"), (1, K::WrongSection(..))));
    assert_eq!(
        line_err("load_imm_64 r1, 5\n.org 4\ntrap"),
        (
            2,
            K::PcMismatch {
                expected: 4,
                actual: 10
            }
        )
    );
    assert!(matches!(
        line_err("trap\n.org 40\ntrap"),
        (2, K::PaddingTooLarge(40))
    ));
    assert!(matches!(
        line_err("7: trap\ntrap"),
        (1, K::PcMismatch { .. })
    ));
    assert_eq!(
        line_err("trap\nload_imm r1, 1\nhere: trap\njump @here"),
        (4, K::NotBlockStart("here".into()))
    );
    assert!(matches!(
        line_err(".jump_table @x\nadd_64 r1, r1, r1\nx: trap"),
        (1, K::NotBlockStart(_))
    ));
    let e = assemble("\n   bogus").unwrap_err();
    assert_eq!(e.to_string(), "line 2: unknown mnemonic `bogus`");
}

#[test]
fn assembled_loop_runs_in_the_interpreter() {
    // r7 = 1 + 2 + ... + 10 with a loop and a call through the jump table.
    let src = "
                load_imm r7, 0
                load_imm r8, 1
                fallthrough
        loop:   add_64 r7, r7, r8
                add_imm_64 r8, r8, 1
                branch_ge_u_imm r8, 11, @done
                jump @loop
        done:   load_imm r9, &double
                load_imm_jump_ind r0, r9, 99, 0     ; r0 = 99, jump to r9 + 0
                trap
        double: add_64 r7, r7, r7
                trap
    ";
    let a = assemble(src).unwrap();
    let p = Arc::new(a.program().unwrap());
    let mut inst = Instance::new(p, Memory::new(), [0; 13], 0, 1000);
    assert_eq!(inst.run(), Exit::Panic);
    assert_eq!((inst.regs[7], inst.regs[0]), (110, 99));
    assert_eq!(inst.pc as u64, a.symbol("double").unwrap() + 3);
}

#[test]
fn standard_program_runs_through_invoke() {
    // Ψ_M: output = the read-only word + 1 (stored in rw data); halt via ra.
    let src = "
        .ro_data
        seed:   .u64 41
        .rw_data
        out:    .u64 0
        .code
                load_u64 r2, seed
                add_imm_64 r2, r2, 1
                store_u64 r2, out
                load_imm r7, out
                load_imm r8, 8
                jump_ind ra, 0
    ";
    let blob = assemble(src).unwrap().standard_blob();
    let r = invoke(&blob, 0, 100, &[], &mut NoHostCalls);
    assert_eq!(r.result, Ok(42u64.to_le_bytes().to_vec()));
    assert_eq!(r.gas_used, 6);
    let r = invoke(&blob, 0, 3, &[], &mut NoHostCalls);
    assert_eq!(r.result, Err(InvocationFailure::OutOfGas));
}

/// `$JAM_PVM_VECTORS`, default `../shared/pvm-test-vectors` beside the repository.
fn vectors_dir() -> PathBuf {
    let dir = std::env::var_os("JAM_PVM_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/pvm-test-vectors")
        })
        .join("programs");
    assert!(
        dir.is_dir(),
        "PVM test vectors not found at {} (set JAM_PVM_VECTORS)",
        dir.display()
    );
    dir
}

/// The `"program"` byte array of a vector file (no JSON dependency needed).
fn vector_program(json: &str) -> Vec<u8> {
    let start = json.find("\"program\"").expect("program field");
    let open = start + json[start..].find('[').unwrap();
    let close = open + json[open..].find(']').unwrap();
    json[open + 1..close]
        .split(',')
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

#[test]
fn vector_programs_reassemble_byte_for_byte() {
    let mut files: Vec<_> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut mismatched = Vec::new();
    for f in &files {
        let blob = vector_program(&std::fs::read_to_string(f).unwrap());
        let p = crate::Program::from_code_blob(&blob).unwrap();
        let mut src = String::new();
        if !p.jump_table().is_empty() {
            let entries: Vec<String> = p.jump_table().iter().map(|j| format!("@{j}")).collect();
            src = format!(".jump_table {}\n", entries.join(", "));
        }
        src.push_str(&p.disassemble());
        match assemble(&src) {
            Ok(a) if a.code_blob() == blob => {}
            other => mismatched.push((f.file_name().unwrap().to_owned(), other.err())),
        }
    }
    // Every program of the vectors: their disassembly assembles to the very same blob.
    assert!(files.len() > 300, "{} vectors", files.len());
    assert!(
        mismatched.is_empty(),
        "{} of {} differ: {mismatched:?}",
        mismatched.len(),
        files.len()
    );
}

#[test]
fn hand_written_programs_match_vectors() {
    let cases: &[(&str, &str)] = &[
        ("inst_add_32", "add_32 r9, r7, r8"),
        ("inst_load_imm_64", "load_imm_64 r7, 0xdeadbeefdeadbeef"),
        (
            "inst_store_imm_indirect_u16_with_offset_ok",
            "store_imm_ind_u16 [r7 + 256], 0x1234",
        ),
        (
            "inst_jump",
            "       load_imm r7, 1234
                    jump @target
                    trap
            target: load_imm_64 r7, 0xdeadbeef",
        ),
        (
            "inst_branch_eq_ok",
            "       load_imm r7, 1234
                    load_imm r8, 1234
                    branch_eq r7, r8, @target
                    trap
            target: load_imm_64 r7, 0xdeadbeef",
        ),
        (
            "inst_jump_indirect_with_offset_ok",
            "       .equ OFFSET, 100
                    load_imm r7, &target
                    add_imm_64 r7, r7, -OFFSET
                    jump_ind r7, OFFSET
                    trap
            target: load_imm_64 r8, 0xdeadbeef",
        ),
    ];
    let dir = vectors_dir();
    for (name, src) in cases {
        let json = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
        let a = assemble(src).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a.code_blob(), vector_program(&json), "{name}");
    }
}
