//! Safrole ticket distribution end to end (JAMNP-S § "CE 131/132"): six dev validators of
//! `jam testnet --tickets` make their tickets during epoch 0, send each to its proxy (CE 131),
//! the proxies forward them to all validators (CE 132), and blocks authored by validators
//! other than a ticket's maker carry it. Read from the nodes' `--verbose` log lines.

use std::collections::{HashMap, HashSet};

mod common;

/// `node N: REST` → (N, REST).
fn node_line(l: &str) -> Option<(usize, &str)> {
    let rest = l.strip_prefix("node ")?;
    let (n, rest) = rest.split_once(": ")?;
    Some((n.parse().ok()?, rest))
}

#[test]
fn tickets_travel_through_proxies_into_other_validators_blocks() {
    // Epoch 0 is slots 0..12; its ticket contest runs until slot 10. RPC servers are not
    // under test (and their fixed ports may be taken).
    let run = common::run_testnet(
        "tickets",
        &[
            "--validators",
            "6",
            "--slot-duration-ms",
            "1500",
            "--slots",
            "12",
            "--tickets",
            "--verbose",
            "--port-base",
            "41200",
            "--no-rpc",
        ],
    );
    let stdout = &run.stdout;
    // (Connection lines of the shutting-down nodes may follow the verdict.)
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("best #") && l.ends_with(" on all 6 nodes")),
        "no agreement line:\n{stdout}"
    );

    // Who made each ticket, and its proxy.
    let mut maker: HashMap<String, (usize, usize)> = HashMap::new();
    // Which nodes took it as proxy (CE 131) / into their pool (CE 132).
    let mut proxied: HashMap<String, usize> = HashMap::new();
    let mut pooled: HashMap<String, HashSet<usize>> = HashMap::new();
    // Tickets in each node's authored blocks.
    let mut included: Vec<(usize, String)> = Vec::new();
    for (n, rest) in stdout.lines().filter_map(node_line) {
        let words: Vec<&str> = rest.split(' ').collect();
        match words.as_slice() {
            ["ticket", id, "for", "epoch", "1:", "proxy", "is", "validator", p, ..] => {
                maker.insert(id.to_string(), (n, p.parse().unwrap()));
            }
            ["ticket", id, "for", "epoch", "1", "from", _, "accepted", "as", "its", "proxy", "(CE", "131)"] =>
            {
                proxied.insert(id.to_string(), n);
            }
            ["ticket", id, "for", "epoch", "1", "from", _, "added", "to", "the", "pool", "(CE", "132)"] =>
            {
                pooled.entry(id.to_string()).or_default().insert(n);
            }
            ["slot", _, "authored", ..] => {
                if let Some((_, ids)) = rest.split_once(" tickets: ") {
                    for id in ids.trim_end_matches(')').split(' ') {
                        included.push((n, id.to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    // Ticket proofs are slow: on a loaded machine not every validator may finish in time.
    let makers: HashSet<usize> = maker.values().map(|(m, _)| *m).collect();
    assert!(
        makers.len() >= 2,
        "tickets from fewer than 2 validators:\n{stdout}"
    );
    assert!(
        maker.len() <= 18,
        "at most N = 3 tickets per validator:\n{stdout}"
    );

    // A ticket went maker → proxy (CE 131, proxy ≠ maker) → every other validator (CE 132).
    let relayed: Vec<&String> = maker
        .iter()
        .filter(|(id, (m, p))| {
            m != p
                && proxied.get(*id) == Some(p)
                && pooled
                    .get(*id)
                    .is_some_and(|s| (0..6).filter(|v| v != p).all(|v| s.contains(&v)))
        })
        .map(|(id, _)| id)
        .collect();
    assert!(
        !relayed.is_empty(),
        "no ticket relayed by a proxy:\n{stdout}"
    );

    // Tickets end up in blocks authored by validators that did not make them, having
    // reached those authors over CE 132.
    let foreign: Vec<&(usize, String)> = included
        .iter()
        .filter(|(author, id)| {
            maker.get(id).is_some_and(|(m, _)| m != author)
                && pooled.get(id).is_some_and(|s| s.contains(author))
        })
        .collect();
    assert!(
        !foreign.is_empty(),
        "no ticket in a block of another validator:\n{stdout}"
    );
    // Blocks carry only distributed tickets for epoch 1 (made during epoch 0).
    assert!(
        included.iter().all(|(_, id)| maker.contains_key(id)),
        "{stdout}"
    );
}
