//! Structured program generator: turns fuzzer bytes into a GP v0.7.2 code blob
//! (`E(|j|) ⌢ E1(z) ⌢ E(|c|) ⌢ E_z(j) ⌢ c ⌢ k`, GP A.1) plus the machine set-up
//! (registers, gas, entry pc, memory layout).
//!
//! Programs are lists of instructions with exact GP A.5 operand encodings, a bitmask set
//! on every opcode octet, and branch / jump-table targets resolved after layout. Most
//! targets are basic-block starts; the rest are hostile (non-block-start instructions,
//! mid-instruction offsets, wild offsets). Operands are biased towards the mapped pages,
//! page edges, the reserved zone, the halt address and jump-table addresses.

use arbitrary::{Result, Unstructured};
use jam_pvm::{Access, ArgFormat, Opcode};

/// Page size Z_P.
pub const PAGE: u32 = 4096;
/// Halt address of GP A.5 (`2^32 - 2^16`), also PolkaVM's `VM_ADDR_RETURN_TO_HOST`.
pub const HALT: u32 = 0xffff_0000;

/// The page slots a run may map, with their default access. The lowest legal page, two
/// adjacent read-write pages followed by a read-only one (cross-page stores RW→RO), a
/// lone page after a hole, and two pages near (not at) the top of the address space.
/// The top page 0xffff_f000 is never mapped: see the comparison rules in `lib.rs` on wrapping accesses.
pub const SLOTS: [(u32, Option<Access>); 7] = [
    (0x0001_0000, Some(Access::ReadOnly)),
    (0x0002_0000, Some(Access::ReadWrite)),
    (0x0002_1000, Some(Access::ReadWrite)),
    (0x0002_2000, Some(Access::ReadOnly)),
    (0x0002_4000, Some(Access::ReadWrite)),
    (0xfffe_e000, Some(Access::ReadWrite)),
    (0xfffe_f000, Some(Access::ReadOnly)),
];

/// Everything needed to run one case in both machines.
#[derive(Clone, Debug)]
pub struct Case {
    /// The GP code blob (GP opcode numbering).
    pub blob: Vec<u8>,
    /// Whether the program uses only opcodes PolkaVM 0.37 `JamV1` also has (no `sbrk`, no
    /// invalid bytes) and a non-zero jump-table entry size: only then is it compared.
    pub comparable: bool,
    /// Built by the structured generator (so it must decode), not raw input bytes.
    pub structured: bool,
    /// φ (GP A.1), in GP / PolkaVM register order (ra, sp, t0..t2, s0, s1, a0..a5).
    pub regs: [u64; 13],
    pub pc: u32,
    pub gas: i64,
    /// Mapped pages: (address, access, initial contents of the whole page).
    pub pages: Vec<(u32, Access, Vec<u8>)>,
}

/// GP natural-number encoding E (Appendix C, eq. C.1).
pub fn encode_natural(out: &mut Vec<u8>, x: u64) {
    for l in 0..8u32 {
        if x < 1u64 << (7 * (l + 1)) {
            let head = (256 - (1u32 << (8 - l))) as u64 + (x >> (8 * l));
            out.push(head as u8);
            out.extend_from_slice(&x.to_le_bytes()[..l as usize]);
            return;
        }
    }
    out.push(255);
    out.extend_from_slice(&x.to_le_bytes());
}

/// Builds `E(|j|) ⌢ E1(z) ⌢ E(|c|) ⌢ E_z(j) ⌢ c ⌢ k`.
pub fn encode_blob(code: &[u8], bitmask: &[bool], jump_table: &[u32], z: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(code.len() * 2 + 16);
    encode_natural(&mut out, jump_table.len() as u64);
    out.push(z);
    encode_natural(&mut out, code.len() as u64);
    for &e in jump_table {
        out.extend_from_slice(&e.to_le_bytes()[..z as usize]);
    }
    out.extend_from_slice(code);
    let mut mask = vec![0u8; code.len().div_ceil(8)];
    for (i, &b) in bitmask.iter().enumerate() {
        if b {
            mask[i / 8] |= 1 << (i % 8);
        }
    }
    out.extend_from_slice(&mask);
    out
}

