//! Symbols, data sections and code layout: statements → code, bitmask and jump table with the
//! operand encodings of GP v0.7.2 A.5 (shortest immediates and offsets, sign-extended).

use std::collections::{BTreeMap, HashMap};

use super::parse::{Expr, InstSrc, Line, Section, Stmt, Target, Term};
use super::{AsmError, AsmErrorKind, Assembly};
use crate::initialization::ZONE_SIZE;
use crate::instructions::{ArgFormat, Opcode};

/// The longest instruction GP A.2 allows: an opcode and `skip` ≤ 24 octets.
const MAX_INSTRUCTION_LEN: u64 = 25;
/// Z_A: the dynamic-jump alignment factor (GP A.5.6).
const JUMP_ALIGNMENT: i128 = 2;
/// Where the read-only data starts (GP A.7: Z_Z).
const RO_BASE: u64 = ZONE_SIZE;

fn err(line: usize, kind: AsmErrorKind) -> AsmError {
    AsmError { line, kind }
}

#[derive(Clone, Copy, Debug)]
enum Symbol {
    Const(usize),
    Code(usize),
    Data(Section, u64),
}

/// A required pc and the line requiring it.
type Pin = Option<(u64, usize)>;

/// An instruction with its operands evaluated (immediates as their 32-bit patterns, except
/// the 64-bit immediate of `load_imm_64`).
struct Inst {
    op: Opcode,
    ra: u8,
    rb: u8,
    rd: u8,
    x: u64,
    y: u32,
    target: Option<Target>,
    line: usize,
    /// The pc this instruction must start at (listing address or `.org`).
    pin: Option<(u64, usize)>,
}

struct Ctx<'a> {
    consts: Vec<(&'a Expr, usize, String)>,
    symbols: HashMap<String, Symbol>,
    rw_base: Option<u64>,
    jump_index: HashMap<String, usize>,
}

impl Ctx<'_> {
    /// Evaluates `e`; data addresses and jump addresses only once known.
    fn eval(&self, e: &Expr, line: usize, depth: usize) -> Result<i128, AsmError> {
        let mut sum: i128 = 0;
        for (neg, term) in &e.0 {
            let v = match term {
                Term::Num(v) => *v,
                Term::Sym(name) => match self.symbols.get(name) {
                    None => {
                        return Err(err(line, AsmErrorKind::UndefinedSymbol(name.clone())));
                    }
                    Some(Symbol::Const(i)) => {
                        if depth > 64 {
                            return Err(err(line, AsmErrorKind::RecursiveConstant(name.clone())));
                        }
                        let (ce, cline, _) = &self.consts[*i];
                        self.eval(ce, *cline, depth + 1)?
                    }
                    Some(Symbol::Code(_)) => {
                        return Err(err(
                            line,
                            AsmErrorKind::BadOperand(format!(
                                "code label `{name}` is not a value: use `&{name}` for its \
                                 dynamic-jump address or `@{name}` as a branch target"
                            )),
                        ));
                    }
                    Some(Symbol::Data(Section::RoData, off)) => (RO_BASE + off) as i128,
                    Some(Symbol::Data(_, off)) => match self.rw_base {
                        Some(base) => (base + off) as i128,
                        None => return Err(not_yet(line, name)),
                    },
                },
                Term::JumpAddr(name) => match self.jump_index.get(name) {
                    Some(&i) => (i as i128 + 1) * JUMP_ALIGNMENT,
                    None if self.rw_base.is_none() => return Err(not_yet(line, name)),
                    None => return Err(err(line, AsmErrorKind::UndefinedLabel(name.clone()))),
                },
            };
            sum = if *neg {
                sum.checked_sub(v)
            } else {
                sum.checked_add(v)
            }
            .ok_or_else(|| {
                err(
                    line,
                    AsmErrorKind::OutOfRange {
                        value: v,
                        what: "an expression",
                    },
                )
            })?;
        }
        Ok(sum)
    }
}

fn not_yet(line: usize, name: &str) -> AsmError {
    err(
        line,
        AsmErrorKind::BadOperand(format!(
            "`{name}` is an address, which is not known where sizes are computed"
        )),
    )
}

