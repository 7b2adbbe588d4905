//! `jam vectors PATH...`: runs test vectors and prints failures, per-suite and total counts.

use super::CmdResult;
use jam_conformance::runner;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders of vectors; the suite is recognised from the path. Defaults to
    /// `JAM_TEST_VECTORS` and `JAM_PVM_VECTORS` (or `../shared/...`).
    paths: Vec<PathBuf>,
    /// Write per-case results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

pub fn run(args: Args) -> CmdResult {
    let paths = if args.paths.is_empty() {
        vec![
            default_dir("JAM_TEST_VECTORS", "../shared/jam-test-vectors"),
            default_dir("JAM_PVM_VECTORS", "../shared/pvm-test-vectors"),
        ]
    } else {
        args.paths
    };
    let cases = runner::collect(&paths)?;
    if cases.is_empty() {
        return Err(format!("no test-vector cases found under {paths:?}").into());
    }
    let report = runner::run(&cases);
    runner::print_report(&report, &mut std::io::stdout().lock())?;
    if let Some(file) = args.json {
        std::fs::write(&file, serde_json::to_string_pretty(&report.to_json())?)
            .map_err(|e| format!("writing {}: {e}", file.display()))?;
    }
    Ok(if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn default_dir(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}
