//! Subcommands of the `jam` binary.

pub mod bench;
pub mod fuzz_target;
pub mod import;
pub mod load;
pub mod pvm;
pub mod run;
pub mod submit;
pub mod testnet;
pub mod vectors;

/// A command's failure, shown to the user as `error: ...`.
pub type CmdResult = Result<std::process::ExitCode, Box<dyn std::error::Error>>;
