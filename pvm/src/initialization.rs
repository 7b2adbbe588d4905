//! Standard program initialisation Y(p, a) (GP v0.7.2 A.7).

use crate::memory::{Access, Memory, PAGE_SIZE};
use crate::program::{Program, ProgramError};
use std::sync::Arc;

/// Z_Z: major zone size.
pub const ZONE_SIZE: u64 = 1 << 16;
/// Z_I: maximum argument size.
pub const MAX_INPUT: u64 = 1 << 24;

fn page_round(x: u64) -> u64 {
    x.div_ceil(PAGE_SIZE as u64) * PAGE_SIZE as u64
}

fn zone_round(x: u64) -> u64 {
    x.div_ceil(ZONE_SIZE) * ZONE_SIZE
}

fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |acc, &b| acc << 8 | b as u64)
}

/// The parts of a standard program blob (GP A.7), borrowed from it.
struct Layout<'a> {
    o: &'a [u8],
    w: &'a [u8],
    z: u64,
    s: u64,
    c: &'a [u8],
}

/// Splits `E3(|o|) ⌢ E3(|w|) ⌢ E2(z) ⌢ E3(s) ⌢ o ⌢ w ⌢ E4(|c|) ⌢ c`.
fn split(spi_blob: &[u8]) -> Result<Layout<'_>, ProgramError> {
    let mut pos = 0usize;
    let mut take = |n: u64, what: &'static str| -> Result<&[u8], ProgramError> {
        if n > (spi_blob.len() - pos) as u64 {
            return Err(ProgramError::Truncated(what));
        }
        let s = &spi_blob[pos..pos + n as usize];
        pos += n as usize;
        Ok(s)
    };
    let o_len = le(take(3, "read-only data length")?);
    let w_len = le(take(3, "read-write data length")?);
    let z = le(take(2, "heap pages")?);
    let s = le(take(3, "stack size")?);
    let o = take(o_len, "read-only data")?;
    let w = take(w_len, "read-write data")?;
    let c_len = le(take(4, "code length")?);
    let c = take(c_len, "code")?;
    if pos != spi_blob.len() {
        return Err(ProgramError::TrailingBytes(spi_blob.len() - pos));
    }
    Ok(Layout { o, w, z, s, c })
}

fn check_args(args: &[u8]) -> Result<(), ProgramError> {
    if args.len() as u64 > MAX_INPUT {
        return Err(ProgramError::ArgumentsTooLarge(args.len()));
    }
    Ok(())
}

fn check_layout(l: &Layout<'_>) -> Result<(), ProgramError> {
    let total = 5 * ZONE_SIZE
        + zone_round(l.o.len() as u64)
        + zone_round(l.w.len() as u64 + l.z * PAGE_SIZE as u64)
        + zone_round(l.s)
        + MAX_INPUT;
    if total > 1 << 32 {
        return Err(ProgramError::LayoutTooLarge);
    }
    Ok(())
}

/// Lays out RAM and registers for `args` (the memory part of Y).
fn lay_out(o: &[u8], w: &[u8], z: u64, s: u64, args: &[u8]) -> (Memory, [u64; 13]) {
    let (o_len, w_len) = (o.len() as u64, w.len() as u64);
    let mut mem = Memory::new();
    // Read-only data.
    let ro_start = ZONE_SIZE;
    mem.map(ro_start as u32, page_round(o_len) as u32, Access::ReadOnly);
    mem.write_init(ro_start as u32, o).expect("mapped above");
    // Read-write data and heap pages.
    let rw_start = 2 * ZONE_SIZE + zone_round(o_len);
    let rw_len = page_round(w_len) + z * PAGE_SIZE as u64;
    mem.map(rw_start as u32, rw_len as u32, Access::ReadWrite);
    mem.write_init(rw_start as u32, w).expect("mapped above");
    mem.set_heap_top((rw_start + rw_len) as u32);
    // Stack.
    let stack_end = (1u64 << 32) - 2 * ZONE_SIZE - MAX_INPUT;
    let stack_len = page_round(s);
    mem.map(
        (stack_end - stack_len) as u32,
        stack_len as u32,
        Access::ReadWrite,
    );
    // Arguments.
    let args_start = (1u64 << 32) - ZONE_SIZE - MAX_INPUT;
    mem.map(
        args_start as u32,
        page_round(args.len() as u64) as u32,
        Access::ReadOnly,
    );
    mem.write_init(args_start as u32, args)
        .expect("mapped above");

    let mut regs = [0u64; 13];
    regs[0] = (1u64 << 32) - (1 << 16);
    regs[1] = stack_end;
    regs[7] = args_start;
    regs[8] = args.len() as u64;
    (mem, regs)
}

