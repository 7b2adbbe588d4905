//! Source text → statements: the line syntax of the assembler (instruction operands as the
//! disassembler prints them for each GP v0.7.2 A.5 argument format).

use super::{AsmError, AsmErrorKind};
use crate::instructions::{ArgFormat, Opcode};

/// One term of an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Term {
    Num(i128),
    /// A constant or data label.
    Sym(String),
    /// `&label`: the dynamic-jump address of a code label (GP A.5.6 `djump`).
    JumpAddr(String),
}

/// A sum of signed terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Expr(pub Vec<(bool, Term)>);

impl Expr {
    pub fn num(v: i128) -> Expr {
        Expr(vec![(false, Term::Num(v))])
    }
}

/// A branch or jump target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Label(String),
    Pc(u64),
}

/// An instruction with unevaluated operands (fields as in [`crate::Instruction`]).
#[derive(Clone, Debug)]
pub(crate) struct InstSrc {
    pub op: Opcode,
    pub ra: u8,
    pub rb: u8,
    pub rd: u8,
    pub x: Expr,
    pub y: Expr,
    pub target: Option<Target>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Section {
    Code,
    RoData,
    RwData,
}

#[derive(Clone, Debug)]
pub(crate) enum Stmt {
    Label(String),
    /// A listing address `pc:` or `.org pc`: the next instruction starts at this pc.
    Pin(Expr),
    /// The implicit trap a listing ends with: the code ends at this pc.
    EndPin(u64),
    Inst(InstSrc),
    Section(Section),
    Equ(String, Expr),
    StackSize(Expr),
    HeapPages(Expr),
    Metadata(Vec<u8>),
    JumpTable(Vec<Target>),
    /// `.u8/.u16/.u32/.u64` values of the given byte width.
    Data(usize, Vec<Expr>),
    Bytes(Vec<u8>),
    Zero(Expr),
    Align(Expr),
}

/// A statement with its 1-based source line.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub line: usize,
    pub stmt: Stmt,
}

fn err(line: usize, kind: AsmErrorKind) -> AsmError {
    AsmError { line, kind }
}

fn bad(line: usize, msg: impl Into<String>) -> AsmError {
    err(line, AsmErrorKind::BadOperand(msg.into()))
}

fn syntax(line: usize, msg: impl Into<String>) -> AsmError {
    err(line, AsmErrorKind::Syntax(msg.into()))
}

/// Removes a `;`, `#` or `//` comment, honouring string and character literals.
fn strip_comment(s: &str) -> &str {
    let b = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b';' | b'#' => return &s[..i],
                b'/' if b.get(i + 1) == Some(&b'/') => return &s[..i],
                _ => {}
            },
        }
        i += 1;
    }
    s
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_ident_start) && chars.all(is_ident_char)
}

/// Parses an integer literal: decimal, `0x` hex, `0b` binary (with `_` separators) or a
/// character literal `'c'`.
fn parse_int(s: &str) -> Option<i128> {
    if let Some(inner) = s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        let bytes = unescape(inner)?;
        return (bytes.len() == 1).then(|| bytes[0] as i128);
    }
    let s = s.replace('_', "");
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or(s.strip_prefix("0X")) {
        (h.to_string(), 16)
    } else if let Some(b) = s.strip_prefix("0b").or(s.strip_prefix("0B")) {
        (b.to_string(), 2)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i128::from_str_radix(&digits, radix).ok()
}

/// Resolves `\n`, `\t`, `\0`, `\\`, `\"`, `\'` and `\xNN` escapes.
fn unescape(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next()? {
            'n' => out.push(b'\n'),
            't' => out.push(b'\t'),
            'r' => out.push(b'\r'),
            '0' => out.push(0),
            '\\' => out.push(b'\\'),
            '"' => out.push(b'"'),
            '\'' => out.push(b'\''),
            'x' => {
                let h: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&h, 16).ok()?);
            }
            _ => return None,
        }
    }
    Some(out)
}

