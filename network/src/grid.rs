//! Validator connectivity: preferred initiator, grid neighbours, UP 0 peers (JAMNP-S § "Required connectivity", § "Grid structure").

use jam_state::state::State;
use jam_state::types::{Ed25519Public, ValidatorMetadata, ValidatorsData};
use std::net::{Ipv6Addr, SocketAddrV6};

/// P(a, b): the preferred initiator of the connection between validators `a` and `b`:
/// `a` when (a₃₁ > 127) ⊕ (b₃₁ > 127) ⊕ (a < b), else `b`.
pub fn preferred_initiator<'k>(a: &'k Ed25519Public, b: &'k Ed25519Public) -> &'k Ed25519Public {
    if (a.0[31] > 127) ^ (b.0[31] > 127) ^ (a.0 < b.0) {
        a
    } else {
        b
    }
}

/// Whether `local` should dial `peer` first (the other side may dial after a timeout).
pub fn we_initiate(local: &Ed25519Public, peer: &Ed25519Public) -> bool {
    preferred_initiator(local, peer) == local
}

/// W = ⌊√V⌋: the number of grid columns.
pub fn grid_width(validators: usize) -> usize {
    validators.isqrt().max(1)
}

/// Same-epoch grid neighbours: same row (`i / W`) or same column (`i % W`), `a ≠ b`.
pub fn are_grid_neighbours(a: usize, b: usize, validators: usize) -> bool {
    let w = grid_width(validators);
    a != b && a < validators && b < validators && (a / w == b / w || a % w == b % w)
}

/// Same-epoch neighbours of validator `i` in announcement-diffusion order: its row, then its
/// column.
pub fn grid_neighbours(i: usize, validators: usize) -> Vec<usize> {
    if i >= validators {
        return Vec::new();
    }
    let w = grid_width(validators);
    let row = (i / w * w..((i / w + 1) * w).min(validators)).filter(|&j| j != i);
    let col = (i % w..validators).step_by(w).filter(|&j| j != i);
    row.chain(col).collect()
}

/// The validator sets around now (previous, current, next epoch), as Ed25519 keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidatorSets {
    pub previous: Vec<Ed25519Public>,
    pub current: Vec<Ed25519Public>,
    pub next: Vec<Ed25519Public>,
}

impl ValidatorSets {
    /// λ, κ and γ_k of a state: the previous, current and next epoch's validators.
    pub fn from_state(s: &State) -> Self {
        let keys =
            |v: &ValidatorsData| -> Vec<Ed25519Public> { v.iter().map(|d| d.ed25519).collect() };
        ValidatorSets {
            previous: keys(&s.previous_validators),
            current: keys(&s.active_validators),
            next: keys(&s.safrole.gamma_k),
        }
    }

    fn sets(&self) -> [&[Ed25519Public]; 3] {
        [&self.previous, &self.current, &self.next]
    }

    /// Whether `key` is a validator in any of the three epochs.
    pub fn contains(&self, key: &Ed25519Public) -> bool {
        self.sets().iter().any(|s| s.contains(key))
    }

    /// Every other validator of the three epochs (deduplicated, in first-seen order), each with
    /// whether we are its preferred initiator. Validators must connect to all of these.
    pub fn required_peers(&self, local: &Ed25519Public) -> Vec<(Ed25519Public, bool)> {
        let mut out: Vec<(Ed25519Public, bool)> = Vec::new();
        for k in self.sets().into_iter().flatten() {
            if k != local && !out.iter().any(|(o, _)| o == k) {
                out.push((*k, we_initiate(local, k)));
            }
        }
        out
    }

    /// Validators `local` is a grid neighbour of (and so opens/accepts UP 0 with), in diffusion
    /// order: per epoch where `local` is a validator, its row then its column; and validators
    /// with the same index in the other epochs. Deduplicated.
    pub fn grid_peers(&self, local: &Ed25519Public) -> Vec<Ed25519Public> {
        let sets = self.sets();
        let mut out: Vec<Ed25519Public> = Vec::new();
        let mut push = |k: &Ed25519Public| {
            if k != local && !out.contains(k) {
                out.push(*k)
            }
        };
        for (e, set) in sets.iter().enumerate() {
            let Some(i) = set.iter().position(|k| k == local) else {
                continue;
            };
            for j in grid_neighbours(i, set.len()) {
                push(&set[j]);
            }
            for (f, other) in sets.iter().enumerate() {
                if f != e {
                    if let Some(k) = other.get(i) {
                        push(k);
                    }
                }
            }
        }
        out
    }

    /// Whether a UP 0 stream belongs on the connection between `local` and `peer`: both are
    /// validators and grid neighbours, or at least one is not a validator.
    pub fn wants_block_announcements(&self, local: &Ed25519Public, peer: &Ed25519Public) -> bool {
        if !self.contains(local) || !self.contains(peer) {
            return true;
        }
        self.grid_peers(local).contains(peer)
    }
}

/// Slots into a new epoch before connectivity changes apply (also gated on the epoch's first
/// block being finalized): max(⌊E/30⌋, 1).
pub fn connectivity_change_delay(epoch_len: u32) -> u32 {
    (epoch_len / 30).max(1)
}

