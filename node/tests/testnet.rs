//! `jam testnet`: six dev validators (tiny, fallback-sealed: no tickets) over QUIC on loopback
//! author, exchange and import 12 one-second slots, and agree on the finalized chain.

use std::process::Command;

#[test]
fn six_validators_agree_after_twelve_slots() {
    let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("testnet-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_jam"))
        .args(["testnet", "--validators", "6", "--slot-duration-ms", "1000"])
        // Ports away from the defaults, so a testnet a developer runs does not collide.
        .args(["--port-base", "40300", "--rpc-port-base", "19900"])
        .args(["--slots", "12", "--base-path"])
        .arg(&base)
        .output()
        .expect("running jam testnet");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&base);
    assert!(
        out.status.success(),
        "jam testnet failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    let words: Vec<&str> = last.split(' ').collect();
    assert!(
        matches!(
            words.as_slice(),
            ["best", b, "finalized", f, "on", "all", "6", "nodes"]
                if b.starts_with('#') && f.starts_with('#')
        ),
        "last line: {last:?}\n{stdout}"
    );
    let num = |w: &str| w[1..].parse::<u32>().unwrap();
    let (best, fin) = (num(words[1]), num(words[3]));
    // Blocks in at least 90% of the 12 slots; finality trails the best block by 2.
    assert!(best >= 11, "{last}");
    assert_eq!(fin, best - 2, "{last}");
    // One progress line per slot.
    let slot_lines = stdout.lines().filter(|l| l.starts_with("slot ")).count();
    assert_eq!(slot_lines, 12, "{stdout}");
}
