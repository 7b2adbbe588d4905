//! Program blobs (GP v0.7.2 A.1 `deblob`, A.2 skip, A.3 basic blocks, A.5 operand decoding).
//!
//! A [`Program`] is decoded once into a compact array of pre-decoded instructions
//! ([`Inst`], 16 bytes each) indexed by *instruction index*; program counters are
//! only used at the edges (entry, exits, dynamic jumps through the jump table, which
//! is pre-resolved to instruction indices).

use std::fmt;

use crate::instructions::{ArgFormat, Opcode};

/// Why a blob could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    /// The blob ended before a field was complete.
    #[error("program blob truncated while reading {0}")]
    Truncated(&'static str),
    /// A natural number was not in the canonical GP encoding (Appendix C).
    #[error("non-canonical natural-number encoding of {0}")]
    NonCanonical(&'static str),
    /// Bytes remain after the last field.
    #[error("{0} trailing bytes after the program blob")]
    TrailingBytes(usize),
    /// A jump-table entry does not fit a 32-bit code index.
    #[error("jump table entry {0} does not fit 32 bits")]
    JumpTableEntryTooLarge(usize),
    /// The padding bits of the opcode bitmask are not zero.
    #[error("opcode bitmask padding bits are not zero")]
    BitmaskPadding,
    /// The code is longer than a 32-bit program counter can address.
    #[error("code too large: {0} bytes")]
    CodeTooLarge(u64),
    /// Standard program (A.7): the memory layout does not fit in 2^32 bytes.
    #[error("standard program memory layout exceeds the address space")]
    LayoutTooLarge,
    /// Standard program (A.7): the arguments are longer than Z_I = 2^24 bytes.
    #[error("arguments too large: {0} bytes")]
    ArgumentsTooLarge(usize),
}

/// Marks an unresolved dynamic jump target (not a basic-block start).
pub(crate) const INVALID_TARGET: u32 = u32::MAX;

/// A pre-decoded instruction. Field use by format:
/// registers in `a`/`b`/`d` (already clamped to 0..=12), 32-bit immediates in `x`/`y`
/// (sign-extended to 64 bits at use), static jump targets as instruction indices in `y`,
/// the 64-bit immediate of `load_imm_64` in `x` (low) and `y` (high). `z` is the gas charged
/// when a block is entered at this entry: the number of instructions from it to the end of
/// its gas block (0 for the traps standing for invalid branch targets).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(16))]
pub(crate) struct Inst {
    /// The GP opcode byte, or one of the fused codes of [`fused`].
    pub op: u8,
    pub a: u8,
    pub b: u8,
    pub d: u8,
    pub x: u32,
    pub y: u32,
    pub z: u32,
}

/// Fused instruction pairs (superinstructions) of the compact form.
pub(crate) mod fused {
    use super::Instruction;
    use crate::instructions::Opcode;

    pub const ADD_IMM_64_BRANCH_LT_U: u8 = 240;
    pub const ADD_64_BRANCH_LT_U: u8 = 241;
    pub const SHLO_L_IMM_64_XOR: u8 = 242;
    pub const SHLO_R_IMM_64_XOR: u8 = 243;
    pub const LOAD_IND_U8_XOR: u8 = 244;
    pub const LOAD_IND_U8_ADD_64: u8 = 245;
    pub const MUL_64_ADD_64: u8 = 246;
    pub const MUL_64_ADD_IMM_64: u8 = 247;
    pub const STORE_IMM_IND_U8_ADD_64: u8 = 248;
    pub const STORE_IND_U64_ADD_IMM_64: u8 = 249;
    pub const ADD_IMM_64_JUMP_IND: u8 = 250;
    pub const ADD_IMM_64_STORE_IND_U64: u8 = 251;
    pub const LOAD_IND_U64_LOAD_IND_U64: u8 = 252;
    pub const STORE_IND_U64_STORE_IND_U64: u8 = 253;
    /// The largest code stored in [`super::Inst::op`].
    pub const MAX_CODE: u8 = 253;
    pub const STORE_IMM_IND_U8_ADD_64_BRANCH_LT_U: u8 = 233;
    pub const STORE_IND_U64_ADD_IMM_64_BRANCH_LT_U: u8 = 234;
    pub const MUL_64_ADD_IMM_64_BRANCH_LT_U: u8 = 235;

    /// The fused code for three consecutive opcodes, if there is one.
    pub fn triple(first: Opcode, second: Opcode, third: Opcode) -> Option<u8> {
        use Opcode as O;
        Some(match (first, second, third) {
            (O::store_imm_ind_u8, O::add_64, O::branch_lt_u) => STORE_IMM_IND_U8_ADD_64_BRANCH_LT_U,
            (O::store_ind_u64, O::add_imm_64, O::branch_lt_u) => {
                STORE_IND_U64_ADD_IMM_64_BRANCH_LT_U
            }
            (O::mul_64, O::add_imm_64, O::branch_lt_u) => MUL_64_ADD_IMM_64_BRANCH_LT_U,
            _ => return None,
        })
    }
    pub const MOVE_REG_ADD_IMM_64: u8 = 236;
    pub const ADD_IMM_64_LOAD_IMM_JUMP: u8 = 237;
    pub const ADD_64_LOAD_IND_U64: u8 = 238;
    pub const LOAD_IND_U64_ADD_IMM_64: u8 = 239;

    /// The fused code for a pair of consecutive opcodes, if there is one.
    ///
    /// The pairs marked "chained" require the second instruction's r_B to be the first's
    /// destination (and its r_A not to be), so the handler passes that value in a host
    /// register instead of through the register file.
    pub fn pair(first: &Instruction, second: &Instruction) -> Option<u8> {
        use Opcode as O;
        let chained = |dst: u8| second.rb == dst && second.ra != dst;
        Some(match (first.opcode, second.opcode) {
            (O::add_imm_64, O::branch_lt_u) => ADD_IMM_64_BRANCH_LT_U,
            (O::add_64, O::branch_lt_u) => ADD_64_BRANCH_LT_U,
            // Chained.
            (O::shlo_l_imm_64, O::xor) if chained(first.ra) => SHLO_L_IMM_64_XOR,
            (O::shlo_r_imm_64, O::xor) if chained(first.ra) => SHLO_R_IMM_64_XOR,
            (O::load_ind_u8, O::xor) if chained(first.ra) => LOAD_IND_U8_XOR,
            (O::load_ind_u8, O::add_64) if chained(first.ra) => LOAD_IND_U8_ADD_64,
            (O::mul_64, O::add_64) if chained(first.rd) => MUL_64_ADD_64,
            // Not chained.
            (O::mul_64, O::add_imm_64) => MUL_64_ADD_IMM_64,
            (O::store_imm_ind_u8, O::add_64) => STORE_IMM_IND_U8_ADD_64,
            (O::store_ind_u64, O::add_imm_64) => STORE_IND_U64_ADD_IMM_64,
            (O::add_imm_64, O::jump_ind) => ADD_IMM_64_JUMP_IND,
            (O::add_imm_64, O::store_ind_u64) => ADD_IMM_64_STORE_IND_U64,
            (O::load_ind_u64, O::load_ind_u64) => LOAD_IND_U64_LOAD_IND_U64,
            (O::store_ind_u64, O::store_ind_u64) => STORE_IND_U64_STORE_IND_U64,
            (O::move_reg, O::add_imm_64) => MOVE_REG_ADD_IMM_64,
            (O::add_imm_64, O::load_imm_jump) => ADD_IMM_64_LOAD_IMM_JUMP,
            (O::add_64, O::load_ind_u64) => ADD_64_LOAD_IND_U64,
            (O::load_ind_u64, O::add_imm_64) => LOAD_IND_U64_ADD_IMM_64,
            _ => return None,
        })
    }
}

/// One decoded instruction with its operands as the GP defines them (for the
/// disassembler, tracing and tests; the interpreter uses the compact form).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// Program counter of the opcode octet.
    pub pc: u32,
    /// The opcode; `trap` for an invalid opcode or a position without an opcode bit.
    pub opcode: Opcode,
    /// `1 + skip(pc)`: the distance to the next instruction.
    pub len: u32,
    /// First register operand (r_A; r_D for two-register instructions).
    pub ra: u8,
    /// Second register operand (r_B; r_A for two-register instructions).
    pub rb: u8,
    /// Destination of three-register instructions (r_D).
    pub rd: u8,
    /// First immediate ν_X (sign-extended; the 64-bit immediate for `load_imm_64`).
    pub imm_x: u64,
    /// Second immediate ν_Y (sign-extended).
    pub imm_y: u64,
    /// Static jump or branch target (ı + offset), if the instruction has one.
    pub target: Option<i64>,
}

