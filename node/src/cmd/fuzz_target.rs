//! `jam fuzz-target --socket PATH`: the conformance fuzzer target (fuzz protocol v1), and
//! `jam fuzz-target --soak-check`: a memory/throughput soak over the recorded sessions.

use super::CmdResult;
use crate::fuzz::{self, server::Target};
use jam_state::params::Params;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Unix socket to listen on (a stale socket file there is removed first).
    #[arg(long, value_name = "PATH", required_unless_present = "soak_check")]
    socket: Option<PathBuf>,
    /// Chain parameters: tiny or full.
    #[arg(long, default_value = "tiny")]
    chain: String,
    /// Don't log every import on stderr.
    #[arg(long)]
    quiet: bool,
    /// Instead of listening: replay the recorded sessions in a loop over one connection to an
    /// in-process target and report resident memory and import times.
    #[arg(long)]
    soak_check: bool,
    /// Soak check: how many ImportBlock messages to send.
    #[arg(long, default_value_t = 20_000, requires = "soak_check")]
    imports: u64,
    /// Soak check: recorded session folders. Defaults to `JAM_FUZZ_EXAMPLES` (or
    /// `../shared/fuzz-proto/examples`) `/no_forks` and `/forks`.
    #[arg(long = "session", value_name = "DIR", requires = "soak_check")]
    sessions: Vec<PathBuf>,
}

pub fn run(args: Args) -> CmdResult {
    let params = Params::from_name(&args.chain).map_err(|e| format!("--chain: {e}"))?;
    if args.soak_check {
        return soak(args, params);
    }
    let target = Target::new(params, args.quiet)?;
    let socket = args.socket.expect("clap requires --socket");
    fuzz::listen(&socket, &target).map_err(|e| format!("{}: {e}", socket.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn soak(args: Args, params: Params) -> CmdResult {
    let sessions = if args.sessions.is_empty() {
        let base = std::env::var_os("JAM_FUZZ_EXAMPLES")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("../shared/fuzz-proto/examples"));
        vec![base.join("no_forks"), base.join("forks")]
    } else {
        args.sessions
    };
    // Import logging would dominate a soak: always quiet.
    let target = Target::new(params, true)?;
    let r = fuzz::soak_check(&target, &sessions, args.imports)?;
    let mib =
        |k: Option<u64>| k.map_or("?".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!("soak: sessions {sessions:?}");
    println!(
        "soak: {} imports in {} full loops (+ partial), {} reply mismatches",
        r.imports, r.loops, r.mismatches
    );
    println!(
        "soak: import replies {:.3} ms mean, {:.1} s in all (wall {:.1} s)",
        r.import_time.as_secs_f64() * 1e3 / r.imports.max(1) as f64,
        r.import_time.as_secs_f64(),
        r.wall.as_secs_f64()
    );
    println!(
        "soak: VmRSS start {}, after the first loop {}, end {}",
        mib(r.rss_start_kib),
        mib(r.rss_warm_kib),
        mib(r.rss_end_kib)
    );
    // Flat: after the first loop (all caches warm) the end may exceed it by at most
    // max(16 MiB, 10%).
    let growth_ok = match (r.rss_warm_kib, r.rss_end_kib) {
        (Some(warm), Some(end)) => end <= warm + (16 * 1024).max(warm / 10),
        _ => true,
    };
    println!(
        "soak: memory {}",
        if growth_ok { "flat" } else { "GROWING" }
    );
    Ok(if r.mismatches == 0 && growth_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