/// A value for a field of `bits` bits: `[-2^(bits-1), 2^bits)` (negative values as two's
/// complement), or for 32-bit fields also a 64-bit value that is the sign extension of one.
fn field(v: i128, bits: u32, what: &'static str, line: usize) -> Result<u64, AsmError> {
    let out = || err(line, AsmErrorKind::OutOfRange { value: v, what });
    if bits == 64 {
        return if (-(1i128 << 63)..1i128 << 64).contains(&v) {
            Ok(v as u64)
        } else {
            Err(out())
        };
    }
    if (-(1i128 << (bits - 1))..1i128 << bits).contains(&v) {
        return Ok((v as u64) & ((1u64 << bits) - 1));
    }
    if bits == 32 && ((1i128 << 64) - (1i128 << 31)..1i128 << 64).contains(&v) {
        return Ok(v as u64 & 0xffff_ffff);
    }
    Err(out())
}

/// The shortest `n` ≤ 4 whose `n` low octets of `v`, sign-extended (GP A.16 X_n), give
/// the sign extension of `v` from 32 bits.
fn imm_len(v: u32) -> usize {
    let full = v as i32 as i64;
    (0..4)
        .find(|&n| {
            let shift = 64 - 8 * n as u32;
            let low = if n == 0 {
                0
            } else {
                ((v as u64) << shift) as i64 >> shift
            };
            low == full
        })
        .unwrap_or(4)
}

fn put(out: &mut Vec<u8>, v: u32, n: usize) {
    out.extend_from_slice(&v.to_le_bytes()[..n]);
}

/// Encodes `i` at `pc` whose static target (if any) is at `target`, padded to `len` octets
/// when that is longer than the shortest encoding (the last variable field is widened, as
/// far as its 4 octets allow, then zero octets follow, which the decoder skips).
fn encode(i: &Inst, pc: u64, target: Option<u64>, len: usize) -> Result<Vec<u8>, AsmError> {
    let mut out = vec![i.op as u8];
    let x32 = i.x as u32;
    let offset = || -> Result<u32, AsmError> {
        let t = target.expect("instructions with an offset have a target");
        let off = t as i64 - pc as i64;
        i32::try_from(off)
            .map(|o| o as u32)
            .map_err(|_| err(i.line, AsmErrorKind::OffsetOutOfRange { target: t }))
    };
    let ab = i.ra | i.rb << 4;
    let trailing: Option<u32> = match i.op.format() {
        ArgFormat::NoArgs => None,
        ArgFormat::OneImm => Some(x32),
        ArgFormat::RegExtImm => {
            out.push(i.ra);
            out.extend_from_slice(&i.x.to_le_bytes());
            None
        }
        ArgFormat::TwoImm => {
            let lx = imm_len(x32);
            out.push(lx as u8);
            put(&mut out, x32, lx);
            Some(i.y)
        }
        ArgFormat::OneOffset => Some(offset()?),
        ArgFormat::RegImm => {
            out.push(i.ra);
            Some(x32)
        }
        ArgFormat::RegTwoImm | ArgFormat::RegImmOffset => {
            let lx = imm_len(x32);
            out.push(i.ra | (lx as u8) << 4);
            put(&mut out, x32, lx);
            Some(if i.op.format() == ArgFormat::RegTwoImm {
                i.y
            } else {
                offset()?
            })
        }
        ArgFormat::TwoRegs => {
            out.push(ab);
            None
        }
        ArgFormat::TwoRegsImm => {
            out.push(ab);
            Some(x32)
        }
        ArgFormat::TwoRegsOffset => {
            out.push(ab);
            Some(offset()?)
        }
        ArgFormat::TwoRegsTwoImm => {
            let lx = imm_len(x32);
            out.push(ab);
            out.push(lx as u8);
            put(&mut out, x32, lx);
            Some(i.y)
        }
        ArgFormat::ThreeRegs => {
            out.push(ab);
            out.push(i.rd);
            None
        }
    };
    if let Some(v) = trailing {
        let n = imm_len(v).max(len.saturating_sub(out.len()).min(4));
        let bytes = (v as i32 as i64).to_le_bytes();
        out.extend_from_slice(&bytes[..n]);
    }
    if out.len() < len {
        out.resize(len, 0);
    }
    Ok(out)
}

