//! A PVM assembler: text → code blob (GP v0.7.2 A.1), standard program blob (A.7) and
//! service code blob (GP 9.4, `E(↕m, c)`).
//!
//! # Syntax
//!
//! One statement per line; `;`, `#` and `//` start comments.
//!
//! - **Instructions** use the GP names of [`Opcode`] and the operand syntax of the
//!   disassembler ([`crate::Instruction`]'s `Display`), per argument format (A.5):
//!   `trap`; `ecalli 4`; `load_imm_64 r7, 0x1234`; `store_imm_u8 [0x20000], 5`;
//!   `jump @label`; `load_u32 r7, 0x20000`; `store_imm_ind_u64 [r1 + -8], 7`;
//!   `branch_eq_imm r7, 3, @label`; `move_reg r7, r8` (destination first);
//!   `add_imm_64 r7, r8, 1` (r7 = r8 + 1); `branch_lt_u r7, r8, @label`;
//!   `load_imm_jump_ind r0, r1, 2, 0`; `add_64 r9, r7, r8` (r9 = r7 + r8).
//!   Registers are `r0`..`r12` or the PolkaVM ABI names `ra sp t0 t1 t2 s0 s1 a0`..`a5`.
//! - **Targets** are `@label` (or a bare `label`) or an absolute pc `@123`.
//! - **Values** are sums/differences of integer literals (`42`, `-1`, `0xff`, `0b101`,
//!   `'J'`), constants, data labels (their addresses) and `&label` (the dynamic-jump
//!   address `2(i + 1)` of a code label, which is added to the jump table if it is not there
//!   yet). 32-bit immediates take `-2^31..2^32` (the PVM sign-extends them, GP A.16);
//!   `load_imm_64` takes any 64-bit value. Each immediate and offset is encoded in its
//!   shortest form.
//! - **Labels** `name:` (several per line allowed) mark the next instruction (code section)
//!   or data offset (data sections).
//! - **Directives**: `.code`, `.ro_data`, `.rw_data` (sections); `.equ NAME, value`;
//!   `.u8`/`.byte`, `.u16`, `.u32`, `.u64` (little-endian values), `.ascii "text"`,
//!   `.zero n`, `.align n` (data); `.stack_size n`, `.heap_pages n` (GP A.7 `s` and `z`);
//!   `.metadata "text"` (service metadata `m`); `.jump_table @a, @b, ...` (explicit
//!   entries of `j`, in order); `.org pc` (the next instruction starts at `pc`: the
//!   previous one is padded).
//! - **Listings**: a line may start with the disassembler's `[@] pc:` prefix; the pc is
//!   checked (and reached by padding the previous instruction, as `.org`), and a final
//!   `pc: trap` line stands for the implicit trap at the end of the code (it only fixes the
//!   code length). So [`Program::disassemble`]'s output, preceded by a `.jump_table` line
//!   for the program's jump table, assembles back to the same code blob (checked on every
//!   program of the public PVM test vectors).
//!
//! [`Program::disassemble`]: crate::Program::disassemble

mod layout;
mod parse;
pub mod services;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::instructions::Opcode;
use crate::program::{Program, ProgramError};

/// What went wrong, without the line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AsmErrorKind {
    /// A line could not be parsed.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// No instruction of GP A.5 has this name.
    #[error("unknown mnemonic `{0}`")]
    UnknownMnemonic(String),
    /// No such directive.
    #[error("unknown directive `.{0}`")]
    UnknownDirective(String),
    /// The instruction's argument format takes another number of operands.
    #[error("`{mnemonic}` takes {expected} operands, found {found}")]
    OperandCount {
        mnemonic: &'static str,
        expected: usize,
        found: usize,
    },
    /// An operand is not what the argument format expects.
    #[error("bad operand: {0}")]
    BadOperand(String),
    /// A branch, jump or jump-table target names no code label.
    #[error("undefined label `{0}`")]
    UndefinedLabel(String),
    /// A named branch, jump or jump-table target does not start a basic block (GP A.3: it
    /// must follow a terminator such as `fallthrough`), so jumping there would panic.
    #[error(
        "`{0}` does not start a basic block: put `fallthrough` (or another terminator) before it"
    )]
    NotBlockStart(String),
    /// A value names no constant or label.
    #[error("undefined symbol `{0}`")]
    UndefinedSymbol(String),
    /// A label or constant is defined twice.
    #[error("`{0}` is defined twice")]
    DuplicateSymbol(String),
    /// A constant refers to itself.
    #[error("constant `{0}` refers to itself")]
    RecursiveConstant(String),
    /// A value does not fit its field.
    #[error("{value} is out of range for {what}")]
    OutOfRange { value: i128, what: &'static str },
    /// A branch target is more than 2^31 octets away.
    #[error("the offset to pc {target} does not fit 32 bits")]
    OffsetOutOfRange { target: u64 },
    /// A listing address or `.org` lies before the pc the code has reached.
    #[error("the instruction is at pc {actual}, not at the pc {expected} given")]
    PcMismatch { expected: u64, actual: u64 },
    /// Reaching a pinned pc would make an instruction longer than 25 octets (GP A.2).
    #[error("padding would make an instruction {0} octets long (at most 25)")]
    PaddingTooLarge(u64),
    /// A statement appears in a section where it has no meaning.
    #[error("{0} is not allowed in the {1} section")]
    WrongSection(&'static str, &'static str),
    /// A part of the program exceeds what its encoding can hold.
    #[error("{0} too large")]
    TooLarge(&'static str),
}

/// An assembly error at a 1-based source line (0: the program as a whole).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct AsmError {
    pub line: usize,
    pub kind: AsmErrorKind,
}

