//! `jam bench net`: a short run on loopback prints both tables and writes every sample as JSON
//! (no timing assertions).

use std::process::Command;

#[test]
fn bench_net_small_chain() {
    let json = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("bench-net-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_jam"))
        .args(["bench", "net", "--blocks", "14", "--runs", "2"])
        .args(["--pad-bytes", "4096", "--json"])
        .arg(&json)
        .output()
        .expect("running jam bench net");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}:\n{stdout}\n{stderr}", out.status);
    for row in [
        "announced -> received",
        "announced -> fetched",
        "announced -> imported",
        "tiny dev blocks",
        "padded (+4096 B preimage)",
    ] {
        assert!(stdout.contains(row), "no row {row:?}:\n{stdout}");
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON file")).unwrap();
    let _ = std::fs::remove_file(&json);
    for k in ["received", "fetched", "imported"] {
        let samples = doc["latency_ms"][k]["samples_ms"].as_array().unwrap();
        assert_eq!(samples.len(), 14, "{k}");
        assert!(samples.iter().all(|s| s.as_f64().unwrap() > 0.0), "{k}");
    }
    let thr = doc["throughput"].as_array().unwrap();
    assert_eq!(thr.len(), 2);
    for t in thr {
        assert_eq!(t["blocks"], 14);
        assert_eq!(t["runs_s"].as_array().unwrap().len(), 2);
        assert!(t["blocks_per_s"].as_f64().unwrap() > 0.0);
    }
    // Padded blocks carry their preimage.
    let bytes = |i: usize| thr[i]["bytes"].as_u64().unwrap();
    assert!(bytes(1) >= bytes(0) + 14 * 4096);
}