/// The assembled parts before packaging.
pub(crate) fn assemble(lines: &[Line]) -> Result<Assembly, AsmError> {
    // Symbols: constants first, so that sizes may use constants defined anywhere.
    let mut ctx = Ctx {
        consts: Vec::new(),
        symbols: HashMap::new(),
        rw_base: None,
        jump_index: HashMap::new(),
    };
    let define = |ctx: &mut Ctx<'_>, name: &str, sym: Symbol, line: usize| {
        if ctx.symbols.insert(name.to_string(), sym).is_some() {
            return Err(err(line, AsmErrorKind::DuplicateSymbol(name.to_string())));
        }
        Ok(())
    };
    for l in lines {
        if let Stmt::Equ(name, e) = &l.stmt {
            let idx = ctx.consts.len();
            ctx.consts.push((e, l.line, name.clone()));
            define(&mut ctx, name, Symbol::Const(idx), l.line)?;
        }
    }

    // Sections.
    let mut section = Section::Code;
    // (instruction, line, pinned pc with the line that pins it)
    let mut srcs: Vec<(&InstSrc, usize, Pin)> = Vec::new();
    let mut pending_pin: Option<(u64, usize)> = None;
    let mut end_pin: Option<(u64, usize)> = None;
    let (mut ro, mut rw): (Vec<u8>, Vec<u8>) = (Vec::new(), Vec::new());
    let mut patches: Vec<(Section, usize, usize, &Expr, usize)> = Vec::new();
    let mut stack_size: Option<(&Expr, usize)> = None;
    let mut heap_pages: Option<(&Expr, usize)> = None;
    let mut metadata = Vec::new();
    let mut jump_entries: Vec<(Target, usize)> = Vec::new();
    let section_name = |s: Section| match s {
        Section::Code => "code",
        Section::RoData => "ro_data",
        Section::RwData => "rw_data",
    };
    for l in lines {
        let line = l.line;
        let in_data = |what: &'static str| {
            if section == Section::Code {
                Err(err(line, AsmErrorKind::WrongSection(what, "code")))
            } else {
                Ok(())
            }
        };
        let data: &mut Vec<u8> = if section == Section::RoData {
            &mut ro
        } else {
            &mut rw
        };
        match &l.stmt {
            Stmt::Label(name) => {
                let sym = match section {
                    Section::Code => Symbol::Code(srcs.len()),
                    s => Symbol::Data(s, data.len() as u64),
                };
                define(&mut ctx, name, sym, line)?;
            }
            Stmt::Pin(_) | Stmt::EndPin(_) | Stmt::Inst(_) if section != Section::Code => {
                let what = if matches!(l.stmt, Stmt::Inst(_)) {
                    "an instruction"
                } else {
                    "a pc (`.org` or a listing address)"
                };
                return Err(err(
                    line,
                    AsmErrorKind::WrongSection(what, section_name(section)),
                ));
            }
            Stmt::Pin(e) => {
                let pc = ctx.eval(e, line, 0)?;
                let pc = field(pc, 32, "a pc", line)?;
                pending_pin = Some((pc, line));
            }
            Stmt::EndPin(pc) => end_pin = Some((*pc, line)),
            Stmt::Inst(src) => srcs.push((src, line, pending_pin.take())),
            Stmt::Section(s) => section = *s,
            Stmt::Equ(..) => {}
            Stmt::StackSize(e) => stack_size = Some((e, line)),
            Stmt::HeapPages(e) => heap_pages = Some((e, line)),
            Stmt::Metadata(m) => metadata.clone_from(m),
            Stmt::JumpTable(ts) => jump_entries.extend(ts.iter().map(|t| (t.clone(), line))),
            Stmt::Data(width, es) => {
                in_data("data")?;
                for e in es {
                    patches.push((section, data.len(), *width, e, line));
                    data.resize(data.len() + width, 0);
                }
            }
            Stmt::Bytes(b) => {
                in_data("data")?;
                data.extend_from_slice(b);
            }
            Stmt::Zero(e) => {
                in_data("data")?;
                let n = ctx.eval(e, line, 0)?;
                let n = field(n, 24, "a data size", line)?;
                data.resize(data.len() + n as usize, 0);
            }
            Stmt::Align(e) => {
                in_data("data")?;
                let n = ctx.eval(e, line, 0)?;
                let n = field(n, 16, "an alignment", line)?.max(1) as usize;
                data.resize(data.len().div_ceil(n) * n, 0);
            }
        }
    }
    if let Some(p) = pending_pin {
        end_pin = Some(p);
    }
    let zone_round = |x: u64| x.div_ceil(ZONE_SIZE) * ZONE_SIZE;
    ctx.rw_base = Some(2 * ZONE_SIZE + zone_round(ro.len() as u64));

    // The jump table: explicit entries, then every `&label` not among them.
    let mut jump_table: Vec<(Target, usize)> = Vec::new();
    for (t, line) in jump_entries {
        if let Target::Label(name) = &t {
            ctx.jump_index
                .entry(name.clone())
                .or_insert(jump_table.len());
        }
        jump_table.push((t, line));
    }
    let mut exprs: Vec<(&Expr, usize)> = Vec::new();
    for (src, line, _) in &srcs {
        exprs.push((&src.x, *line));
        exprs.push((&src.y, *line));
    }
    exprs.extend(patches.iter().map(|p| (p.3, p.4)));
    exprs.extend(ctx.consts.iter().map(|c| (c.0, c.1)));
    for (e, line) in exprs {
        for (_, t) in &e.0 {
            if let Term::JumpAddr(name) = t {
                if !ctx.jump_index.contains_key(name) {
                    ctx.jump_index.insert(name.clone(), jump_table.len());
                    jump_table.push((Target::Label(name.clone()), line));
                }
            }
        }
    }

    // Data values.
    for (s, off, width, e, line) in &patches {
        let v = ctx.eval(e, *line, 0)?;
        let v = field(v, 8 * *width as u32, "a data value", *line)?;
        let data = if *s == Section::RoData {
            &mut ro
        } else {
            &mut rw
        };
        data[*off..off + width].copy_from_slice(&v.to_le_bytes()[..*width]);
    }

    // Instructions.
    let mut insts = Vec::with_capacity(srcs.len());
    for (src, line, pin) in &srcs {
        let x = ctx.eval(&src.x, *line, 0)?;
        let y = ctx.eval(&src.y, *line, 0)?;
        let xbits = if src.op == Opcode::load_imm_64 {
            64
        } else {
            32
        };
        insts.push(Inst {
            op: src.op,
            ra: src.ra,
            rb: src.rb,
            rd: src.rd,
            x: field(x, xbits, "an immediate", *line)?,
            y: field(y, 32, "an immediate", *line)? as u32,
            target: src.target.clone(),
            line: *line,
            pin: *pin,
        });
    }

    let code_index = |name: &str, line: usize| -> Result<usize, AsmError> {
        match ctx.symbols.get(name) {
            Some(Symbol::Code(i)) => Ok(*i),
            _ => Err(err(line, AsmErrorKind::UndefinedLabel(name.to_string()))),
        }
    };
    let targets: Vec<Option<Result<usize, u64>>> = insts
        .iter()
        .map(|i| match &i.target {
            None => Ok(None),
            Some(Target::Pc(pc)) => Ok(Some(Err(*pc))),
            Some(Target::Label(l)) => code_index(l, i.line).map(|k| Some(Ok(k))),
        })
        .collect::<Result<_, _>>()?;

    let (code, bitmask, pcs) = lay_out(&insts, &targets, end_pin)?;
    let pc_of = |k: usize| pcs.get(k).copied().unwrap_or(code.len() as u64);
    // Named targets must be basic-block starts (GP A.3), or the jump would panic.
    let block_start = |k: usize| k < insts.len() && (k == 0 || insts[k - 1].op.is_terminator());
    let check_block = |name: &str, line: usize| -> Result<(), AsmError> {
        match code_index(name, line)? {
            k if block_start(k) => Ok(()),
            _ => Err(err(line, AsmErrorKind::NotBlockStart(name.to_string()))),
        }
    };
    for i in &insts {
        if let Some(Target::Label(l)) = &i.target {
            check_block(l, i.line)?;
        }
    }
    for (t, line) in &jump_table {
        if let Target::Label(l) = t {
            check_block(l, *line)?;
        }
    }
    let jump_table = jump_table
        .iter()
        .map(|(t, line)| match t {
            Target::Pc(pc) => Ok(*pc as u32),
            Target::Label(l) => code_index(l, *line).map(|k| pc_of(k) as u32),
        })
        .collect::<Result<Vec<u32>, _>>()?;

    let mut symbols = BTreeMap::new();
    for (name, sym) in &ctx.symbols {
        let v = match *sym {
            Symbol::Code(k) => pc_of(k),
            Symbol::Data(Section::RoData, off) => RO_BASE + off,
            Symbol::Data(_, off) => ctx.rw_base.unwrap_or(0) + off,
            Symbol::Const(_) => continue,
        };
        symbols.insert(name.clone(), v);
    }
    let size = |v: Option<(&Expr, usize)>, bits: u32, what| -> Result<u64, AsmError> {
        match v {
            None => Ok(0),
            Some((e, line)) => field(ctx.eval(e, line, 0)?, bits, what, line),
        }
    };
    let stack_size = size(stack_size, 24, "the stack size")? as u32;
    let heap_pages = size(heap_pages, 16, "the heap page count")? as u16;
    for (what, len) in [("read-only data", ro.len()), ("read-write data", rw.len())] {
        if len >= 1 << 24 {
            return Err(err(0, AsmErrorKind::TooLarge(what)));
        }
    }
    Ok(Assembly {
        code,
        bitmask,
        jump_table,
        ro_data: ro,
        rw_data: rw,
        stack_size,
        heap_pages,
        metadata,
        symbols,
    })
}