/// An assembled program: the parts of the GP A.1 code blob and of the A.7 standard program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembly {
    /// The instruction data `c`.
    pub code: Vec<u8>,
    /// The opcode bitmask `k`, one bool per code octet.
    pub bitmask: Vec<bool>,
    /// The dynamic jump table `j` (code offsets).
    pub jump_table: Vec<u32>,
    /// `o`: the read-only data, mapped at 2^16.
    pub ro_data: Vec<u8>,
    /// `w`: the read-write data, mapped at 2·2^16 + the zone-rounded `|o|`.
    pub rw_data: Vec<u8>,
    /// `s`: the stack size in octets.
    pub stack_size: u32,
    /// `z`: the heap pages after the read-write data.
    pub heap_pages: u16,
    /// `m`: the service metadata (`.metadata`).
    pub metadata: Vec<u8>,
    /// Every label: code labels to their pc, data labels to their address.
    pub symbols: BTreeMap<String, u64>,
}

/// Assembles `source` (see the module documentation for the syntax).
pub fn assemble(source: &str) -> Result<Assembly, AsmError> {
    let lines = parse::parse(source)?;
    layout::assemble(&lines)
}

/// E(x) of GP C.1: the variable-length encoding of a natural number.
fn encode_natural(x: u64, out: &mut Vec<u8>) {
    for l in 0..8u32 {
        if x < 1u64 << (7 * (l + 1)) {
            let head = (256 - (1u32 << (8 - l)) + (x >> (8 * l)) as u32) as u8;
            out.push(head);
            out.extend_from_slice(&x.to_le_bytes()[..l as usize]);
            return;
        }
    }
    out.push(255);
    out.extend_from_slice(&x.to_le_bytes());
}

impl Assembly {
    /// The pc or address of a label.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).copied()
    }

    /// The code blob `E(|j|) ⌢ E1(z) ⌢ E(|c|) ⌢ E_z(j) ⌢ c ⌢ k` (GP A.1), with the
    /// shortest jump-table entry size `z` (0 for an empty table).
    pub fn code_blob(&self) -> Vec<u8> {
        let max = self.jump_table.iter().copied().max();
        let z = max.map_or(0, |m| (4 - m.leading_zeros() as usize / 8).max(1));
        let mut out = Vec::with_capacity(self.code.len() * 9 / 8 + 16);
        encode_natural(self.jump_table.len() as u64, &mut out);
        out.push(z as u8);
        encode_natural(self.code.len() as u64, &mut out);
        for &j in &self.jump_table {
            out.extend_from_slice(&j.to_le_bytes()[..z]);
        }
        out.extend_from_slice(&self.code);
        let mut mask = vec![0u8; self.bitmask.len().div_ceil(8)];
        for (i, _) in self.bitmask.iter().enumerate().filter(|(_, b)| **b) {
            mask[i / 8] |= 1 << (i % 8);
        }
        out.extend_from_slice(&mask);
        out
    }

    /// The standard program blob `E3(|o|) ⌢ E3(|w|) ⌢ E2(z) ⌢ E3(s) ⌢ o ⌢ w ⌢ E4(|c|) ⌢ c`
    /// (GP A.7), `c` being [`Assembly::code_blob`].
    pub fn standard_blob(&self) -> Vec<u8> {
        let code = self.code_blob();
        let mut out = Vec::with_capacity(15 + self.ro_data.len() + self.rw_data.len() + code.len());
        out.extend_from_slice(&(self.ro_data.len() as u32).to_le_bytes()[..3]);
        out.extend_from_slice(&(self.rw_data.len() as u32).to_le_bytes()[..3]);
        out.extend_from_slice(&self.heap_pages.to_le_bytes());
        out.extend_from_slice(&self.stack_size.to_le_bytes()[..3]);
        out.extend_from_slice(&self.ro_data);
        out.extend_from_slice(&self.rw_data);
        out.extend_from_slice(&(code.len() as u32).to_le_bytes());
        out.extend_from_slice(&code);
        out
    }

    /// The service code blob `E(↕m, c)` (GP 9.4): the metadata with its length, then the
    /// standard program blob. Its hash is a service's code hash; refine runs it from pc 0,
    /// accumulate from pc 5 (GP B.3, B.4).
    pub fn service_blob(&self) -> Vec<u8> {
        let program = self.standard_blob();
        let mut out = Vec::with_capacity(program.len() + self.metadata.len() + 9);
        encode_natural(self.metadata.len() as u64, &mut out);
        out.extend_from_slice(&self.metadata);
        out.extend_from_slice(&program);
        out
    }

    /// The code decoded by [`Program::from_code_blob`].
    pub fn program(&self) -> Result<Program, ProgramError> {
        Program::from_code_blob(&self.code_blob())
    }

    /// The opcode at `pc`, if an instruction starts there.
    pub fn opcode_at(&self, pc: u32) -> Option<Opcode> {
        let pc = pc as usize;
        (*self.bitmask.get(pc)?)
            .then(|| Opcode::from_u8(self.code[pc]))
            .flatten()
    }
}