/// Splits a GP code blob into (jump-table length, z, code range, bitmask bytes) without
/// validating more than needed; `None` if malformed.
pub fn split_blob(blob: &[u8]) -> Option<(u64, u8, std::ops::Range<usize>, std::ops::Range<usize>)> {
    let (jt_len, n1) = jam_pvm::decode_natural(blob).ok()?;
    let z = *blob.get(n1)?;
    let (code_len, n2) = jam_pvm::decode_natural(blob.get(n1 + 1..)?).ok()?;
    let code_start = ((n1 + 1 + n2) as u64).checked_add(jt_len.checked_mul(z as u64)?)?;
    let code_end = code_start.checked_add(code_len)?;
    let mask_end = code_end.checked_add(code_len.div_ceil(8))?;
    if mask_end != blob.len() as u64 {
        return None;
    }
    Some((jt_len, z, code_start as usize..code_end as usize, code_end as usize..mask_end as usize))
}

/// GP opcode byte → PolkaVM 0.37 `JamV1` opcode byte, `None` where PolkaVM has no
/// equivalent. GP 0.7.2 A.5.9 puts `sbrk` at 101 and count_set_bits_64 … reverse_bytes
/// at 102–111; PolkaVM 0.37 `JamV1` has no `sbrk` and numbers those ten 101–110. Bytes
/// that are not GP opcodes (trap in GP) are not mapped either: PolkaVM rejects invalid
/// opcodes at load time and gives 2 a meaning (`unlikely`) that GP does not have.
pub fn gp_to_polkavm_opcode(gp: u8) -> Option<u8> {
    match gp {
        101 => None,
        102..=111 => Some(gp - 1),
        _ if Opcode::from_u8(gp).is_some() => Some(gp),
        _ => None,
    }
}

/// The PolkaVM version of a GP blob: the same bytes with the opcode octets (bitmask bits)
/// renumbered. `None` when an opcode has no PolkaVM equivalent or the blob is malformed.
///
/// Also normalises one operand encoding: GP A.5.13 (three registers) reads
/// r_D = min(12, c_{ı+2}) from the whole octet, PolkaVM's `read_args_regs3` from its low
/// nibble only. When that octet belongs to the instruction it is rewritten to
/// min(12, octet) (same register in both); when it lies past the instruction (a
/// truncated encoding, the octet is the next opcode or padding) and the two readings
/// differ, the blob is not comparable (`None`).
pub fn to_polkavm_blob(gp_blob: &[u8]) -> Option<Vec<u8>> {
    let (_, _, code, mask) = split_blob(gp_blob)?;
    let mut out = gp_blob.to_vec();
    let n = code.len();
    let c = |i: usize| if i < n { gp_blob[code.start + i] } else { 0 };
    let bit = |i: usize| gp_blob[mask.start + i / 8] >> (i % 8) & 1 == 1;
    let skip = |i: usize| (1..=24).find(|&j| i + j >= n || bit(i + j)).unwrap_or(25) - 1;
    for i in 0..n {
        if bit(i) {
            out[code.start + i] = gp_to_polkavm_opcode(c(i))?;
        }
    }
    // First every rewrite, then the check: a truncated instruction may read octets that a
    // later instruction's rewrite changed.
    for i in 0..n {
        if bit(i) && Opcode::from_u8(c(i)).map(Opcode::format) == Some(ArgFormat::ThreeRegs) {
            let v = c(i + 2);
            if v.min(12) != (v & 15).min(12) {
                if skip(i) >= 2 {
                    out[code.start + i + 2] = v.min(12);
                } else {
                    return None;
                }
            }
        }
    }
    for i in 0..n {
        if !bit(i) {
            continue;
        }
        let Some(op) = Opcode::from_u8(c(i)) else { continue };
        let l = skip(i);
        // The last octet the GP A.5 decoding reads at fixed positions or with a length
        // taken from an operand octet (it may lie past the instruction when truncated).
        let need = match op.format() {
            ArgFormat::NoArgs | ArgFormat::OneImm | ArgFormat::OneOffset => 0,
            ArgFormat::RegExtImm => 9,
            ArgFormat::TwoImm => 1 + (c(i + 1) % 8).min(4) as usize,
            ArgFormat::RegTwoImm | ArgFormat::RegImmOffset => 1 + (c(i + 1) / 16 % 8).min(4) as usize,
            ArgFormat::TwoRegsTwoImm => 2 + (c(i + 2) % 8).min(4) as usize,
            ArgFormat::ThreeRegs => 2,
            ArgFormat::RegImm | ArgFormat::TwoRegs | ArgFormat::TwoRegsImm | ArgFormat::TwoRegsOffset => 1,
        };
        // Truncated: the operands overlap following octets that were rewritten for
        // PolkaVM (renumbered opcodes, r_D octets); the machines would decode different
        // operands.
        if need > l && (i + l + 1..=(i + need).min(n.saturating_sub(1))).any(|q| out[code.start + q] != c(q)) {
            return None;
        }
    }
    Some(out)
}

