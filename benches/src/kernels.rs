//! The benchmark kernels (`shared/pvm-bench/*.asm`): locating, assembling, and checking the
//! assembled code blob against the shipped `*.code.bin`.

use std::path::{Path, PathBuf};

use polkavm::program::InstructionSetKind;
use polkavm::{ProgramBlob, ProgramParts};

use crate::{Error, Result};

/// Environment variable overriding the kernel folder.
pub const DIR_ENV: &str = "JAM_PVM_BENCH";

/// Default kernel folder, relative to this crate.
pub const DEFAULT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/pvm-bench");

/// GP halt address 2^32 − 2^16: the initial `ra` (φ0).
pub const HALT_ADDRESS: u32 = 0xffff_0000;

/// Top of the stack (initial `sp`, φ1) used for our PVM: GP A.7's standard layout,
/// 2^32 − 2·Z_Z − Z_I with Z_Z = 2^16 and Z_I = 2^24.
pub const STACK_TOP: u32 = 0xfefe_0000;

/// Page size used to round the stack region.
pub const PAGE_SIZE: u32 = 4096;

/// Gas given to every run; used gas = `GAS_START` − remaining.
pub const GAS_START: i64 = 10_000_000_000;

/// What a kernel must compute (from `shared/pvm-bench/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelSpec {
    /// File stem (`alu` → `alu.asm`, `alu.code.bin`).
    pub name: &'static str,
    /// Expected a0 (φ7) at halt.
    pub expected_a0: u64,
    /// Expected number of executed instructions (= gas used at 1 gas/instruction).
    pub expected_instructions: u64,
}

/// The four kernels, in table order.
pub const KERNELS: [KernelSpec; 4] = [
    KernelSpec {
        name: "alu",
        expected_a0: 1_016_522_425_096_013_526,
        expected_instructions: 110_000_006,
    },
    KernelSpec {
        name: "sieve",
        expected_a0: 82_025,
        expected_instructions: 180_506_646,
    },
    KernelSpec {
        name: "hash",
        expected_a0: 8_715_590_408_125_686_565,
        expected_instructions: 168_036_362,
    },
    KernelSpec {
        name: "fib",
        expected_a0: 5_702_887,
        expected_instructions: 175_321_825,
    },
];

/// Looks a kernel up by name.
pub fn spec(name: &str) -> Option<&'static KernelSpec> {
    KERNELS.iter().find(|k| k.name == name)
}

/// The kernel folder: `$JAM_PVM_BENCH` if set, else [`DEFAULT_DIR`]. Errors if it is missing.
pub fn bench_dir() -> Result<PathBuf> {
    let (dir, origin) = match std::env::var_os(DIR_ENV) {
        Some(d) => (PathBuf::from(d), format!("from ${DIR_ENV}")),
        None => (
            PathBuf::from(DEFAULT_DIR),
            format!("default; set ${DIR_ENV} to override"),
        ),
    };
    if !dir.join("alu.asm").is_file() {
        return Err(Error(format!(
            "PVM benchmark kernels not found in {} ({origin}): expected alu.asm, sieve.asm, hash.asm, fib.asm \
             and their .code.bin files there",
            dir.display()
        )));
    }
    Ok(dir)
}

/// An assembled kernel.
#[derive(Clone)]
pub struct Kernel {
    /// What it must compute.
    pub spec: KernelSpec,
    /// `%stack_size` from the source.
    pub stack_size: u32,
    /// The PolkaVM program container, as produced by `assemble`.
    pub blob: ProgramBlob,
    /// GP "deblob" code blob (`ProgramParts::code_and_jump_table`): the input of our PVM.
    pub code_blob: Vec<u8>,
}

impl Kernel {
    /// Loads `<dir>/<name>.asm`, assembles it and checks the code blob is byte-identical to
    /// `<dir>/<name>.code.bin`.
    pub fn load(dir: &Path, spec: &KernelSpec) -> Result<Kernel> {
        let asm_path = dir.join(format!("{}.asm", spec.name));
        let bin_path = dir.join(format!("{}.code.bin", spec.name));
        let source = std::fs::read_to_string(&asm_path)
            .map_err(|e| Error(format!("cannot read {}: {e}", asm_path.display())))?;
        let shipped = std::fs::read(&bin_path)
            .map_err(|e| Error(format!("cannot read {}: {e}", bin_path.display())))?;
        let kernel = Kernel::assemble(*spec, &source)?;
        if kernel.code_blob != shipped {
            return Err(Error(format!(
                "{}: assembled code blob ({} bytes) differs from the shipped {} ({} bytes)",
                spec.name,
                kernel.code_blob.len(),
                bin_path.display(),
                shipped.len()
            )));
        }
        Ok(kernel)
    }

