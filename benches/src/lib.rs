//! Side-by-side PVM benchmarks: our PVM (`jam-pvm`) against PolkaVM 0.37 (interpreter and
//! recompiler) and native Rust references, on the kernels in `shared/pvm-bench/`.
//!
//! Shared by the `pvm-compare` binary and the criterion bench `pvm`:
//! - [`kernels`]: locating, assembling and checking the kernels;
//! - [`native`]: native Rust references of the kernels;
//! - [`vm`]: the runners ([`vm::Vm`]) for every VM, and the timing/checking loop.

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
