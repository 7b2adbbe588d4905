//! Shared driver of the `jam testnet` integration tests.

use std::process::Command;

/// What a finished `jam testnet` run printed.
pub struct TestnetRun {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `jam testnet ARGS --base-path <fresh dir>` to completion, removes the directory and
/// requires exit status 0 (the message carries both outputs).
pub fn run_testnet(name: &str, args: &[&str]) -> TestnetRun {
    let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_jam"))
        .arg("testnet")
        .args(args)
        .arg("--base-path")
        .arg(&base)
        .output()
        .expect("running jam testnet");
    let _ = std::fs::remove_dir_all(&base);
    let run = TestnetRun {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        out.status.success(),
        "jam testnet failed ({}):\n{}\n{}",
        out.status,
        run.stdout,
        run.stderr
    );
    run
}
