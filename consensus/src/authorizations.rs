//! Authorization pools: per-core pool rotation from the queue (GP section 8, eqs. 8.2-8.3).

use jam_state::params::Params;
use jam_state::types::{AuthPools, AuthQueues, CoreIndex, OpaqueHash, TimeSlot};

/// Computes α' from α, the posterior queue φ', the block's timeslot H_t and the
/// (core, authorizer hash) pairs of the guarantees extrinsic E_G (eq. 8.2-8.3).
///
/// For each core, the leftmost occurrence of the authorizer used by a guarantee on that core
/// is removed from the pool, then the queue's entry `H_t mod Q` is appended and only the
/// newest `O` entries are kept. Guarantees naming a core outside the pools are ignored (the
/// guarantees extrinsic's own checks reject them).
pub fn transition(
    params: &Params,
    pools: &AuthPools,
    queues: &AuthQueues,
    slot: TimeSlot,
    used: &[(CoreIndex, OpaqueHash)],
) -> AuthPools {
    let max_pool = params.auth_pool_max_size as usize;
    let mut post = pools.clone();
    for (core, pool) in post.iter_mut().enumerate() {
        // F(c): the pool less the authorizer consumed on this core.
        for (_, hash) in used.iter().filter(|(c, _)| *c as usize == core) {
            if let Some(pos) = pool.iter().position(|h| h == hash) {
                pool.remove(pos);
            }
        }
        if let Some(queue) = queues.get(core).filter(|q| !q.is_empty()) {
            pool.push(queue[slot as usize % queue.len()]);
        }
        if pool.len() > max_pool {
            let excess = pool.len() - max_pool;
            pool.drain(..excess);
        }
    }
    post
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(b: u8) -> OpaqueHash {
        OpaqueHash([b; 32])
    }

    #[test]
    fn consumes_leftmost_then_appends_from_queue() {
        let params = Params::tiny();
        let q = params.auth_queue_size as usize;
        let o = params.auth_pool_max_size as usize;
        let queues: AuthQueues = (0..params.cores())
            .map(|c| (0..q).map(|i| h((100 * c + i) as u8)).collect())
            .collect();
        let pools: AuthPools = vec![vec![h(1), h(2), h(1)], vec![h(3)]].into();
        let slot = (q + 5) as TimeSlot;
        let post = transition(&params, &pools, &queues, slot, &[(0, h(1)), (1, h(9))]);
        // Core 0: the first h(1) is consumed; core 1: an authorizer not in the pool consumes nothing.
        assert_eq!(post[0], vec![h(2), h(1), h(5)]);
        assert_eq!(post[1], vec![h(3), h(105)]);

        // A full pool drops its oldest entry.
        let full: AuthPools = vec![(0..o as u8).map(h).collect(), vec![]].into();
        let post = transition(&params, &full, &queues, 7, &[]);
        assert_eq!(post[0].len(), o);
        assert_eq!(post[0][0], h(1));
        assert_eq!(post[0][o - 1], h(7));
        assert_eq!(post[1], vec![h(107)]);
    }
}
