//! Safrole ticket distribution: CE 131 / CE 132 and the ticket pool (JAMNP-S § "CE 131/132",
//! GP § 6.7).
//!
//! Tickets made during epoch `d` are used in epoch `u = d + 1` (the wire's epoch index is `u`).
//! Everything about them is checked against an [`EpochContext`], built from the state of any
//! block of epoch `d`: the ring root γ_z and entropy η_2 their ring VRF proofs verify against,
//! the next epoch's validators γ_k (among which a ticket's proxy is chosen) and the current
//! validators κ (to which the proxy forwards it).
//!
//! Timing, relative to the slot `a` at which the connectivity changes for epoch `d` were
//! applied ([`Tickets::connectivity_applied`]):
//! - the generating validator sends each ticket to its proxy (CE 131) from slot
//!   `a + max(⌊E/60⌋, 1)` on, retrying on every slot until it succeeds or the contest ends;
//! - a proxy forwards each ticket it accepts to all current validators (CE 132) from slot
//!   `a + max(⌊E/20⌋, 1)` on, spread evenly over the slots until `⌊Y/2⌋` into the epoch
//!   (then at once), retrying unreached validators on later slots until the contest ends;
//! - a generator that is its own ticket's proxy skips CE 131 and forwards the ticket itself;
//!   so does a generator whose proxy has not taken the ticket by slot `⌊Y/2⌋` of the epoch
//!   (our fallback: the spec leaves this case open).
//!
//! A generator does not put its own tickets into its pool before they are distributed (its
//! blocks would otherwise reveal whose tickets they are): it receives them back over CE 132,
//! or adds them when it forwards them itself.
//!
//! Every node verifies every ticket it receives (proof, attempt, and for CE 131 that it is the
//! ticket's proxy) and keeps the valid ones, deduplicated by ticket id, in a pool per epoch of
//! use. There are at most `V · N` distinct valid ids per epoch, which bounds each pool; only
//! the pools of the current and next epochs are kept. Block authors draw their tickets
//! extrinsic from the pool ([`Tickets::candidates`]).

use jam_consensus::bandersnatch::{vrf_output, RingContext, RingVerifier};
use jam_consensus::safrole::ticket_vrf_input;
use jam_network::grid::{ticket_forward_delay, ticket_forward_end, ticket_send_delay};
use jam_network::messages::ticket_proxy_index;
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::types::{Ed25519Public, Entropy, OpaqueHash, TicketEnvelope, TicketId, TimeSlot};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

/// Why a received ticket is refused (the stream is then reset).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TicketError {
    /// JAMNP-S § "CE 131/132": the state to verify against is not known (with certainty).
    #[error("no state of epoch {needed} to check a ticket for epoch {epoch} against")]
    NoContext { epoch: u32, needed: u32 },
    /// GP 6.29: attempts are below `N`.
    #[error("attempt {attempt} is not below N = {n}")]
    BadAttempt { attempt: u8, n: u16 },
    /// GP 6.29: the ring VRF proof must verify against γ_z with η_2.
    #[error("the ring VRF proof does not verify")]
    BadProof,
    /// JAMNP-S § "CE 131/132": a proxy checks that it is the ticket's proxy.
    #[error("we are not the ticket's proxy (validator {index} is)")]
    NotProxy { index: usize },
    /// The contest of the ticket's epoch is over (or not yet running).
    #[error("the contest for epoch {epoch} is not running")]
    OutOfContest { epoch: u32 },
}

/// What tickets for epoch `epoch` are checked against (see the module docs).
pub struct EpochContext {
    /// The epoch the tickets are used in.
    pub epoch: u32,
    eta2: Entropy,
    verifier: RingVerifier,
    /// γ_k: the validators of `epoch`, among which proxies are chosen.
    pub next: Vec<Ed25519Public>,
    /// κ: the validators of `epoch − 1`, to which proxies forward tickets.
    pub current: Vec<Ed25519Public>,
}

impl EpochContext {
    /// The context for tickets made during `state`'s epoch; `None` when γ_z is not a valid
    /// ring root.
    pub fn from_state(params: &Params, ring: &RingContext, state: &State) -> Option<Self> {
        Some(EpochContext {
            epoch: state.timeslot / params.epoch_length + 1,
            eta2: state.entropy[2],
            verifier: ring.verifier(&state.safrole.gamma_z.0)?,
            next: state.safrole.gamma_k.iter().map(|v| v.ed25519).collect(),
            current: state.active_validators.iter().map(|v| v.ed25519).collect(),
        })
    }

