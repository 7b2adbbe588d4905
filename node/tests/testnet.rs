//! `jam testnet`: six dev validators (tiny, fallback-sealed: no tickets) over QUIC on loopback
//! author, exchange and import 12 one-second slots, and agree on the finalized chain.

mod common;

#[test]
fn six_validators_agree_after_twelve_slots() {
    let run = common::run_testnet(
        "testnet",
        &[
            "--validators",
            "6",
            "--slot-duration-ms",
            "1000",
            "--slots",
            "12",
            // Ports away from the defaults, so a testnet a developer runs does not collide.
            "--port-base",
            "40300",
            "--rpc-port-base",
            "19900",
        ],
    );
    let stdout = &run.stdout;
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