fn parse_string(line: usize, s: &str) -> Result<Vec<u8>, AsmError> {
    let inner = s
        .trim()
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| syntax(line, format!("expected a string literal, found `{s}`")))?;
    unescape(inner).ok_or_else(|| syntax(line, format!("bad escape in string `{s}`")))
}

/// Parses `[+|-] term {(+|-) term}`, terms being literals, symbols or `&label`.
pub(crate) fn parse_expr(line: usize, s: &str) -> Result<Expr, AsmError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(bad(line, "missing value"));
    }
    let mut terms = Vec::new();
    let mut rest = s;
    let mut first = true;
    loop {
        rest = rest.trim_start();
        let mut neg = false;
        let mut signed = false;
        while let Some(c) = rest.chars().next().filter(|c| *c == '+' || *c == '-') {
            neg ^= c == '-';
            signed = true;
            rest = rest[1..].trim_start();
        }
        if !first && !signed {
            return Err(bad(line, format!("expected `+` or `-` in `{s}`")));
        }
        first = false;
        let end = if rest.starts_with('\'') {
            // A character literal, possibly escaped.
            let b = rest.as_bytes();
            let mut i = 1;
            while i < b.len() && b[i] != b'\'' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            (i + 1).min(rest.len())
        } else {
            rest.find(|c: char| c == '+' || c == '-' || c.is_whitespace())
                .unwrap_or(rest.len())
        };
        let tok = &rest[..end];
        rest = &rest[end..];
        let term = if let Some(v) = parse_int(tok) {
            Term::Num(v)
        } else if let Some(l) = tok.strip_prefix('&').filter(|l| is_ident(l)) {
            Term::JumpAddr(l.to_string())
        } else if is_ident(tok) {
            Term::Sym(tok.to_string())
        } else {
            return Err(bad(line, format!("bad value `{tok}` in `{s}`")));
        };
        terms.push((neg, term));
        if rest.trim().is_empty() {
            return Ok(Expr(terms));
        }
    }
}

/// Register names: `r0`..`r12` and the PolkaVM ABI aliases.
pub(crate) fn parse_reg(line: usize, s: &str) -> Result<u8, AsmError> {
    const ALIASES: [&str; 13] = [
        "ra", "sp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    ];
    let s = s.trim();
    if let Some(i) = ALIASES.iter().position(|a| *a == s) {
        return Ok(i as u8);
    }
    s.strip_prefix('r')
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|&n| n <= 12 && !s[1..].starts_with('+'))
        .ok_or_else(|| bad(line, format!("expected a register r0..r12, found `{s}`")))
}

fn parse_target(line: usize, s: &str) -> Result<Target, AsmError> {
    let s = s.trim();
    let t = s.strip_prefix('@').unwrap_or(s);
    if let Some(v) = parse_int(t) {
        if s.starts_with('@') && (0..1i128 << 32).contains(&v) {
            return Ok(Target::Pc(v as u64));
        }
        return Err(bad(
            line,
            format!("expected a target `@label` or `@pc` (a pc below 2^32), found `{s}`"),
        ));
    }
    if is_ident(t) {
        return Ok(Target::Label(t.to_string()));
    }
    Err(bad(
        line,
        format!("expected a target `@label`, found `{s}`"),
    ))
}

/// Splits on commas outside brackets and quotes.
fn split_operands(s: &str) -> Vec<&str> {
    let s = s.trim();
    if s.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None, 0usize);
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'[' => depth += 1,
                b']' => depth -= 1,
                b',' if depth == 0 => {
                    out.push(s[start..i].trim());
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    out.push(s[start..].trim());
    out
}

fn bracketed(line: usize, s: &str) -> Result<&str, AsmError> {
    s.trim()
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| {
            bad(
                line,
                format!("expected a memory operand `[...]`, found `{s}`"),
            )
        })
}

/// `[rA]`, `[rA + expr]` or `[rA - expr]`.
fn parse_reg_mem(line: usize, s: &str) -> Result<(u8, Expr), AsmError> {
    let inner = bracketed(line, s)?.trim();
    let split = inner.find(['+', '-']).unwrap_or(inner.len());
    let reg = parse_reg(line, &inner[..split])?;
    let rest = inner[split..].trim();
    let off = if rest.is_empty() {
        Expr::num(0)
    } else {
        parse_expr(line, rest)?
    };
    Ok((reg, off))
}