/// Opcodes both machines have (GP numbering).
fn common_opcodes() -> Vec<Opcode> {
    Opcode::ALL.iter().copied().filter(|&op| op != Opcode::sbrk).collect()
}

/// The fused pairs of jam-pvm's compact form (pvm/src/program.rs `fused::pair`): emitted
/// back to back often, with random (often aliasing) registers.
const PAIRS: [(Opcode, Opcode); 14] = [
    (Opcode::add_imm_64, Opcode::branch_lt_u),
    (Opcode::add_64, Opcode::branch_lt_u),
    (Opcode::shlo_l_imm_64, Opcode::xor),
    (Opcode::shlo_r_imm_64, Opcode::xor),
    (Opcode::load_ind_u8, Opcode::xor),
    (Opcode::load_ind_u8, Opcode::add_64),
    (Opcode::mul_64, Opcode::add_64),
    (Opcode::mul_64, Opcode::add_imm_64),
    (Opcode::store_imm_ind_u8, Opcode::add_64),
    (Opcode::store_ind_u64, Opcode::add_imm_64),
    (Opcode::add_imm_64, Opcode::jump_ind),
    (Opcode::add_imm_64, Opcode::store_ind_u64),
    (Opcode::load_ind_u64, Opcode::load_ind_u64),
    (Opcode::store_ind_u64, Opcode::store_ind_u64),
];

/// A symbolic instruction before layout.
struct Ins {
    op: u8,
    /// Operand bytes (after the opcode).
    args: Vec<u8>,
    /// A static target to patch in: (selector, byte offset in `args`, width).
    target: Option<(u16, usize, usize)>,
    terminator: bool,
}

struct Gen<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    /// Register nibbles used lately (to make aliasing and data flow likely).
    hot: [u8; 4],
}

impl Gen<'_, '_> {
    fn reg(&mut self) -> Result<u8> {
        let s = self.u.arbitrary::<u8>()?;
        Ok(match s % 16 {
            0..=9 => self.hot[(s / 16 % 4) as usize],
            10..=13 => (s / 16) % 13,
            _ => 13 + (s / 16) % 3, // hostile: 13..15 (clamped to 12 by GP A.5)
        })
    }

    /// An "interesting" 64-bit value (addresses near mapped pages, edges, jump addresses).
    fn value(&mut self) -> Result<u64> {
        let s = self.u.arbitrary::<u8>()?;
        Ok(match s % 12 {
            0 => 0,
            1 => self.u.int_in_range(0..=16u64)?,
            2 => (self.u.int_in_range(-16i64..=-1)?) as u64,
            3..=6 => self.address()? as u64,
            7 => ((self.u.int_in_range(0..=6u32)? + 1) * 2) as u64, // jump-table address
            8 => HALT as u64 | if s & 0x80 != 0 { 0xffff_ffff_0000_0000 } else { 0 },
            9 => [i64::MIN as u64, i64::MAX as u64, u32::MAX as u64, 1 << 31, 1 << 32, 63, 64, 31, 32]
                [(s / 16 % 9) as usize],
            _ => self.u.arbitrary::<u64>()?,
        })
    }

    fn address(&mut self) -> Result<u32> {
        let s = self.u.arbitrary::<u8>()?;
        let base = SLOTS[(s % 7) as usize].0;
        Ok(match s / 7 % 12 {
            0 => base,
            1 => base + self.u.int_in_range(0..=PAGE - 1)?,
            2 => base + PAGE - self.u.int_in_range(1..=8u32)?, // crosses into the next page
            3 => base.wrapping_sub(self.u.int_in_range(1..=8u32)?),
            4 => base + 2 * PAGE - self.u.int_in_range(1..=8u32)?,
            5 => self.u.int_in_range(0..=0xffffu32)?, // reserved zone (panic)
            6 => 0x0002_3000 + self.u.int_in_range(0..=PAGE)?, // the hole
            7 => u32::MAX - self.u.int_in_range(0..=8u32)?, // top page (unmapped), wraps
            8 => 0x8000_0000,
            _ => base + self.u.int_in_range(0..=64u32)?,
        })
    }

