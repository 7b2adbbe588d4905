//! `jam testnet --load` (JIP-2 submissions round robin over cores and nodes, followed with
//! `workPackageStatus`): packages are accumulated and the run reports throughput and the
//! time from submission to each stage.

use std::process::Command;

#[test]
fn loaded_testnet_accumulates_packages_and_reports_latency() {
    let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("load-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_jam"))
        .args(["testnet", "--validators", "6", "--slot-duration-ms", "1000"])
        // 16 slots: submissions run across the epoch change at slot 12 (tiny E = 12), where
        // guarantees made in one epoch are included in the next (G*, GP 11.22).
        .args(["--slots", "16", "--load", "2", "--port-base", "41300"])
        .args(["--rpc-port-base", "19450", "--base-path"])
        .arg(base.join("net"))
        .output()
        .expect("running jam testnet");
    let _ = std::fs::remove_dir_all(&base);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "jam testnet --load failed:\n{stdout}");
    // `load: S submitted, A accumulated, F failed, R refused, P not accumulated by the end; ...`
    let totals = stdout
        .lines()
        .find(|l| l.starts_with("load: ") && l.contains(" submitted, "))
        .unwrap_or_else(|| panic!("no load totals:\n{stdout}"));
    let count = |what: &str| -> usize {
        let before = totals.split(&format!(" {what}")).next().unwrap();
        before.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (submitted, accumulated) = (count("submitted,"), count("accumulated,"));
    assert!(submitted >= 10, "{totals}");
    assert!((1..=submitted).contains(&accumulated), "{totals}");
    assert_eq!(count("failed,"), 0, "{totals}");
    assert!(totals.contains("packages/s"), "{totals}");
    // One row per stage, with p50 <= p90 <= max, in stage order.
    let mut last_p50 = 0.0;
    for stage in ["refined", "guaranteed", "available", "accumulated"] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {stage} |")))
            .unwrap_or_else(|| panic!("no {stage} row:\n{stdout}"));
        let cells: Vec<f64> = row
            .split('|')
            .filter_map(|c| c.trim().parse().ok())
            .collect();
        let [n, p50, p90, max] = cells[..] else {
            panic!("{row}")
        };
        assert!(n >= 1.0 && p50 <= p90 && p90 <= max, "{row}");
        assert!(p50 >= last_p50, "stages out of order at {row}");
        last_p50 = p50;
    }
    // The slot lines show the running totals.
    assert!(stdout.contains(" | pkgs "), "{stdout}");
}