/// Assigns pcs (shortest encodings, grown until every offset fits, padded where a pc is
/// pinned) and emits code and opcode bitmask; returns them with each instruction's pc.
#[allow(clippy::type_complexity)]
fn lay_out(
    insts: &[Inst],
    targets: &[Option<Result<usize, u64>>],
    end_pin: Option<(u64, usize)>,
) -> Result<(Vec<u8>, Vec<bool>, Vec<u64>), AsmError> {
    let n = insts.len();
    let mut lens: Vec<u64> = vec![1; n];
    let mut pcs = vec![0u64; n];
    let mut pads = vec![0u64; n];
    let mut pad_lines = vec![0usize; n];
    let resolve = |pcs: &[u64], end: u64, t: &Option<Result<usize, u64>>| -> Option<u64> {
        t.as_ref().map(|t| match t {
            Ok(k) => pcs.get(*k).copied().unwrap_or(end),
            Err(pc) => *pc,
        })
    };
    loop {
        // Assign pcs with the current lengths, padding before pinned pcs.
        let mut pc = 0u64;
        pads.iter_mut().for_each(|p| *p = 0);
        let pin_at =
            |k: usize, pin: (u64, usize), pc: u64, pads: &mut [u64], lines: &mut [usize]| {
                let (want, line) = pin;
                if want < pc || (k == 0 && want != pc) {
                    return Err(err(
                        line,
                        AsmErrorKind::PcMismatch {
                            expected: want,
                            actual: pc,
                        },
                    ));
                }
                if k > 0 {
                    pads[k - 1] += want - pc;
                    lines[k - 1] = line;
                }
                Ok(want)
            };
        for k in 0..n {
            if let Some(pin) = insts[k].pin {
                pc = pin_at(k, pin, pc, &mut pads, &mut pad_lines)?;
            }
            pcs[k] = pc;
            pc += lens[k];
        }
        if let Some(pin) = end_pin {
            pc = pin_at(n, pin, pc, &mut pads, &mut pad_lines)?;
        }
        let end = pc;
        let mut changed = false;
        for k in 0..n {
            let t = resolve(&pcs, end, &targets[k]);
            let l = encode(&insts[k], pcs[k], t, 0)?.len() as u64;
            if l > lens[k] {
                lens[k] = l;
                changed = true;
            }
        }
        if !changed {
            let mut code = Vec::with_capacity(end as usize);
            let mut bitmask = Vec::with_capacity(end as usize);
            for k in 0..n {
                let len = lens[k] + pads[k];
                if len > MAX_INSTRUCTION_LEN {
                    return Err(err(pad_lines[k], AsmErrorKind::PaddingTooLarge(len)));
                }
                let t = resolve(&pcs, end, &targets[k]);
                let bytes = encode(&insts[k], pcs[k], t, len as usize)?;
                debug_assert_eq!(bytes.len() as u64, len);
                bitmask.push(true);
                bitmask.resize(bitmask.len() + bytes.len() - 1, false);
                code.extend_from_slice(&bytes);
            }
            if code.len() as u64 >= u32::MAX as u64 - 32 {
                return Err(err(0, AsmErrorKind::TooLarge("code")));
            }
            return Ok((code, bitmask, pcs));
        }
    }
}