    /// Encodes a (sign-extended) immediate in `len` octets, or its minimal length.
    fn imm(&mut self, out: &mut Vec<u8>, v: u64, len: Option<usize>) -> usize {
        let len = len.unwrap_or_else(|| {
            let v = v as i64;
            (0..=4).find(|&n| n == 4 || fits(v, n)).unwrap()
        });
        out.extend_from_slice(&v.to_le_bytes()[..len]);
        len
    }

    fn imm_len(&mut self) -> Result<Option<usize>> {
        let s = self.u.arbitrary::<u8>()?;
        Ok(if s < 200 { None } else { Some((s % 5) as usize) })
    }

    /// The x-length nibble / byte for formats with two immediates (hostile 5..7 → 4).
    fn lx(&mut self, natural: usize) -> Result<usize> {
        let s = self.u.arbitrary::<u8>()?;
        Ok(if s < 220 { natural } else { (s % 8) as usize })
    }

    fn instruction(&mut self, op: Opcode) -> Result<Ins> {
        let mut a = Vec::new();
        let mut target = None;
        match op.format() {
            ArgFormat::NoArgs => {}
            ArgFormat::OneImm => {
                let v = self.u.int_in_range(0..=40u64)?;
                let l = self.imm_len()?;
                self.imm(&mut a, v, l);
            }
            ArgFormat::RegExtImm => {
                let r = self.reg()?;
                a.push(r | self.u.arbitrary::<u8>()? & 0xf0);
                let v = self.value()?;
                a.extend_from_slice(&v.to_le_bytes());
            }
            ArgFormat::TwoImm => {
                let (x, y) = (self.address()? as u64, self.value()?);
                let mut xs = Vec::new();
                let lx = self.imm(&mut xs, x, None);
                let lxb = self.lx(lx)?;
                a.push(lxb as u8 | self.u.arbitrary::<u8>()? & 0xf8);
                let lx = lxb.min(4);
                xs.resize(lx, if x as i64 >= 0 { 0 } else { 0xff });
                xs.truncate(lx);
                a.extend_from_slice(&xs);
                let l = self.imm_len()?;
                self.imm(&mut a, y, l);
            }
            ArgFormat::OneOffset => {
                target = Some((self.u.arbitrary::<u16>()?, 0, self.target_width()?));
            }
            ArgFormat::RegImm => {
                let r = self.reg()?;
                a.push(r | self.u.arbitrary::<u8>()? & 0xf0);
                let is_mem = matches!(op as u8, 52..=62);
                let v = if is_mem { self.address()? as u64 } else { self.value()? };
                let l = self.imm_len()?;
                self.imm(&mut a, v, l);
            }
            ArgFormat::RegTwoImm | ArgFormat::RegImmOffset => {
                let r = self.reg()?;
                let x = if op.format() == ArgFormat::RegTwoImm {
                    // store_imm_ind: base register + small offset usually
                    if self.u.ratio(3, 4)? {
                        self.u.int_in_range(-8i64..=8)? as u64
                    } else {
                        self.value()?
                    }
                } else {
                    self.value()?
                };
                let mut xs = Vec::new();
                let lx = self.imm(&mut xs, x, None);
                let lxb = self.lx(lx)?;
                a.push(r | (lxb as u8) << 4 | self.u.arbitrary::<u8>()? & 0x80);
                let lx = lxb.min(4);
                xs.resize(lx, if x as i64 >= 0 { 0 } else { 0xff });
                xs.truncate(lx);
                a.extend_from_slice(&xs);
                if op.format() == ArgFormat::RegTwoImm {
                    let y = self.value()?;
                    let l = self.imm_len()?;
                    self.imm(&mut a, y, l);
                } else {
                    target = Some((self.u.arbitrary::<u16>()?, a.len(), self.target_width()?));
                }
            }
            ArgFormat::TwoRegs => {
                let (d, s) = (self.reg()?, self.reg()?);
                a.push(d | s << 4);
            }
            ArgFormat::TwoRegsImm => {
                let (r1, r2) = (self.reg()?, self.reg()?);
                a.push(r1 | r2 << 4);
                let is_mem = matches!(op as u8, 120..=130);
                let v = if is_mem && self.u.ratio(3, 4)? {
                    self.u.int_in_range(-16i64..=16)? as u64
                } else if matches!(op as u8, 138..=140 | 144..=146 | 151..=161) && self.u.ratio(1, 2)? {
                    self.u.int_in_range(0..=70u64)? // shift amounts
                } else {
                    self.value()?
                };
                let l = self.imm_len()?;
                self.imm(&mut a, v, l);
            }
            ArgFormat::TwoRegsOffset => {
                let (r1, r2) = (self.reg()?, self.reg()?);
                a.push(r1 | r2 << 4);
                target = Some((self.u.arbitrary::<u16>()?, a.len(), self.target_width()?));
            }
            ArgFormat::TwoRegsTwoImm => {
                let (r1, r2) = (self.reg()?, self.reg()?);
                a.push(r1 | r2 << 4);
                let (x, y) = (self.value()?, self.value()?);
                let mut xs = Vec::new();
                let lx = self.imm(&mut xs, x, None);
                let lxb = self.lx(lx)?;
                a.push(lxb as u8 | self.u.arbitrary::<u8>()? & 0xf8);
                let lx = lxb.min(4);
                xs.resize(lx, if x as i64 >= 0 { 0 } else { 0xff });
                xs.truncate(lx);
                a.extend_from_slice(&xs);
                let l = self.imm_len()?;
                self.imm(&mut a, y, l);
            }
            ArgFormat::ThreeRegs => {
                let (r1, r2, d) = (self.reg()?, self.reg()?, self.reg()?);
                a.push(r1 | r2 << 4);
                // hostile: garbage in the high nibble of r_D's octet (GP: min(12, octet))
                a.push(if self.u.ratio(1, 16)? { self.u.arbitrary()? } else { d });
            }
        }
        // Hostile encodings: trailing junk (ignored by GP A.5 length rules) or truncation
        // (operands then come from the following instruction's octets / zero padding).
        let h = self.u.arbitrary::<u8>()?;
        if h >= 240 {
            for _ in 0..(h % 4) {
                a.push(self.u.arbitrary()?);
            }
        } else if h >= 230 && !a.is_empty() {
            let keep = a.len() - 1 - (h as usize % a.len());
            a.truncate(keep);
            if let Some((_, off, w)) = target {
                if off + w > a.len() {
                    target = None;
                }
            }
        }
        if let Some((_, off, w)) = target {
            a.resize(a.len().max(off + w), 0);
        }
        a.truncate(24);
        Ok(Ins { op: op as u8, args: a, target, terminator: op.is_terminator() })
    }