    /// Assembles `source` (PolkaVM assembler syntax) as a `JamV1` program.
    pub fn assemble(spec: KernelSpec, source: &str) -> Result<Kernel> {
        let stack_size = parse_stack_size(source).ok_or_else(|| {
            Error(format!(
                "{}: no `%stack_size = N` line in the source",
                spec.name
            ))
        })?;
        let raw = polkavm::program::assemble(Some(InstructionSetKind::JamV1), source)
            .map_err(|e| Error(format!("{}: assembly failed: {e}", spec.name)))?;
        let parts = ProgramParts::from_bytes(raw.clone().into()).map_err(|e| {
            Error(format!(
                "{}: cannot parse the assembled program: {e}",
                spec.name
            ))
        })?;
        if parts.stack_size != stack_size {
            return Err(Error(format!(
                "{}: assembled stack size {} differs from %stack_size {stack_size}",
                spec.name, parts.stack_size
            )));
        }
        let code_blob = parts.code_and_jump_table.to_vec();
        let blob = ProgramBlob::parse(raw.into()).map_err(|e| {
            Error(format!(
                "{}: cannot parse the assembled program: {e}",
                spec.name
            ))
        })?;
        Ok(Kernel {
            spec,
            stack_size,
            blob,
            code_blob,
        })
    }

    /// Size of the read-write stack region: `%stack_size` rounded up to whole pages.
    pub fn stack_region_size(&self) -> u32 {
        self.stack_size.div_ceil(PAGE_SIZE) * PAGE_SIZE
    }
}

/// Reads `%stack_size = N` from a kernel source.
pub fn parse_stack_size(source: &str) -> Option<u32> {
    source.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("%stack_size")?;
        rest.trim().strip_prefix('=')?.trim().parse().ok()
    })
}

/// Loads every kernel in `names` order (all of [`KERNELS`] when `only` is `None`).
pub fn load_all(dir: &Path, only: Option<&str>) -> Result<Vec<Kernel>> {
    let specs: Vec<&KernelSpec> = match only {
        Some(name) => vec![spec(name).ok_or_else(|| {
            let names: Vec<&str> = KERNELS.iter().map(|k| k.name).collect();
            Error(format!(
                "unknown kernel `{name}` (expected one of: {})",
                names.join(", ")
            ))
        })?],
        None => KERNELS.iter().collect(),
    };
    specs.into_iter().map(|s| Kernel::load(dir, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_size_is_parsed() {
        assert_eq!(
            parse_stack_size("%isa = jam_v1\n%stack_size = 69632\n"),
            Some(69632)
        );
        assert_eq!(parse_stack_size("  %stack_size=4096"), Some(4096));
        assert_eq!(parse_stack_size("%isa = jam_v1\n"), None);
    }

    #[test]
    fn kernels_assemble_to_the_shipped_code_blobs() {
        let dir = bench_dir().unwrap_or_else(|e| panic!("{e}"));
        let kernels = load_all(&dir, None).unwrap_or_else(|e| panic!("{e}"));
        let stack_sizes: Vec<(&str, u32)> = kernels
            .iter()
            .map(|k| (k.spec.name, k.stack_size))
            .collect();
        assert_eq!(
            stack_sizes,
            [
                ("alu", 4096),
                ("sieve", 1_052_672),
                ("hash", 69_632),
                ("fib", 65_536)
            ]
        );
        for k in &kernels {
            assert_eq!(k.stack_region_size() % PAGE_SIZE, 0);
            assert!(k.stack_region_size() >= k.stack_size);
        }
    }

    #[test]
    fn unknown_kernel_is_an_error() {
        let dir = bench_dir().unwrap_or_else(|e| panic!("{e}"));
        let Err(err) = load_all(&dir, Some("nope")) else {
            panic!("unknown kernel accepted")
        };
        assert!(err.0.contains("unknown kernel `nope`"), "{err}");
    }
}