/// Y(p, a): decodes a standard program `E3(|o|) ⌢ E3(|w|) ⌢ E2(z) ⌢ E3(s) ⌢ o ⌢ w ⌢
/// E4(|c|) ⌢ c` and lays out RAM (read-only data, read-write data and heap, stack,
/// arguments) and registers as GP A.7 says.
pub fn standard_init(
    spi_blob: &[u8],
    args: &[u8],
) -> Result<(Program, Memory, [u64; 13]), ProgramError> {
    let l = split(spi_blob)?;
    check_args(args)?;
    check_layout(&l)?;
    let program = Program::from_code_blob(l.c)?;
    let (mem, regs) = lay_out(l.o, l.w, l.z, l.s, args);
    Ok((program, mem, regs))
}

/// A standard program blob (GP A.7) decoded once: the code as a shared [`Program`] plus the
/// data needed to lay out RAM. [`StandardProgram::init`] then is Y(p, a) for any `a` without
/// decoding the code again; cache it by code (see [`crate::invoke_standard`]).
#[derive(Debug)]
pub struct StandardProgram {
    program: Arc<Program>,
    ro_data: Vec<u8>,
    rw_data: Vec<u8>,
    heap_pages: u64,
    stack_size: u64,
}

impl StandardProgram {
    /// Decodes `spi_blob`; fails exactly when [`standard_init`] fails for arguments that
    /// are not too large.
    pub fn new(spi_blob: &[u8]) -> Result<StandardProgram, ProgramError> {
        let l = split(spi_blob)?;
        check_layout(&l)?;
        let program = Arc::new(Program::from_code_blob(l.c)?);
        Ok(StandardProgram {
            program,
            ro_data: l.o.to_vec(),
            rw_data: l.w.to_vec(),
            heap_pages: l.z,
            stack_size: l.s,
        })
    }

    /// The decoded code.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// Y(p, a) for this program: the same result as [`standard_init`] on its blob.
    pub fn init(&self, args: &[u8]) -> Result<(Arc<Program>, Memory, [u64; 13]), ProgramError> {
        check_args(args)?;
        let (mem, regs) = lay_out(
            &self.ro_data,
            &self.rw_data,
            self.heap_pages,
            self.stack_size,
            args,
        );
        Ok((self.program.clone(), mem, regs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let code = [0u8, 0, 1, 0, 1]; // one trap
        let mut p = Vec::new();
        p.extend_from_slice(&[2, 0, 0, 1, 0, 0, 1, 0, 0x10, 0, 0]);
        p.extend_from_slice(&[7, 8, 9]);
        p.extend_from_slice(&(code.len() as u32).to_le_bytes());
        p.extend_from_slice(&code);
        let (_, mem, regs) = standard_init(&p, &[5, 6]).unwrap();
        assert_eq!(regs[1], 0xfefe_0000);
        assert_eq!(regs[7], 0xfeff_0000);
        assert_eq!(regs[8], 2);
        assert_eq!(mem.read_vec(0x10000, 3).unwrap(), vec![7, 8, 0]);
        assert_eq!(mem.read_vec(0x30000, 2).unwrap(), vec![9, 0]);
        assert!(mem.is_writable(0x30000, 0x2000));
        assert!(!mem.is_readable(0x32000, 1));
        assert!(mem.is_writable(0xfefe_0000 - 0x1000, 0x1000));
        assert!(!mem.is_readable(0xfefe_0000 - 0x2000, 1));
        assert_eq!(mem.read_vec(0xfeff_0000, 2).unwrap(), vec![5, 6]);
        assert!(!mem.is_writable(0xfeff_0000, 1));
        assert_eq!(mem.heap_top(), 0x32000);
    }
}
