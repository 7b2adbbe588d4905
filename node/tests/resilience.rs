//! `jam testnet --stop-node`: of six dev validators (tiny, 1-second slots, loopback QUIC), one
//! is stopped for four slots and restarted from its RocksDB store; the others keep authoring,
//! and the restarted node catches up (CE 128) to the same best and finalized chain.

mod common;

/// The number after `prefix` in `line` (e.g. `#12` after "best "), if any.
fn number_after(line: &str, prefix: &str) -> Option<u32> {
    let rest = &line[line.find(prefix)? + prefix.len()..];
    let digits: String = rest
        .trim_start()
        .trim_start_matches('#')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The (best hash, finalized hash) of a final `node i: best #B HASH (slot S) finalized #F HASH
/// ...` line.
fn hashes(line: &str) -> (String, String) {
    let w: Vec<&str> = line.split_whitespace().collect();
    let at = |key: &str| {
        let i = w.iter().position(|x| *x == key).expect(key);
        format!("{} {}", w[i + 1], w[i + 2])
    };
    (at("best"), at("finalized"))
}

#[test]
fn stopped_validator_restarts_and_catches_up() {
    const STOPPED: usize = 2;
    let run = common::run_testnet(
        "resilience",
        &[
            "--validators",
            "6",
            "--slot-duration-ms",
            "1000",
            "--slots",
            "14",
            "--port-base",
            "40600",
            "--rpc-port-base",
            "40700",
            "--stop-node",
            "2",
            "--stop-at-slot",
            "4",
            "--stop-for",
            "4",
        ],
    );
    let stdout = &run.stdout;
    let ctx = format!("{stdout}\n{}", run.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    let find = |prefix: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?}:\n{ctx}"))
    };

    // The others authored while node 2 was down, and its column shows it down for slots 4..=7.
    let during = find("outage: the others authored ");
    let authored = number_after(during, "authored ").unwrap();
    assert!(authored >= 1, "{during}\n{ctx}");
    let down: Vec<u32> = lines
        .iter()
        .filter(|l| l.starts_with("slot "))
        .filter(|l| {
            let best = l.split('|').nth(1).unwrap_or_default();
            best.split_whitespace().nth(1 + STOPPED) == Some("-")
        })
        .map(|l| number_after(l, "slot ").unwrap())
        .collect();
    // (A line may be skipped on a loaded machine, never shown outside the outage.)
    assert!(!down.is_empty(), "{ctx}");
    assert!(down.iter().all(|s| (4..=7).contains(s)), "{down:?}\n{ctx}");

    // It restarted from its store (not from genesis) and caught up by fetching blocks.
    let resumed = find("node 2: resuming at the store's best block #");
    assert!(number_after(resumed, "block ").unwrap() >= 1, "{ctx}");
    let caught = find("catch-up: node 2 reached #");
    let target = number_after(caught, "reached ").unwrap();
    assert!(target >= 4, "{caught}");

    // Every node ends on the same best and finalized blocks (so the same finalized chain,
    // which the command also checks block by block).
    let finals: Vec<(String, String)> = (0..6)
        .map(|i| hashes(find(&format!("node {i}: best #"))))
        .collect();
    assert!(finals.iter().all(|f| *f == finals[0]), "{finals:?}\n{ctx}");
    let node2 = find("node 2: best #");
    assert!(number_after(node2, "imported ").unwrap() >= 1, "{node2}");

    let last = lines.last().copied().unwrap_or_default();
    assert!(
        last.starts_with("best #") && last.ends_with("on all 6 nodes"),
        "last line: {last:?}\n{ctx}"
    );
    let (best, fin) = (
        number_after(last, "best ").unwrap(),
        number_after(last, "finalized ").unwrap(),
    );
    assert!(best > target, "{last}");
    assert_eq!(fin, best - 2, "{last}");
}