    /// JAMNP-S § "CE 131/132": the proxy of ticket `id`, its index and key in γ_k.
    pub fn proxy(&self, id: &TicketId) -> Option<(usize, Ed25519Public)> {
        let i = ticket_proxy_index(&id.0, self.next.len());
        self.next.get(i).map(|k| (i, *k))
    }

    /// GP 6.29: checks the attempt and the ring VRF proof; the ticket id `Y(proof)` when valid.
    pub fn verify(&self, params: &Params, t: &TicketEnvelope) -> Result<TicketId, TicketError> {
        if u16::from(t.attempt) >= params.tickets_per_validator {
            return Err(TicketError::BadAttempt {
                attempt: t.attempt,
                n: params.tickets_per_validator,
            });
        }
        self.verifier
            .verify(
                &ticket_vrf_input(&self.eta2, t.attempt),
                &[],
                &t.signature.0,
            )
            .map(OpaqueHash)
            .ok_or(TicketError::BadProof)
    }
}

/// The ticket id a proof claims (`Y(proof)`, not verified): for deduplication and logs.
pub fn claimed_id(t: &TicketEnvelope) -> Option<TicketId> {
    vrf_output(&t.signature.0).map(OpaqueHash)
}

/// `0x` and the first 4 octets of a ticket id.
pub fn short_id(id: &TicketId) -> String {
    format!("0x{}", hex::encode(&id.0[..4]))
}

/// One of our tickets on its way to its proxy (CE 131).
struct ToProxy {
    epoch: u32,
    id: TicketId,
    ticket: TicketEnvelope,
    proxy: Ed25519Public,
    in_flight: bool,
    /// The first slot it was due at.
    due_since: Option<TimeSlot>,
}

/// A ticket we are the proxy of, on its way to the current validators (CE 132).
struct ToForward {
    epoch: u32,
    id: TicketId,
    ticket: TicketEnvelope,
    /// Validators not reached yet (`None`: forwarding has not started).
    pending: Option<BTreeSet<Ed25519Public>>,
    in_flight: HashSet<Ed25519Public>,
    /// Validators we sent it to successfully.
    reached: usize,
}

/// A ticket message to send now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Send {
    /// CE 131 (to the proxy) rather than CE 132.
    pub to_proxy: bool,
    pub to: Ed25519Public,
    pub epoch: u32,
    pub id: TicketId,
    pub ticket: TicketEnvelope,
}

/// What accepting a received ticket did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// New: added to the pool (and, for CE 131, queued for forwarding).
    New(TicketId),
    /// Already in the pool.
    Known(TicketId),
}

/// The ticket pool and the distribution queues; see the module docs.
pub struct Tickets {
    params: Arc<Params>,
    me: Ed25519Public,
    contexts: BTreeMap<u32, Arc<EpochContext>>,
    /// Verified tickets by epoch of use, keyed (and so sorted) by id.
    pools: BTreeMap<u32, BTreeMap<TicketId, TicketEnvelope>>,
    to_proxy: Vec<ToProxy>,
    to_forward: Vec<ToForward>,
    /// The slot at which connectivity changes for each epoch were applied.
    applied: BTreeMap<u32, TimeSlot>,
}

impl Tickets {
    pub fn new(params: Arc<Params>, me: Ed25519Public) -> Self {
        Tickets {
            params,
            me,
            contexts: BTreeMap::new(),
            pools: BTreeMap::new(),
            to_proxy: Vec::new(),
            to_forward: Vec::new(),
            applied: BTreeMap::new(),
        }
    }

    /// Most distinct valid tickets an epoch can have: `V · N`.
    fn pool_cap(&self) -> usize {
        self.params.validators() * usize::from(self.params.tickets_per_validator)
    }

    /// The cached context for tickets used in `epoch`.
    pub fn context(&self, epoch: u32) -> Option<Arc<EpochContext>> {
        self.contexts.get(&epoch).cloned()
    }

    /// Caches a context (the newest two epochs are kept).
    pub fn set_context(&mut self, ctx: Arc<EpochContext>) {
        self.contexts.insert(ctx.epoch, ctx);
        while self.contexts.len() > 2 {
            self.contexts.pop_first();
        }
    }

