//! Side-by-side PVM benchmarks: our PVM (`jam-pvm`) against PolkaVM 0.37 (interpreter and
//! recompiler) and native Rust references, on the kernels in `shared/pvm-bench/`.
//!
//! Shared by the `pvm-compare` binary and the criterion bench `pvm`:
//! - [`kernels`]: locating, assembling and checking the kernels;
//! - [`native`]: native Rust references of the kernels;
//! - [`vm`]: the runners ([`vm::Vm`]) for every VM, and the timing/checking loop.
//!
//! Usage:
//! - `cargo run --release -p jam-benches --bin pvm-compare -- [--runs N] [--kernel NAME]`:
//!   the side-by-side table (our PVM, PolkaVM interpreter, PolkaVM recompiler, native);
//! - `cargo bench -p jam-benches --bench pvm`: criterion, ours vs the PolkaVM interpreter;
//! - `cargo test -p jam-benches`: the code blobs match the shipped `*.code.bin`, the native
//!   references, and small variants of the kernels on every VM.
//!
//! The kernels are read from `$JAM_PVM_BENCH`, default `<this crate>/../../shared/pvm-bench`.
//! Feature `jam` (default) runs our PVM; without it only PolkaVM and native code run.

pub mod kernels;
pub mod native;
pub mod vm;

use std::fmt;

/// Error of the benchmark harness: a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}

impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error(s.to_owned())
    }
}

/// Result type of the harness.
pub type Result<T> = std::result::Result<T, Error>;