    fn target_width(&mut self) -> Result<usize> {
        let s = self.u.arbitrary::<u8>()?;
        Ok(match s % 8 {
            0 => 0,
            1 | 2 | 3 => 1,
            4 | 5 => 2,
            6 => 3,
            _ => 4,
        })
    }

    fn touch(&mut self, r: u8) {
        self.hot.rotate_right(1);
        self.hot[0] = r.min(12);
    }
}

fn fits(v: i64, n: usize) -> bool {
    if n == 0 {
        return v == 0;
    }
    let bits = 8 * n as u32;
    v >= -(1i64 << (bits - 1)) && v < (1i64 << (bits - 1))
}

/// Builds a case from fuzzer bytes. The first byte picks raw (1 in 8) or structured mode.
pub fn case(data: &[u8]) -> Result<Case> {
    if data.first() == Some(&0xff) {
        // Seed format (see seed_corpus.py): 0xff ⌢ GP code blob, default set-up.
        let blob = data[1..].to_vec();
        let comparable = raw_comparable(&blob);
        let mut u = Unstructured::new(&[]);
        let pages = layout(&mut u, 0)?;
        let mut regs = [0u64; 13];
        regs[0] = HALT as u64;
        regs[1] = 0x0002_2000;
        return Ok(Case { blob, comparable, structured: false, regs, pc: 0, gas: 10_000, pages });
    }
    let mut u = Unstructured::new(data);
    let mode = u.arbitrary::<u8>()?;
    let setup_flags = u.arbitrary::<u8>()?;
    let gas = match u.arbitrary::<u8>()? {
        0..=15 => u.int_in_range(0..=40i64)?,
        16..=31 => u.int_in_range(0..=400i64)?,
        _ => u.int_in_range(1000..=10_000i64)?,
    };
    let pages = layout(&mut u, setup_flags)?;
    if mode % 8 == 0 {
        // Raw mode: the rest of the input is a GP code blob.
        let regs = registers(&mut u, 0)?;
        let blob = u.take_rest().to_vec();
        let comparable = raw_comparable(&blob);
        return Ok(Case { blob, comparable, structured: false, regs, pc: 0, gas, pages });
    }

    let allow_uncommon = mode % 8 == 1 && setup_flags & 1 == 1;
    let ops = common_opcodes();
    let n = u.int_in_range(1..=48usize)?;
    let mut g = Gen { u: &mut u, hot: [7, 8, 9, 1] };
    let mut list: Vec<Ins> = Vec::new();
    while list.len() < n && !g.u.is_empty() {
        let s = g.u.arbitrary::<u8>()?;
        let chosen: Vec<Opcode> = if s < 40 {
            let (a, b) = PAIRS[(s % 14) as usize];
            vec![a, b]
        } else if s < 56 {
            // load an address or a jump-table address, then use it
            vec![
                Opcode::load_imm,
                [Opcode::jump_ind, Opcode::load_ind_u32, Opcode::store_ind_u16, Opcode::load_imm_jump_ind]
                    [(s % 4) as usize],
            ]
        } else if allow_uncommon && s >= 250 {
            vec![Opcode::sbrk]
        } else {
            vec![*g.u.choose(&ops)?]
        };
        for op in chosen {
            let ins = g.instruction(op)?;
            if ins.args.first().is_some()
                && !matches!(op.format(), ArgFormat::NoArgs | ArgFormat::OneImm | ArgFormat::OneOffset)
            {
                let r = ins.args[0] & 15;
                g.touch(r);
            }
            list.push(ins);
        }
        if allow_uncommon && s == 255 {
            // an invalid opcode (trap in GP)
            list.push(Ins { op: 2, args: vec![], target: None, terminator: true });
        }
    }
    // Often return to the caller (φ0 is then usually the halt address).
    if setup_flags & 8 != 0 {
        list.push(Ins { op: Opcode::jump_ind as u8, args: vec![0], target: None, terminator: true });
    }
    // Always end on a trap: PolkaVM treats a non-terminator or branch in the last position
    // specially (it rejects / traps the whole branch), GP runs into ζ's zero padding (a trap).
    list.push(Ins { op: 0, args: vec![], target: None, terminator: true });

    // Layout.
    let mut pcs = Vec::with_capacity(list.len());
    let mut pc = 0u32;
    for ins in &list {
        pcs.push(pc);
        pc += 1 + ins.args.len() as u32;
    }
    let code_len = pc;
    let mut labels: Vec<u32> = vec![0];
    for (i, ins) in list.iter().enumerate() {
        if ins.terminator && i + 1 < list.len() {
            labels.push(pcs[i + 1]);
        }
    }
    let mut code = Vec::with_capacity(code_len as usize);
    let mut bitmask = Vec::with_capacity(code_len as usize);
    for (i, ins) in list.iter_mut().enumerate() {
        if let Some((sel, off, w)) = ins.target.filter(|&(_, off, w)| off + w <= ins.args.len()) {
            let t: i64 = match sel % 32 {
                0..=28 => labels[(sel / 32) as usize % labels.len()] as i64,
                29 => pcs[(sel / 32) as usize % pcs.len()] as i64, // maybe not in ϖ
                30 => (sel / 32) as i64 % (code_len as i64 + 2),   // maybe mid-instruction
                _ => pcs[i] as i64 + (sel as i16 as i64) * 977,    // wild
            };
            let rel = t - pcs[i] as i64;
            ins.args[off..off + w].copy_from_slice(&rel.to_le_bytes()[..w]);
        }
        code.push(ins.op);
        bitmask.push(true);
        code.extend_from_slice(&ins.args);
        bitmask.extend(std::iter::repeat_n(false, ins.args.len()));
    }

    // Jump table: mostly block starts, some hostile entries.
    let jt_n = g.u.int_in_range(0..=6usize)?;
    let mut jump_table = Vec::with_capacity(jt_n);
    for _ in 0..jt_n {
        let s = g.u.arbitrary::<u8>()?;
        jump_table.push(match s % 10 {
            0..=6 => labels[(s / 10) as usize % labels.len()],
            7 => pcs[(s / 10) as usize % pcs.len()],
            8 => (s / 10) as u32 % (code_len + 1),
            _ => g.u.arbitrary::<u32>()?,
        });
    }
    let max = jump_table.iter().copied().max().unwrap_or(0);
    let z_min = (1..=4u8).find(|&z| z == 4 || max < 1u32 << (8 * z)).unwrap();
    let z = if g.u.ratio(1, 8)? { g.u.int_in_range(z_min..=4)? } else { z_min };
    let comparable = !allow_uncommon || list.iter().all(|i| gp_to_polkavm_opcode(i.op).is_some());

    let mut regs = registers(g.u, jump_table.len())?;
    // Entry pc: mostly 0, sometimes another block start.
    let pc = if g.u.ratio(1, 8)? { *g.u.choose(&labels)? } else { 0 };
    if setup_flags & 2 != 0 || (setup_flags & 8 != 0 && setup_flags & 16 != 0) {
        regs[0] = HALT as u64; // ra = halt, as in standard invocations
    }
    let blob = encode_blob(&code, &bitmask, &jump_table, z);
    Ok(Case { blob, comparable, structured: true, regs, pc, gas, pages })
}