    /// Records that the connectivity changes for `epoch` were applied at `slot`.
    pub fn connectivity_applied(&mut self, epoch: u32, slot: TimeSlot) {
        self.applied.entry(epoch).or_insert(slot);
        while self.applied.len() > 4 {
            self.applied.pop_first();
        }
    }

    /// Whether slot `slot` is in the contest of the epoch before `epoch` (`m < Y`).
    fn in_contest(&self, epoch: u32, slot: TimeSlot) -> bool {
        let e = self.params.epoch_length;
        slot / e + 1 == epoch && slot % e < self.params.ticket_contest_duration
    }

    /// Tickets in the pool for `epoch`.
    pub fn pool_len(&self, epoch: u32) -> usize {
        self.pools.get(&epoch).map_or(0, BTreeMap::len)
    }

    /// Adds a verified ticket to the pool; `false` when it was there already (or the pool is
    /// full, which valid tickets cannot make it).
    fn add(&mut self, epoch: u32, id: TicketId, t: &TicketEnvelope) -> bool {
        let cap = self.pool_cap();
        let pool = self.pools.entry(epoch).or_default();
        if pool.contains_key(&id) || pool.len() >= cap {
            return false;
        }
        pool.insert(id, t.clone());
        true
    }

    /// Our own tickets for `ctx.epoch` (valid by construction): on their way to their proxies,
    /// or queued for forwarding by us when we are the proxy. Returns each new ticket's id and
    /// proxy index.
    pub fn add_own(
        &mut self,
        ctx: &EpochContext,
        own: &[TicketEnvelope],
    ) -> Vec<(TicketId, usize)> {
        let mut out = Vec::new();
        for t in own {
            let Some(id) = claimed_id(t) else { continue };
            let Some((index, proxy)) = ctx.proxy(&id) else {
                continue;
            };
            let queued = self.to_proxy.iter().any(|q| q.id == id)
                || self.to_forward.iter().any(|q| q.id == id);
            if queued
                || self
                    .pools
                    .get(&ctx.epoch)
                    .is_some_and(|p| p.contains_key(&id))
            {
                continue;
            }
            if proxy == self.me {
                self.queue_forward(ctx.epoch, id, t);
            } else {
                self.to_proxy.push(ToProxy {
                    epoch: ctx.epoch,
                    id,
                    ticket: t.clone(),
                    proxy,
                    in_flight: false,
                    due_since: None,
                });
            }
            out.push((id, index));
        }
        out
    }

    fn queue_forward(&mut self, epoch: u32, id: TicketId, t: &TicketEnvelope) {
        self.to_forward.push(ToForward {
            epoch,
            id,
            ticket: t.clone(),
            pending: None,
            in_flight: HashSet::new(),
            reached: 0,
        });
    }

    /// The id of a received ticket if it is already in the pool byte for byte (no need to
    /// verify it again).
    pub fn known(&self, epoch: u32, t: &TicketEnvelope) -> Option<TicketId> {
        let id = claimed_id(t)?;
        (self.pools.get(&epoch)?.get(&id)? == t).then_some(id)
    }

    /// Takes a received ticket that `ctx` verified with id `id` (CE 131 when `to_proxy`).
    pub fn accept(
        &mut self,
        ctx: &EpochContext,
        to_proxy: bool,
        id: TicketId,
        t: &TicketEnvelope,
        now: TimeSlot,
    ) -> Result<Accepted, TicketError> {
        if !self.in_contest(ctx.epoch, now) {
            return Err(TicketError::OutOfContest { epoch: ctx.epoch });
        }
        if to_proxy {
            match ctx.proxy(&id) {
                Some((_, k)) if k == self.me => {}
                Some((index, _)) => return Err(TicketError::NotProxy { index }),
                None => return Err(TicketError::NotProxy { index: 0 }),
            }
        }
        if !self.add(ctx.epoch, id, t) {
            return Ok(Accepted::Known(id));
        }
        if to_proxy {
            self.queue_forward(ctx.epoch, id, t);
        }
        Ok(Accepted::New(id))
    }

