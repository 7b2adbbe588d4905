//! `jam`: the JAM node command line.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cmd;
mod fuzz;
mod rpc;
mod validator;

#[derive(Parser)]
#[command(name = "jam", version, about = "A JAM node (Gray Paper v0.7.2)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run conformance test vectors (codec, erasure, shuffle, trie, stf, traces, PVM programs).
    Vectors(cmd::vectors::Args),
    /// PVM tools.
    #[command(subcommand)]
    Pvm(cmd::pvm::Command),
    /// Conformance fuzzer target (fuzz protocol v1) on a Unix socket.
    FuzzTarget(cmd::fuzz_target::Args),
    /// Import blocks (a trace folder or block files) from genesis into a RocksDB store.
    Import(cmd::import::Args),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(cmd::bench::Command),
    /// Run a validator node (block authoring, import, QUIC networking, RocksDB store).
    Run(cmd::run::Args),
    /// Run a local testnet of N dev validators in this process.
    Testnet(cmd::testnet::Args),
    /// Build a work package, submit it over the JIP-2 RPC and follow it until accumulated.
    Submit(cmd::submit::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Vectors(args) => cmd::vectors::run(args),
        Command::Pvm(c) => cmd::pvm::run(c),
        Command::FuzzTarget(args) => cmd::fuzz_target::run(args),
        Command::Import(args) => cmd::import::run(args),
        Command::Bench(c) => cmd::bench::run(c),
        Command::Run(args) => cmd::run::run(args),
        Command::Testnet(args) => cmd::testnet::run(args),
        Command::Submit(args) => cmd::submit::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
