//! PVM program vectors (`pvm-test-vectors/programs/*.json`): basic Ψ of GP v0.7.2 Appendix A.
//!
//! Each file is one program: initial registers, pc, page map, memory and gas; expected
//! status (`halt` / `panic` / `page-fault`), registers, pc (the pc of the instruction
//! that stopped execution), memory and gas.

use crate::{CaseError, CaseOutcome, CaseResult};
use jam_pvm::{Access, Exit, Instance, Memory, Program};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, CaseError> {
    v.get(name)
        .ok_or_else(|| CaseError::failed(format!("missing field `{name}`")))
}

fn u64_of(v: &Value, what: &str) -> Result<u64, CaseError> {
    v.as_u64()
        .ok_or_else(|| CaseError::failed(format!("`{what}` is not a u64")))
}

fn u32_of(v: &Value, what: &str) -> Result<u32, CaseError> {
    u64_of(v, what)?
        .try_into()
        .map_err(|_| CaseError::failed(format!("`{what}` exceeds u32")))
}

fn i64_of(v: &Value, what: &str) -> Result<i64, CaseError> {
    v.as_i64()
        .ok_or_else(|| CaseError::failed(format!("`{what}` is not an i64")))
}

fn bytes_of(v: &Value, what: &str) -> Result<Vec<u8>, CaseError> {
    v.as_array()
        .ok_or_else(|| CaseError::failed(format!("`{what}` is not an array")))?
        .iter()
        .map(|b| {
            b.as_u64()
                .and_then(|b| u8::try_from(b).ok())
                .ok_or_else(|| CaseError::failed(format!("`{what}` holds a non-byte")))
        })
        .collect()
}

fn regs_of(v: &Value, what: &str) -> Result<[u64; 13], CaseError> {
    let arr = v
        .as_array()
        .ok_or_else(|| CaseError::failed(format!("`{what}` is not an array")))?;
    if arr.len() != 13 {
        return Err(CaseError::failed(format!(
            "`{what}` has {} registers",
            arr.len()
        )));
    }
    let mut regs = [0u64; 13];
    for (r, x) in regs.iter_mut().zip(arr) {
        *r = u64_of(x, what)?;
    }
    Ok(regs)
}

fn chunks_of(v: &Value, what: &str) -> Result<Vec<(u32, Vec<u8>)>, CaseError> {
    v.as_array()
        .ok_or_else(|| CaseError::failed(format!("`{what}` is not an array")))?
        .iter()
        .map(|c| {
            Ok((
                u32_of(field(c, "address")?, what)?,
                bytes_of(field(c, "contents")?, what)?,
            ))
        })
        .collect()
}

fn status_name(exit: Exit) -> &'static str {
    match exit {
        Exit::Halt => "halt",
        Exit::Panic => "panic",
        Exit::OutOfGas => "out-of-gas",
        Exit::PageFault(_) => "page-fault",
        Exit::HostCall(_) => "host-call",
    }
}

fn run_case(case: &Value) -> CaseResult {
    let regs = regs_of(field(case, "initial-regs")?, "initial-regs")?;
    let pc = u32_of(field(case, "initial-pc")?, "initial-pc")?;
    let gas = i64_of(field(case, "initial-gas")?, "initial-gas")?;
    let code = bytes_of(field(case, "program")?, "program")?;
    let program =
        Program::from_code_blob(&code).map_err(|e| CaseError::failed(format!("program: {e}")))?;

    let mut memory = Memory::new();
    let page_map = field(case, "initial-page-map")?
        .as_array()
        .ok_or_else(|| CaseError::failed("`initial-page-map` is not an array"))?;
    for page in page_map {
        let address = u32_of(field(page, "address")?, "address")?;
        let length = u32_of(field(page, "length")?, "length")?;
        let writable = field(page, "is-writable")?
            .as_bool()
            .ok_or_else(|| CaseError::failed("`is-writable` is not a bool"))?;
        memory.map(
            address,
            length,
            if writable {
                Access::ReadWrite
            } else {
                Access::ReadOnly
            },
        );
    }
    for (address, contents) in chunks_of(field(case, "initial-memory")?, "initial-memory")? {
        memory.write_init(address, &contents).map_err(|p| {
            CaseError::failed(format!(
                "initial memory at {address:#x}: page {p:#x} not mapped"
            ))
        })?;
    }

    let mut inst = Instance::new(Arc::new(program), memory, regs, pc, gas);
    let exit = inst.run();

    let expected_status = field(case, "expected-status")?
        .as_str()
        .ok_or_else(|| CaseError::failed("`expected-status` is not a string"))?;
    if status_name(exit) != expected_status {
        return Err(CaseError::mismatch(
            "expected-status",
            expected_status,
            status_name(exit),
        ));
    }
    if let Exit::PageFault(addr) = exit {
        if let Some(v) = case.get("expected-page-fault-address") {
            let expected = u32_of(v, "expected-page-fault-address")?;
            if expected != addr {
                return Err(CaseError::mismatch(
                    "expected-page-fault-address",
                    expected,
                    addr,
                ));
            }
        }
    }
    let expected_regs = regs_of(field(case, "expected-regs")?, "expected-regs")?;
    for (i, (e, g)) in expected_regs.iter().zip(inst.regs.iter()).enumerate() {
        if e != g {
            return Err(CaseError::mismatch(format!("expected-regs[{i}]"), e, g));
        }
    }
    let expected_pc = u32_of(field(case, "expected-pc")?, "expected-pc")?;
    if expected_pc != inst.pc {
        return Err(CaseError::mismatch("expected-pc", expected_pc, inst.pc));
    }
    let expected_gas = i64_of(field(case, "expected-gas")?, "expected-gas")?;
    if expected_gas != inst.gas {
        return Err(CaseError::mismatch("expected-gas", expected_gas, inst.gas));
    }
    for (address, contents) in chunks_of(field(case, "expected-memory")?, "expected-memory")? {
        let mut got = vec![0u8; contents.len()];
        if let Err(p) = inst.memory.read(address, &mut got) {
            return Err(CaseError::mismatch(
                format!("expected-memory[{address:#x}]"),
                &contents,
                format!("unreadable page {p:#x}"),
            ));
        }
        if got != contents {
            return Err(CaseError::mismatch(
                format!("expected-memory[{address:#x}]"),
                &contents,
                &got,
            ));
        }
    }
    Ok(())
}

/// Runs one PVM program vector file (one case).
pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    let result = std::fs::read(path)
        .map_err(|e| CaseError::failed(format!("read {}: {e}", path.display())))
        .and_then(|bytes| {
            serde_json::from_slice::<Value>(&bytes)
                .map_err(|e| CaseError::failed(format!("json: {e}")))
        })
        .and_then(|case| run_case(&case));
    vec![CaseOutcome::of_file(path, result)]
}