    /// The ticket messages due at `slot` (marked in flight; report each outcome with
    /// [`Tickets::sent`]). `connected` says whether a peer is connected now. Drops queues and
    /// pools of contests that are over.
    pub fn due(&mut self, slot: TimeSlot, connected: impl Fn(&Ed25519Public) -> bool) -> Vec<Send> {
        let e = self.params.epoch_length;
        let epoch_now = slot / e;
        // Tickets for epoch `u` go into blocks of epoch `u − 1` only.
        self.pools.retain(|&u, _| u > epoch_now);
        let (params, applied) = (self.params.clone(), self.applied.clone());
        let running = |u: u32| slot / e + 1 == u && slot % e < params.ticket_contest_duration;
        self.to_proxy.retain(|t| running(t.epoch));
        self.to_forward.retain(|t| running(t.epoch));
        // Slot `a + delay` of the distribution epoch, once its connectivity is applied.
        let from = |u: u32, delay: u32| applied.get(&(u - 1)).map(|a| a + delay);
        let end = epoch_now * e + ticket_forward_end(params.ticket_contest_duration);
        // Fallback: tickets the proxy has not taken by the end of the forwarding window (and
        // that were due before this slot) are forwarded by us.
        let (late, waiting): (Vec<ToProxy>, Vec<ToProxy>) = std::mem::take(&mut self.to_proxy)
            .into_iter()
            .partition(|t| !t.in_flight && slot >= end && t.due_since.is_some_and(|s| s < slot));
        self.to_proxy = waiting;
        for t in late {
            self.queue_forward(t.epoch, t.id, &t.ticket);
        }
        let mut out = Vec::new();
        for t in self.to_proxy.iter_mut() {
            if t.in_flight || from(t.epoch, ticket_send_delay(e)).is_none_or(|s| slot < s) {
                continue;
            }
            t.due_since.get_or_insert(slot);
            if connected(&t.proxy) {
                t.in_flight = true;
                out.push(Send {
                    to_proxy: true,
                    to: t.proxy,
                    epoch: t.epoch,
                    id: t.id,
                    ticket: t.ticket.clone(),
                });
            }
        }
        // Forwarding: start ⌈waiting / slots left⌉ tickets now, so that starts are spread
        // evenly until slot ⌊Y/2⌋ of the epoch; then retry the unreached validators.
        let waiting = self
            .to_forward
            .iter()
            .filter(|t| t.pending.is_none())
            .filter(|t| from(t.epoch, ticket_forward_delay(e)).is_some_and(|s| slot >= s))
            .count();
        let left = end.saturating_sub(slot) + 1;
        let mut start = waiting.div_ceil(left as usize);
        let mut started = Vec::new();
        for t in self.to_forward.iter_mut() {
            if t.pending.is_none() {
                if start == 0 || from(t.epoch, ticket_forward_delay(e)).is_none_or(|s| slot < s) {
                    continue;
                }
                start -= 1;
                let Some(ctx) = self.contexts.get(&t.epoch) else {
                    continue;
                };
                let me = self.me;
                t.pending = Some(ctx.current.iter().filter(|k| **k != me).copied().collect());
                started.push((t.epoch, t.id, t.ticket.clone()));
            }
            let Some(pending) = &t.pending else { continue };
            for k in pending {
                if !t.in_flight.contains(k) && connected(k) {
                    t.in_flight.insert(*k);
                    out.push(Send {
                        to_proxy: false,
                        to: *k,
                        epoch: t.epoch,
                        id: t.id,
                        ticket: t.ticket.clone(),
                    });
                }
            }
        }
        // Our pool gets what we forward (a no-op for tickets we took as a proxy).
        for (epoch, id, t) in started {
            self.add(epoch, id, &t);
        }
        out
    }

    /// The outcome of a [`Send`]. For CE 132, returns `Some(n)` when the ticket has now
    /// reached every current validator (`n` of them).
    pub fn sent(&mut self, s: &Send, ok: bool) -> Option<usize> {
        if s.to_proxy {
            if let Some(i) = self
                .to_proxy
                .iter()
                .position(|t| t.epoch == s.epoch && t.id == s.id)
            {
                if ok {
                    self.to_proxy.remove(i);
                } else {
                    self.to_proxy[i].in_flight = false;
                }
            }
            return None;
        }
        let i = self
            .to_forward
            .iter()
            .position(|t| t.epoch == s.epoch && t.id == s.id)?;
        let t = &mut self.to_forward[i];
        t.in_flight.remove(&s.to);
        if ok {
            t.reached += 1;
            if let Some(p) = &mut t.pending {
                p.remove(&s.to);
            }
        }
        if t.pending.as_ref().is_some_and(BTreeSet::is_empty) {
            let n = t.reached;
            self.to_forward.remove(i);
            return Some(n);
        }
        None
    }