/// CE 131 timing: slots after connectivity changes before sending tickets to proxies,
/// max(⌊E/60⌋, 1).
pub fn ticket_send_delay(epoch_len: u32) -> u32 {
    (epoch_len / 60).max(1)
}

/// CE 132 timing: slots after connectivity changes before proxies start forwarding,
/// max(⌊E/20⌋, 1).
pub fn ticket_forward_delay(epoch_len: u32) -> u32 {
    (epoch_len / 20).max(1)
}

/// CE 132 timing: forwarding is spread evenly until half-way through the Safrole lottery
/// period, i.e. until slot ⌊Y/2⌋ of the epoch.
pub fn ticket_forward_end(contest_len: u32) -> u32 {
    contest_len / 2
}

/// A validator's endpoint from its metadata: 16-byte IPv6 address, then a little-endian port.
pub fn endpoint_from_metadata(meta: &ValidatorMetadata) -> SocketAddrV6 {
    let ip: [u8; 16] = meta.0[..16].try_into().expect("16 bytes");
    let port = u16::from_le_bytes([meta.0[16], meta.0[17]]);
    SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(b: u8, top: u8) -> Ed25519Public {
        let mut a = [b; 32];
        a[31] = top;
        Ed25519Public(a)
    }

    #[test]
    fn preferred_initiator_is_symmetric_and_balanced() {
        let keys: Vec<_> = (0..40u8).map(|i| k(i, i.wrapping_mul(53))).collect();
        let mut wins = vec![0usize; keys.len()];
        for (i, a) in keys.iter().enumerate() {
            for (j, b) in keys.iter().enumerate() {
                if i != j {
                    assert_eq!(preferred_initiator(a, b), preferred_initiator(b, a));
                    assert_ne!(we_initiate(a, b), we_initiate(b, a));
                    if we_initiate(a, b) {
                        wins[i] += 1;
                    }
                }
            }
        }
        // The xor with the top bits spreads initiation rather than always favouring the lower key.
        assert!(wins.iter().all(|&w| w > 0 && w < keys.len() - 1));
        // Spec case: a < b and neither top bit set → a.
        assert_eq!(preferred_initiator(&k(1, 0), &k(2, 0)), &k(1, 0));
        assert_eq!(preferred_initiator(&k(1, 200), &k(2, 0)), &k(2, 0));
    }

    #[test]
    fn grid() {
        assert_eq!(grid_width(6), 2);
        assert_eq!(grid_width(1023), 31);
        // V = 6, W = 2: rows {0,1},{2,3},{4,5}; columns {0,2,4},{1,3,5}.
        assert_eq!(grid_neighbours(0, 6), vec![1, 2, 4]);
        assert_eq!(grid_neighbours(3, 6), vec![2, 1, 5]);
        assert!(are_grid_neighbours(0, 4, 6) && !are_grid_neighbours(0, 3, 6));
        // Ragged last row: V = 10, W = 3, index 9 alone in its row.
        assert_eq!(grid_neighbours(9, 10), vec![0, 3, 6]);
        for v in [1usize, 6, 10, 1023] {
            for i in 0..v {
                for j in grid_neighbours(i, v) {
                    assert!(are_grid_neighbours(i, j, v) && are_grid_neighbours(j, i, v));
                }
                let n = (0..v).filter(|&j| are_grid_neighbours(i, j, v)).count();
                assert_eq!(n, grid_neighbours(i, v).len());
            }
        }
    }

    #[test]
    fn sets() {
        let cur: Vec<_> = (0..6).map(|i| k(i, 0)).collect();
        let mut next = cur.clone();
        next.swap(0, 5);
        let s = ValidatorSets {
            previous: vec![],
            current: cur.clone(),
            next,
        };
        let me = cur[0];
        assert_eq!(s.required_peers(&me).len(), 5);
        // current: 1, 2, 4; next: me at index 5 → row 4, column 1, 3; same index 0 elsewhere:
        // current[5] via next index 5; next[0] = cur[5] via current index 0.
        let g = s.grid_peers(&me);
        assert_eq!(&g[..3], &[cur[1], cur[2], cur[4]]);
        assert!(g.contains(&cur[5]) && g.contains(&cur[3]));
        assert!(s.wants_block_announcements(&me, &k(99, 0)));
    }

    #[test]
    fn epoch_delays() {
        assert_eq!(connectivity_change_delay(600), 20);
        assert_eq!(connectivity_change_delay(12), 1);
        assert_eq!(ticket_send_delay(600), 10);
        assert_eq!(ticket_forward_delay(600), 30);
        assert_eq!(ticket_forward_end(500), 250);
        assert_eq!(ticket_forward_end(10), 5);
    }

    #[test]
    fn metadata_endpoint() {
        let mut m = ValidatorMetadata([0; 128]);
        m.0[15] = 1;
        m.0[16..18].copy_from_slice(&40000u16.to_le_bytes());
        assert_eq!(endpoint_from_metadata(&m).to_string(), "[::1]:40000");
    }
}