/// The operands of `op` in the disassembler's syntax for its argument format.
fn parse_inst(line: usize, op: Opcode, args: &str) -> Result<InstSrc, AsmError> {
    let ops = split_operands(args);
    let want = match op.format() {
        ArgFormat::NoArgs => 0,
        ArgFormat::OneImm | ArgFormat::OneOffset => 1,
        ArgFormat::RegExtImm
        | ArgFormat::TwoImm
        | ArgFormat::RegImm
        | ArgFormat::RegTwoImm
        | ArgFormat::TwoRegs => 2,
        ArgFormat::RegImmOffset
        | ArgFormat::TwoRegsImm
        | ArgFormat::TwoRegsOffset
        | ArgFormat::ThreeRegs => 3,
        ArgFormat::TwoRegsTwoImm => 4,
    };
    if ops.len() != want {
        return Err(err(
            line,
            AsmErrorKind::OperandCount {
                mnemonic: op.name(),
                expected: want,
                found: ops.len(),
            },
        ));
    }
    let mut i = InstSrc {
        op,
        ra: 0,
        rb: 0,
        rd: 0,
        x: Expr::num(0),
        y: Expr::num(0),
        target: None,
    };
    let reg = |k: usize| parse_reg(line, ops[k]);
    let expr = |k: usize| parse_expr(line, ops[k]);
    let target = |k: usize| parse_target(line, ops[k]).map(Some);
    match op.format() {
        ArgFormat::NoArgs => {}
        ArgFormat::OneImm => i.x = expr(0)?,
        ArgFormat::RegExtImm | ArgFormat::RegImm => {
            i.ra = reg(0)?;
            i.x = expr(1)?;
        }
        ArgFormat::TwoImm => {
            i.x = parse_expr(line, bracketed(line, ops[0])?)?;
            i.y = expr(1)?;
        }
        ArgFormat::OneOffset => i.target = target(0)?,
        ArgFormat::RegTwoImm => {
            (i.ra, i.x) = parse_reg_mem(line, ops[0])?;
            i.y = expr(1)?;
        }
        ArgFormat::RegImmOffset => {
            i.ra = reg(0)?;
            i.x = expr(1)?;
            i.target = target(2)?;
        }
        ArgFormat::TwoRegs => {
            i.ra = reg(0)?;
            i.rb = reg(1)?;
        }
        ArgFormat::TwoRegsImm => {
            i.ra = reg(0)?;
            i.rb = reg(1)?;
            i.x = expr(2)?;
        }
        ArgFormat::TwoRegsOffset => {
            i.ra = reg(0)?;
            i.rb = reg(1)?;
            i.target = target(2)?;
        }
        ArgFormat::TwoRegsTwoImm => {
            i.ra = reg(0)?;
            i.rb = reg(1)?;
            i.x = expr(2)?;
            i.y = expr(3)?;
        }
        ArgFormat::ThreeRegs => {
            i.rd = reg(0)?;
            i.ra = reg(1)?;
            i.rb = reg(2)?;
        }
    }
    Ok(i)
}