/// Memory layout: the default slot accesses, or (flag bit 2) per-slot choices.
fn layout(u: &mut Unstructured, flags: u8) -> Result<Vec<(u32, Access, Vec<u8>)>> {
    let seed = u.arbitrary::<u8>()?;
    let mut pages = Vec::new();
    for (k, &(addr, default)) in SLOTS.iter().enumerate() {
        let access = if flags & 4 != 0 {
            match u.arbitrary::<u8>()? % 3 {
                0 => None,
                1 => Some(Access::ReadOnly),
                _ => Some(Access::ReadWrite),
            }
        } else {
            default
        };
        let Some(access) = access else { continue };
        let mut content: Vec<u8> = (0..PAGE as usize)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed).wrapping_add(k as u8 * 17))
            .collect();
        // A few input bytes at the start of each page.
        let n = u.int_in_range(0..=8usize)?;
        for b in content.iter_mut().take(n) {
            *b = u.arbitrary()?;
        }
        pages.push((addr, access, content));
    }
    Ok(pages)
}

fn registers(u: &mut Unstructured, jt_len: usize) -> Result<[u64; 13]> {
    let mut regs = [0u64; 13];
    let mut g = Gen { u, hot: [0; 4] };
    for r in regs.iter_mut() {
        let s = g.u.arbitrary::<u8>()?;
        *r = match s % 4 {
            0 => 0,
            1 if jt_len > 0 => ((s as u64 / 4) % jt_len as u64 + 1) * 2,
            _ => g.value()?,
        };
    }
    Ok(regs)
}

/// Whether a raw blob may be compared with PolkaVM: every opcode octet has a PolkaVM
/// equivalent, the last instruction is a terminator that cannot fall through (trap,
/// jump, jump_ind, load_imm_jump, load_imm_jump_ind; see `lib.rs`), and the jump-table entry size is not 0
/// while the table is non-empty. (GP reads E_0 entries as 0, i.e. jump-table targets of
/// pc 0, while PolkaVM's `JumpTable::get_by_index` refuses every entry when z = 0.)
fn raw_comparable(blob: &[u8]) -> bool {
    let Some((jt_len, z, code, mask)) = split_blob(blob) else { return false };
    if jt_len > 0 && z == 0 {
        return false;
    }
    let n = code.len();
    let bit = |i: usize| blob[mask.start + i / 8] >> (i % 8) & 1 == 1;
    let Some(last) = (0..n).rev().find(|&i| bit(i)) else { return false };
    matches!(blob[code.start + last], 0 | 40 | 50 | 80 | 180)
        && (0..n).all(|i| !bit(i) || gp_to_polkavm_opcode(blob[code.start + i]).is_some())
}