    /// GP 6.29–6.34: the pool tickets a block at `slot` on top of `parent` should carry: ids
    /// not in the accumulator it extends, that would be kept among its best `E`, the best `K`
    /// of them, sorted by id. (The author checks them again.)
    pub fn candidates(&self, parent: &State, slot: TimeSlot) -> Vec<TicketEnvelope> {
        let p = &self.params;
        let (e, m) = (slot / p.epoch_length, slot % p.epoch_length);
        if m >= p.ticket_contest_duration {
            return Vec::new();
        }
        let Some(pool) = self.pools.get(&(e + 1)) else {
            return Vec::new();
        };
        let base: Vec<TicketId> = if parent.timeslot / p.epoch_length == e {
            parent.safrole.gamma_a.iter().map(|t| t.id).collect()
        } else {
            Vec::new()
        };
        let fresh: Vec<(&TicketId, &TicketEnvelope)> =
            pool.iter().filter(|(id, _)| !base.contains(id)).collect();
        let mut ids: Vec<TicketId> = base
            .iter()
            .chain(fresh.iter().map(|(id, _)| *id))
            .copied()
            .collect();
        ids.sort();
        let cutoff = ids.get(p.epoch_len().saturating_sub(1)).copied();
        fresh
            .into_iter()
            .filter(|(id, _)| cutoff.is_none_or(|c| **id <= c))
            .take(usize::from(p.max_tickets_per_extrinsic))
            .map(|(_, t)| t.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_consensus::author::tickets_for_state;
    use jam_consensus::genesis::genesis_state;
    use jam_consensus::validator_keys::ValidatorSecrets;
    use jam_state::types::{BandersnatchRingVrfSignature, TicketBody};
    use std::sync::OnceLock;

    /// Six dev validators' genesis state (epoch 0, tickets used in epoch 1), its ring context,
    /// and validator 0's three tickets (proofs take a while: made once).
    struct World {
        params: Params,
        ring: RingContext,
        state: State,
        keys: Vec<ValidatorSecrets>,
        own: Vec<TicketEnvelope>,
    }

    fn world() -> &'static World {
        static W: OnceLock<World> = OnceLock::new();
        W.get_or_init(|| {
            let params = Params::tiny();
            let ring = RingContext::new(params.validators()).unwrap();
            let keys: Vec<ValidatorSecrets> = (0..6).map(ValidatorSecrets::dev).collect();
            let vals: Vec<_> = keys.iter().map(|k| k.validator_data()).collect();
            let state = genesis_state(&params, &ring, &vals).unwrap();
            let own = tickets_for_state(&params, &ring, &state, &keys[0]).unwrap();
            World {
                params,
                ring,
                state,
                keys,
                own,
            }
        })
    }

    fn ctx() -> EpochContext {
        let w = world();
        EpochContext::from_state(&w.params, &w.ring, &w.state).unwrap()
    }

    fn tickets_of(v: usize) -> Tickets {
        let w = world();
        Tickets::new(Arc::new(w.params.clone()), w.keys[v].ed25519_public())
    }

    fn fake(i: u8) -> (TicketId, TicketEnvelope) {
        (
            OpaqueHash([i; 32]),
            TicketEnvelope {
                attempt: i % 3,
                signature: BandersnatchRingVrfSignature([i; 784]),
            },
        )
    }

    #[test]
    fn verification_proxy_and_dedup() {
        let (w, c) = (world(), ctx());
        assert_eq!(c.epoch, 1);
        assert_eq!(w.own.len(), 3);
        for t in &w.own {
            let id = c.verify(&w.params, t).expect("own tickets verify");
            assert_eq!(Some(id), claimed_id(t));
            // Proxy: last 4 bytes of the id, big-endian, mod V, in γ_k.
            let n = u32::from_be_bytes(id.0[28..].try_into().unwrap()) as usize % 6;
            assert_eq!(c.proxy(&id), Some((n, w.keys[n].ed25519_public())));
            // Only the proxy takes it over CE 131; every validator over CE 132.
            for v in 0..6 {
                let r = tickets_of(v).accept(&c, true, id, t, 3);
                if v == n {
                    assert_eq!(r, Ok(Accepted::New(id)));
                } else {
                    assert_eq!(r, Err(TicketError::NotProxy { index: n }));
                }
            }
            let mut rx = tickets_of(1);
            assert_eq!(rx.accept(&c, false, id, t, 3), Ok(Accepted::New(id)));
            assert_eq!(rx.accept(&c, false, id, t, 3), Ok(Accepted::Known(id)));
            assert_eq!(rx.known(1, t), Some(id));
            assert_eq!(rx.pool_len(1), 1);
            // Out of the contest (m ≥ Y) or in another epoch: refused.
            assert_eq!(
                tickets_of(1).accept(&c, false, id, t, 10),
                Err(TicketError::OutOfContest { epoch: 1 })
            );
            assert!(tickets_of(1).accept(&c, false, id, t, 13).is_err());
        }
        // A tampered proof, a bad attempt, and a proof for another attempt do not verify.
        let mut bad = w.own[0].clone();
        bad.signature.0[100] ^= 1;
        assert_eq!(c.verify(&w.params, &bad), Err(TicketError::BadProof));
        let mut bad = w.own[0].clone();
        bad.attempt = 3;
        assert_eq!(
            c.verify(&w.params, &bad),
            Err(TicketError::BadAttempt { attempt: 3, n: 3 })
        );
        let mut bad = w.own[0].clone();
        bad.attempt = (bad.attempt + 1) % 3;
        assert_eq!(c.verify(&w.params, &bad), Err(TicketError::BadProof));
        // Against another epoch's entropy: invalid.
        let mut other = w.state.clone();
        other.entropy.0[2] = OpaqueHash([9; 32]);
        let c2 = EpochContext::from_state(&w.params, &w.ring, &other).unwrap();
        assert_eq!(c2.verify(&w.params, &w.own[0]), Err(TicketError::BadProof));
    }

    #[test]
    fn own_tickets_go_to_proxies_then_forwarding_is_spread() {
        let (w, c) = (world(), Arc::new(ctx()));
        let me = w.keys[0].ed25519_public();
        let mut t = tickets_of(0);
        t.set_context(c.clone());
        let queued = t.add_own(&c, &w.own);
        assert_eq!(queued.len(), 3);
        assert!(t.add_own(&c, &w.own).is_empty(), "queued once");
        // Not in our own pool before distribution.
        assert_eq!(t.pool_len(1), 0);
        let all = |_: &Ed25519Public| true;
        // Nothing before the connectivity changes are applied.
        assert!(t.due(1, all).is_empty());
        t.connectivity_applied(0, 1);
        // CE 131 from a + max(⌊E/60⌋, 1) = 2.
        assert!(t.due(1, all).is_empty());
        let sends = t.due(2, all);
        let to_proxy: Vec<_> = sends.iter().filter(|s| s.to_proxy).collect();
        let self_proxied = queued.iter().filter(|(_, p)| *p == 0).count();
        assert_eq!(to_proxy.len(), 3 - self_proxied);
        for s in &to_proxy {
            assert_eq!(Some(s.to), c.proxy(&s.id).map(|p| p.1));
            assert_ne!(s.to, me);
        }
        // In flight: not sent again; a failure is retried on the next slot.
        assert!(t.due(2, all).iter().all(|s| !s.to_proxy));
        if let Some(s) = to_proxy.first() {
            t.sent(s, false);
            assert!(t.due(3, all).iter().any(|x| x.to_proxy && x.id == s.id));
            t.sent(s, true);
            assert!(!t.due(4, all).iter().any(|x| x.to_proxy && x.id == s.id));
        }
    }

    #[test]
    fn proxy_forwards_evenly_until_half_the_lottery() {
        let c = Arc::new(ctx());
        let mut t = tickets_of(0);
        t.set_context(c.clone());
        t.connectivity_applied(0, 1);
        // Six tickets we proxy, forwarding from slot 2 until slot ⌊Y/2⌋ = 5: 4 slots, so
        // ⌈6/4⌉ = 2, then ⌈4/3⌉ = 2, ⌈2/2⌉ = 1, ⌈1/1⌉ = 1 tickets start per slot.
        for i in 0..6 {
            let (id, e) = fake(i + 1);
            t.add(1, id, &e);
            t.queue_forward(1, id, &e);
        }
        let none = |_: &Ed25519Public| false;
        assert!(t.due(1, none).is_empty());
        let mut started = Vec::new();
        for slot in 2..=5 {
            t.due(slot, none);
            let n = t.to_forward.iter().filter(|f| f.pending.is_some()).count();
            started.push(n);
        }
        assert_eq!(started, vec![2, 4, 5, 6]);
        // Each goes to the five other current validators, once connected; a failed send is
        // retried, and the ticket is done when all five took it.
        let sends = t.due(6, |_| true);
        assert_eq!(sends.len(), 6 * 5);
        assert!(sends
            .iter()
            .all(|s| !s.to_proxy && c.current.contains(&s.to)));
        let first: Vec<&Send> = sends.iter().filter(|s| s.id == sends[0].id).collect();
        t.sent(first[0], false);
        for s in &first[1..] {
            assert_eq!(t.sent(s, true), None);
        }
        let again = t.due(7, |_| true);
        assert_eq!(again.len(), 1);
        assert_eq!(t.sent(&again[0], true), Some(5));
        // The contest ends at m = Y: queues and stale pools are dropped.
        t.due(10, |_| true);
        assert!(t.to_forward.is_empty());
        t.due(12, |_| true);
        assert_eq!(t.pool_len(1), 0);
    }

    #[test]
    fn unreachable_proxy_falls_back_to_forwarding_ourselves() {
        let (w, c) = (world(), Arc::new(ctx()));
        let mut t = tickets_of(0);
        t.set_context(c.clone());
        t.connectivity_applied(0, 1);
        let queued = t.add_own(&c, &w.own);
        let via_proxy = queued.iter().filter(|(_, p)| *p != 0).count();
        let nobody = |_: &Ed25519Public| false;
        for slot in 2..=5 {
            assert!(t.due(slot, nobody).is_empty());
        }
        assert_eq!(t.to_proxy.len(), 0, "moved to our own forwarding at slot 5");
        assert_eq!(t.to_forward.len(), 3);
        assert!(via_proxy <= 3);
        // Forwarding (and so our pool) started for all of them at slot ⌊Y/2⌋.
        assert_eq!(t.pool_len(1), 3);
    }

    #[test]
    fn candidates_follow_the_accumulator_rules() {
        let w = world();
        let p = &w.params;
        let mut t = tickets_of(0);
        let mut pool: Vec<(TicketId, TicketEnvelope)> = (1..=16).map(fake).collect();
        pool.reverse();
        for (id, e) in &pool {
            t.add(1, *id, e);
        }
        let ids =
            |v: Vec<TicketEnvelope>| -> Vec<u8> { v.iter().map(|e| e.signature.0[0]).collect() };
        // Parent in epoch 0 with an empty accumulator: the K best, sorted.
        let mut parent = w.state.clone();
        parent.timeslot = 3;
        assert_eq!(ids(t.candidates(&parent, 4)), vec![1, 2, 3]);
        // Ids already in γ_a are skipped.
        parent.safrole.gamma_a = vec![1, 2, 4]
            .into_iter()
            .map(|i| TicketBody {
                id: OpaqueHash([i; 32]),
                attempt: 0,
            })
            .collect();
        assert_eq!(ids(t.candidates(&parent, 4)), vec![3, 5, 6]);
        // Only tickets that would stay among the best E = 12 of the accumulator: with ids
        // 1..=11 in it, only 12 of 12..=16.
        parent.safrole.gamma_a = (1..=11)
            .map(|i| TicketBody {
                id: OpaqueHash([i; 32]),
                attempt: 0,
            })
            .collect();
        assert_eq!(ids(t.candidates(&parent, 4)), vec![12]);
        // On an epoch's first block the accumulator starts empty (the parent's is last epoch's).
        for i in [15, 13, 14, 16] {
            let (id, e) = fake(i);
            t.add(2, id, &e);
        }
        parent.timeslot = 11;
        assert_eq!(ids(t.candidates(&parent, 13)), vec![13, 14, 15]);
        parent.timeslot = 3;
        // Out of the contest, or for an epoch with an empty pool: none.
        assert!(t.candidates(&parent, p.ticket_contest_duration).is_empty());
        assert!(t.candidates(&parent, 24).is_empty());
        // The pool is bounded by V · N = 18.
        for i in 21..=40 {
            let (id, e) = fake(i);
            t.add(1, id, &e);
        }
        assert_eq!(t.pool_len(1), 18);
    }
}
