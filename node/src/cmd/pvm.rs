//! `jam pvm ...`: run a standard PVM program.

use super::CmdResult;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Run a standard program blob (GP A.7) and print its exit reason, gas used and registers.
    Run(RunArgs),
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The standard program blob file.
    blob: std::path::PathBuf,
    /// Gas limit.
    #[arg(long, default_value_t = 1_000_000_000)]
    gas: i64,
    /// Argument bytes, hex (with or without 0x).
    #[arg(long, default_value = "")]
    args: String,
    /// Print each executed instruction (pc, opcode, registers written).
    #[arg(long)]
    trace: bool,
}

pub fn run(_c: Command) -> CmdResult {
    Err("pvm run: not wired yet".into())
}