fn parse_directive(line: usize, name: &str, args: &str) -> Result<Stmt, AsmError> {
    let ops = split_operands(args);
    let one = || -> Result<Expr, AsmError> {
        match ops.as_slice() {
            [e] => parse_expr(line, e),
            _ => Err(syntax(line, format!(".{name} takes one value"))),
        }
    };
    let exprs =
        || -> Result<Vec<Expr>, AsmError> { ops.iter().map(|e| parse_expr(line, e)).collect() };
    Ok(match name {
        "code" | "text" => Stmt::Section(Section::Code),
        "ro_data" | "rodata" => Stmt::Section(Section::RoData),
        "rw_data" | "data" => Stmt::Section(Section::RwData),
        "equ" | "const" => match ops.as_slice() {
            [n, e] if is_ident(n) => Stmt::Equ(n.to_string(), parse_expr(line, e)?),
            _ => return Err(syntax(line, format!(".{name} takes `NAME, value`"))),
        },
        "stack_size" => Stmt::StackSize(one()?),
        "heap_pages" => Stmt::HeapPages(one()?),
        "org" => Stmt::Pin(one()?),
        "metadata" => Stmt::Metadata(parse_string(line, args)?),
        "jump_table" => Stmt::JumpTable(
            ops.iter()
                .map(|t| parse_target(line, t))
                .collect::<Result<_, _>>()?,
        ),
        "u8" | "byte" => Stmt::Data(1, exprs()?),
        "u16" => Stmt::Data(2, exprs()?),
        "u32" => Stmt::Data(4, exprs()?),
        "u64" => Stmt::Data(8, exprs()?),
        "ascii" => Stmt::Bytes(parse_string(line, args)?),
        "zero" => Stmt::Zero(one()?),
        "align" => Stmt::Align(one()?),
        _ => return Err(err(line, AsmErrorKind::UnknownDirective(name.to_string()))),
    })
}

/// Parses a whole source into statements.
pub(crate) fn parse(source: &str) -> Result<Vec<Line>, AsmError> {
    let mut out = Vec::new();
    // The disassembler's listing ends with the implicit trap at the end of the code.
    let mut last_listed_trap: Option<usize> = None;
    for (n, raw) in source.lines().enumerate() {
        let line = n + 1;
        let mut s = strip_comment(raw).trim();
        if s.is_empty() {
            continue;
        }
        // Listing prefix `[@] pc:` (the `@` marks a basic-block start and is ignored).
        let mut listed: Option<u64> = None;
        let unmarked = s.strip_prefix('@').map(str::trim_start).unwrap_or(s);
        if unmarked.starts_with(|c: char| c.is_ascii_digit()) {
            let colon = unmarked
                .find(':')
                .ok_or_else(|| syntax(line, format!("expected `pc:` or a label at `{s}`")))?;
            let pc = parse_int(unmarked[..colon].trim())
                .filter(|v| (0..1i128 << 32).contains(v))
                .ok_or_else(|| syntax(line, format!("bad listing address in `{s}`")))?;
            listed = Some(pc as u64);
            s = unmarked[colon + 1..].trim();
        }
        // Labels.
        while let Some(colon) = s.find(':') {
            let name = s[..colon].trim();
            if !is_ident(name) {
                break;
            }
            out.push(Line {
                line,
                stmt: Stmt::Label(name.to_string()),
            });
            s = s[colon + 1..].trim();
        }
        if let Some(pc) = listed {
            out.push(Line {
                line,
                stmt: Stmt::Pin(Expr::num(pc as i128)),
            });
        }
        if s.is_empty() {
            continue;
        }
        let (word, args) = s
            .split_once(char::is_whitespace)
            .map(|(w, a)| (w, a.trim()))
            .unwrap_or((s, ""));
        let stmt = if let Some(d) = word.strip_prefix('.') {
            parse_directive(line, d, args)?
        } else {
            let op = Opcode::from_name(word)
                .ok_or_else(|| err(line, AsmErrorKind::UnknownMnemonic(word.to_string())))?;
            Stmt::Inst(parse_inst(line, op, args)?)
        };
        last_listed_trap = match (&stmt, listed) {
            (Stmt::Inst(i), Some(_)) if i.op == Opcode::trap => Some(out.len()),
            _ => None,
        };
        out.push(Line { line, stmt });
    }
    if let Some(idx) = last_listed_trap {
        // `pc: trap` as the last line of a listing is the disassembler's implicit trap at the
        // end of the code (GP A.1: ζ is zero-padded): it fixes the code length only.
        if let Stmt::Pin(pc) = &out[idx - 1].stmt {
            if let [(false, Term::Num(pc))] = pc.0.as_slice() {
                let pc = *pc as u64;
                let line = out[idx].line;
                out.truncate(idx - 1);
                out.push(Line {
                    line,
                    stmt: Stmt::EndPin(pc),
                });
            }
        }
    }
    Ok(out)
}