/// A decoded, immutable program (`c`, `k`, `j` of GP A.1 plus the compact form).
pub struct Program {
    code: Vec<u8>,
    bitmask: Vec<bool>,
    jump_table: Vec<u32>,
    /// |j| when the entry size z is 0 (all entries 0, kept as a count).
    pub(crate) zero_entries: u64,
    /// The resolved target of pc 0, for `zero_entries`.
    pub(crate) zero_entry_target: u32,
    /// Compact instructions; entries `[0, n_real)` are sorted by pc (real instructions plus
    /// implicit traps where execution would fall onto a non-opcode position); entries after
    /// `n_real` are zero-cost traps standing for branches to invalid targets.
    pub(crate) insts: Vec<Inst>,
    /// The program counter of each entry of `insts`.
    pub(crate) pcs: Vec<u32>,
    /// The jump table resolved to instruction indices (`INVALID_TARGET` when not in ϖ).
    pub(crate) jump_targets: Vec<u32>,
    n_real: usize,
    block_starts: Vec<bool>,
}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Program")
            .field("code_len", &self.code.len())
            .field("jump_table_len", &self.jump_table_len())
            .field("instructions", &self.n_real)
            .finish()
    }
}

/// Decodes a GP natural number (Appendix C, eq. C.1) at the start of `data`.
/// Returns the value and the number of bytes read; `Err(true)` when truncated,
/// `Err(false)` when not canonical.
pub fn decode_natural(data: &[u8]) -> Result<(u64, usize), bool> {
    let first = *data.first().ok_or(true)?;
    let l = first.leading_ones() as usize;
    if l == 8 {
        let bytes: [u8; 8] = data.get(1..9).ok_or(true)?.try_into().unwrap();
        let v = u64::from_le_bytes(bytes);
        if v < 1 << 56 {
            return Err(false);
        }
        return Ok((v, 9));
    }
    let rest = data.get(1..1 + l).ok_or(true)?;
    let mut low = 0u64;
    for (i, &b) in rest.iter().enumerate() {
        low |= (b as u64) << (8 * i);
    }
    let high = (first as u64) & ((1u64 << (7 - l)) - 1);
    let v = high << (8 * l) | low;
    if l > 0 && v < 1u64 << (7 * l) {
        return Err(false);
    }
    Ok((v, 1 + l))
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn natural(&mut self, what: &'static str) -> Result<u64, ProgramError> {
        match decode_natural(&self.data[self.pos..]) {
            Ok((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            Err(true) => Err(ProgramError::Truncated(what)),
            Err(false) => Err(ProgramError::NonCanonical(what)),
        }
    }
    fn bytes(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], ProgramError> {
        let remaining = (self.data.len() - self.pos) as u64;
        if n > remaining {
            return Err(ProgramError::Truncated(what));
        }
        let s = &self.data[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
}

/// Reads `len` little-endian octets of ζ = c ⌢ [0, 0, ...] at `pos`.
#[inline]
fn read_le(code: &[u8], pos: usize, len: usize) -> u64 {
    let mut v = 0u64;
    for i in 0..len {
        let b = code.get(pos + i).copied().unwrap_or(0);
        v |= (b as u64) << (8 * i);
    }
    v
}

/// X_n of GP eq. A.16: sign-extends an `n`-octet value to 64 bits.
#[inline]
fn sext(n: usize, x: u64) -> u64 {
    match n {
        0 => 0,
        8 => x,
        _ => {
            let shift = 64 - 8 * n as u32;
            (((x << shift) as i64) >> shift) as u64
        }
    }
}

/// Z_n: the signed value of an `n`-octet number.
#[inline]
fn signed(n: usize, x: u64) -> i64 {
    sext(n, x) as i64
}

impl Program {
    /// Decodes a GP code blob `E(|j|) ⌢ E1(z) ⌢ E(|c|) ⌢ E_z(j) ⌢ c ⌢ k` (GP A.1 deblob).
    pub fn from_code_blob(blob: &[u8]) -> Result<Program, ProgramError> {
        let mut r = Reader { data: blob, pos: 0 };
        let jt_len = r.natural("jump table length")?;
        let z = r.bytes(1, "jump table entry size")?[0] as u64;
        let code_len = r.natural("code length")?;
        let jt_bytes = r.bytes(
            jt_len
                .checked_mul(z)
                .ok_or(ProgramError::Truncated("jump table"))?,
            "jump table",
        )?;
        let code = r.bytes(code_len, "code")?;
        let mask_len = code_len.div_ceil(8);
        let mask = r.bytes(mask_len, "opcode bitmask")?;
        if r.pos != blob.len() {
            return Err(ProgramError::TrailingBytes(blob.len() - r.pos));
        }
        if code_len >= u32::MAX as u64 - 32 {
            return Err(ProgramError::CodeTooLarge(code_len));
        }
        // With z > 0 the entries occupy blob bytes, so this allocation is bounded by the blob.
        let mut jump_table = Vec::with_capacity(if z > 0 { jt_len as usize } else { 0 });
        if z > 0 {
            for (i, chunk) in jt_bytes.chunks_exact(z as usize).enumerate() {
                let mut v: u64 = 0;
                for (k, &b) in chunk.iter().enumerate() {
                    if k >= 4 {
                        if b != 0 {
                            return Err(ProgramError::JumpTableEntryTooLarge(i));
                        }
                    } else {
                        v |= (b as u64) << (8 * k);
                    }
                }
                jump_table.push(v as u32);
            }
        }
        // With z = 0 every entry is 0; they are not materialised (|j| may be huge).
        let zero_entries = if z == 0 { jt_len } else { 0 };
        let n = code_len as usize;
        let mut bitmask = vec![false; n];
        for (i, bit) in bitmask.iter_mut().enumerate() {
            *bit = mask[i / 8] >> (i % 8) & 1 == 1;
        }
        if !n.is_multiple_of(8) && mask[n / 8] >> (n % 8) != 0 {
            return Err(ProgramError::BitmaskPadding);
        }
        Ok(Self::build(
            code.to_vec(),
            bitmask,
            jump_table,
            zero_entries,
        ))
    }

    /// skip(i) of GP eq. A.2.
    fn skip_of(bitmask: &[bool], i: usize) -> usize {
        for j in 0..24 {
            match bitmask.get(i + 1 + j) {
                Some(true) | None => return j,
                Some(false) => {}
            }
        }
        24
    }

    fn opcode_at(code: &[u8], bitmask: &[bool], pc: usize) -> Option<Opcode> {
        if *bitmask.get(pc)? {
            Opcode::from_u8(code[pc])
        } else {
            None
        }
    }

    /// Decodes the instruction at `pc` with skip `skip` (GP A.5 operand rules).
    fn decode_at(code: &[u8], bitmask: &[bool], pc: usize, skip: usize) -> Instruction {
        let opcode = Self::opcode_at(code, bitmask, pc).unwrap_or(Opcode::trap);
        let mut ins = Instruction {
            pc: pc as u32,
            opcode,
            len: 1 + skip as u32,
            ra: 0,
            rb: 0,
            rd: 0,
            imm_x: 0,
            imm_y: 0,
            target: None,
        };
        let byte = |k: usize| code.get(pc + k).copied().unwrap_or(0) as usize;
        let reg = |v: usize| v.min(12) as u8;
        let l = skip;
        let ipc = pc as i64;
        match opcode.format() {
            ArgFormat::NoArgs => {}
            ArgFormat::OneImm => {
                let lx = l.min(4);
                ins.imm_x = sext(lx, read_le(code, pc + 1, lx));
            }
            ArgFormat::RegExtImm => {
                ins.ra = reg(byte(1) % 16);
                ins.imm_x = read_le(code, pc + 2, 8);
            }
            ArgFormat::TwoImm => {
                let lx = (byte(1) % 8).min(4);
                let ly = l.saturating_sub(lx + 1).min(4);
                ins.imm_x = sext(lx, read_le(code, pc + 2, lx));
                ins.imm_y = sext(ly, read_le(code, pc + 2 + lx, ly));
            }
            ArgFormat::OneOffset => {
                let lx = l.min(4);
                ins.target = Some(ipc + signed(lx, read_le(code, pc + 1, lx)));
            }
            ArgFormat::RegImm => {
                ins.ra = reg(byte(1) % 16);
                let lx = l.saturating_sub(1).min(4);
                ins.imm_x = sext(lx, read_le(code, pc + 2, lx));
            }
            ArgFormat::RegTwoImm | ArgFormat::RegImmOffset => {
                ins.ra = reg(byte(1) % 16);
                let lx = (byte(1) / 16 % 8).min(4);
                let ly = l.saturating_sub(lx + 1).min(4);
                ins.imm_x = sext(lx, read_le(code, pc + 2, lx));
                let y = read_le(code, pc + 2 + lx, ly);
                if opcode.format() == ArgFormat::RegImmOffset {
                    ins.target = Some(ipc + signed(ly, y));
                } else {
                    ins.imm_y = sext(ly, y);
                }
            }
            ArgFormat::TwoRegs => {
                ins.ra = reg(byte(1) % 16); // r_D
                ins.rb = reg(byte(1) / 16); // r_A
            }
            ArgFormat::TwoRegsImm | ArgFormat::TwoRegsOffset => {
                ins.ra = reg(byte(1) % 16);
                ins.rb = reg(byte(1) / 16);
                let lx = l.saturating_sub(1).min(4);
                let x = read_le(code, pc + 2, lx);
                if opcode.format() == ArgFormat::TwoRegsOffset {
                    ins.target = Some(ipc + signed(lx, x));
                } else {
                    ins.imm_x = sext(lx, x);
                }
            }
            ArgFormat::TwoRegsTwoImm => {
                ins.ra = reg(byte(1) % 16);
                ins.rb = reg(byte(1) / 16);
                let lx = (byte(2) % 8).min(4);
                let ly = l.saturating_sub(lx + 2).min(4);
                ins.imm_x = sext(lx, read_le(code, pc + 3, lx));
                ins.imm_y = sext(ly, read_le(code, pc + 3 + lx, ly));
            }
            ArgFormat::ThreeRegs => {
                ins.ra = reg(byte(1) % 16);
                ins.rb = reg(byte(1) / 16);
                ins.rd = reg(byte(2));
            }
        }
        ins
    }

    fn build(
        code: Vec<u8>,
        bitmask: Vec<bool>,
        jump_table: Vec<u32>,
        zero_entries: u64,
    ) -> Program {
        let n = code.len();
        // Basic-block starts ϖ (GP A.3).
        let mut block_starts = vec![false; n];
        if Self::opcode_at(&code, &bitmask, 0).is_some() {
            block_starts[0] = true;
        }
        for i in 0..n {
            if bitmask[i] && Opcode::from_u8(code[i]).is_some_and(|op| op.is_terminator()) {
                let next = i + 1 + Self::skip_of(&bitmask, i);
                if next < n && Self::opcode_at(&code, &bitmask, next).is_some() {
                    block_starts[next] = true;
                }
            }
        }
        // Decode every opcode position, inserting an implicit trap wherever execution
        // would continue at a position that is not an opcode (ζ is zero-padded).
        let mut decoded: Vec<Instruction> = Vec::new();
        for i in 0..n {
            if !bitmask[i] {
                continue;
            }
            let skip = Self::skip_of(&bitmask, i);
            decoded.push(Self::decode_at(&code, &bitmask, i, skip));
            let next = i + 1 + skip;
            if next >= n || !bitmask[next] {
                decoded.push(Instruction {
                    pc: next as u32,
                    opcode: Opcode::trap,
                    len: 1,
                    ra: 0,
                    rb: 0,
                    rd: 0,
                    imm_x: 0,
                    imm_y: 0,
                    target: None,
                });
            }
        }
        let n_real = decoded.len();
        let mut pcs: Vec<u32> = decoded.iter().map(|d| d.pc).collect();
        let index_of = |pcs: &[u32], pc: i64| -> Option<u32> {
            if pc < 0 || pc as u64 >= n as u64 || !block_starts[pc as usize] {
                return None;
            }
            pcs[..n_real]
                .binary_search(&(pc as u32))
                .ok()
                .map(|i| i as u32)
        };
        let mut insts = Vec::with_capacity(n_real);
        let mut extra: Vec<(Inst, u32)> = Vec::new();
        for d in &decoded {
            let mut inst = Inst {
                op: d.opcode as u8,
                a: d.ra,
                b: d.rb,
                d: d.rd,
                x: d.imm_x as u32,
                y: d.imm_y as u32,
                z: 0,
            };
            if d.opcode == Opcode::load_imm_64 {
                inst.y = (d.imm_x >> 32) as u32;
            }
            if let Some(t) = d.target {
                inst.y = match index_of(&pcs, t) {
                    Some(idx) => idx,
                    None => {
                        // A zero-cost trap reporting the branch's own pc.
                        let idx = (n_real + extra.len()) as u32;
                        extra.push((
                            Inst {
                                op: Opcode::trap as u8,
                                a: 0,
                                b: 0,
                                d: 0,
                                x: 0,
                                y: 0,
                                z: 0,
                            },
                            d.pc,
                        ));
                        idx
                    }
                };
            }
            insts.push(inst);
        }
        let zero_entry_target = index_of(&pcs, 0).unwrap_or(INVALID_TARGET);
        let jump_targets = jump_table
            .iter()
            .map(|&t| index_of(&pcs, t as i64).unwrap_or(INVALID_TARGET))
            .collect();
        // Gas blocks: end after every terminator (T, invalid opcodes, implicit traps) and
        // after ecalli, so that a host call sees the gas of the instructions before it only.
        let mut cost = vec![0u32; n_real + extra.len()];
        for i in (0..n_real).rev() {
            let op = decoded[i].opcode;
            let ends = op.is_terminator() || op == Opcode::ecalli || i + 1 == n_real;
            cost[i] = if ends { 1 } else { 1 + cost[i + 1] };
        }
        for (inst, pc) in extra {
            insts.push(inst);
            pcs.push(pc);
        }
        for (inst, &c) in insts.iter_mut().zip(&cost) {
            inst.z = c;
        }
        // Superinstructions: a pair inside one gas block runs as one dispatch. The second
        // entry keeps its own opcode, so entering there (or single-stepping) still works.
        // (No opcode of a fused prefix is a terminator or ecalli, so a pair or triple never
        // spans two gas blocks.)
        for i in 0..n_real.saturating_sub(1) {
            let (o1, o2) = (decoded[i].opcode, decoded[i + 1].opcode);
            let triple = decoded
                .get(i + 2)
                .filter(|_| i + 2 < n_real)
                .and_then(|d| fused::triple(o1, o2, d.opcode));
            if let Some(f) = triple.or_else(|| fused::pair(&decoded[i], &decoded[i + 1])) {
                insts[i].op = f;
            }
        }
        Program {
            code,
            bitmask,
            jump_table,
            zero_entries,
            zero_entry_target,
            insts,
            pcs,
            jump_targets,
            n_real,
            block_starts,
        }
    }

    /// The instruction data `c`.
    pub fn code(&self) -> &[u8] {
        &self.code
    }

    /// The opcode bitmask `k`, one bool per code octet.
    pub fn bitmask(&self) -> &[bool] {
        &self.bitmask
    }

    /// The dynamic jump table `j` (code offsets). Empty when its entry size is 0 (then
    /// `jump_table_len` entries, all 0).
    pub fn jump_table(&self) -> &[u32] {
        &self.jump_table
    }

    /// |j|, the number of jump-table entries.
    pub fn jump_table_len(&self) -> u64 {
        self.jump_table.len() as u64 + self.zero_entries
    }

    /// Whether `pc` is in ϖ, the set of basic-block starts.
    pub fn is_basic_block_start(&self, pc: u32) -> bool {
        self.block_starts.get(pc as usize).copied().unwrap_or(false)
    }

    /// The instruction index of `pc`, if an instruction (or implicit trap) starts there.
    #[inline]
    pub(crate) fn index_of_pc(&self, pc: u32) -> Option<usize> {
        self.pcs[..self.n_real].binary_search(&pc).ok()
    }

    /// Decodes the instruction at `pc` as Ψ₁ would see it (`trap` outside the code or where
    /// the opcode bit is not set).
    pub fn instruction_at(&self, pc: u32) -> Instruction {
        let skip = if (pc as usize) < self.code.len() {
            Self::skip_of(&self.bitmask, pc as usize)
        } else {
            0
        };
        Self::decode_at(&self.code, &self.bitmask, pc as usize, skip)
    }

    /// All instructions in program order (including the implicit traps where execution
    /// would run onto a non-opcode position or past the end).
    pub fn instructions(&self) -> impl Iterator<Item = Instruction> + '_ {
        self.pcs[..self.n_real]
            .iter()
            .map(move |&pc| self.instruction_at(pc))
    }

    /// A textual disassembly, one instruction per line (`pc: text`), `@` marking ϖ.
    pub fn disassemble(&self) -> String {
        let mut out = String::new();
        for ins in self.instructions() {
            let mark = if self.is_basic_block_start(ins.pc) {
                "@"
            } else {
                " "
            };
            out.push_str(&format!("{mark}{:>6}: {ins}\n", ins.pc));
        }
        out
    }
}

impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.opcode.name();
        let r = |i: u8| format!("r{i}");
        let t = self.target.unwrap_or(0);
        let x = self.imm_x as i64;
        let y = self.imm_y as i64;
        match self.opcode.format() {
            ArgFormat::NoArgs => write!(f, "{name}"),
            ArgFormat::OneImm => write!(f, "{name} {}", self.imm_x as u32),
            ArgFormat::RegExtImm => write!(f, "{name} {}, {:#x}", r(self.ra), self.imm_x),
            ArgFormat::TwoImm => write!(f, "{name} [{:#x}], {y}", self.imm_x as u32),
            ArgFormat::OneOffset => write!(f, "{name} @{t}"),
            ArgFormat::RegImm => write!(f, "{name} {}, {x}", r(self.ra)),
            ArgFormat::RegTwoImm => write!(f, "{name} [{} + {x}], {y}", r(self.ra)),
            ArgFormat::RegImmOffset => write!(f, "{name} {}, {x}, @{t}", r(self.ra)),
            ArgFormat::TwoRegs => write!(f, "{name} {}, {}", r(self.ra), r(self.rb)),
            ArgFormat::TwoRegsImm => write!(f, "{name} {}, {}, {x}", r(self.ra), r(self.rb)),
            ArgFormat::TwoRegsOffset => write!(f, "{name} {}, {}, @{t}", r(self.ra), r(self.rb)),
            ArgFormat::TwoRegsTwoImm => {
                write!(f, "{name} {}, {}, {x}, {y}", r(self.ra), r(self.rb))
            }
            ArgFormat::ThreeRegs => {
                write!(f, "{name} {}, {}, {}", r(self.rd), r(self.ra), r(self.rb))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_natural(x: u64) -> Vec<u8> {
        if x == 0 {
            return vec![0];
        }
        for l in 0..8u32 {
            if x < 1u64 << (7 * (l + 1)) {
                let mut out = vec![(256 - (1u32 << (8 - l)) + (x >> (8 * l)) as u32) as u8];
                out.extend_from_slice(&x.to_le_bytes()[..l as usize]);
                return out;
            }
        }
        let mut out = vec![255];
        out.extend_from_slice(&x.to_le_bytes());
        out
    }

    #[test]
    fn naturals_round_trip() {
        for &x in &[
            0u64,
            1,
            127,
            128,
            16383,
            16384,
            1 << 21,
            (1 << 56) - 1,
            1 << 56,
            u64::MAX,
        ] {
            let e = encode_natural(x);
            assert_eq!(decode_natural(&e), Ok((x, e.len())), "{x}");
        }
        assert_eq!(decode_natural(&[0x80, 0x05]), Err(false));
        assert_eq!(decode_natural(&[0x80]), Err(true));
    }

    #[test]
    fn rejects_bad_blobs() {
        assert!(Program::from_code_blob(&[]).is_err());
        assert!(Program::from_code_blob(&[0, 0, 3, 1, 2]).is_err());
        assert_eq!(
            Program::from_code_blob(&[0, 0, 1, 0, 1, 9]).unwrap_err(),
            ProgramError::TrailingBytes(1)
        );
        assert_eq!(
            Program::from_code_blob(&[0, 0, 1, 0, 3]).unwrap_err(),
            ProgramError::BitmaskPadding
        );
        let p = Program::from_code_blob(&[0, 0, 3, 200, 135, 9, 1]).unwrap();
        assert_eq!(p.instruction_at(0).opcode, Opcode::add_64);
        assert!(p.disassemble().contains("add_64 r9, r7, r8"));
    }
}
