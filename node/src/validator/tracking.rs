//! Work-package progress (GP v0.7.2 §11.4, §11.2, §12; a JIP-2 extension): the stages a node
//! has seen of each work package — submitted to it, refined (by this node, or a guarantee for
//! it received over CE 135), guaranteed (in E_G of a best-chain block), available (made
//! available by a block's assurances, W) and accumulated (in ξ of that block's posterior
//! state) — with the time of each since the node first saw the package.
//!
//! Bounded: at most [`MAX_TRACKED`] packages; the oldest are forgotten first.

use jam_state::types::{CoreIndex, HeaderHash, TimeSlot, WorkPackageHash};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How many packages a node tracks at most.
pub const MAX_TRACKED: usize = 4096;

/// A stage of a work package's way to accumulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Submitted,
    Refined,
    Guaranteed,
    Available,
    Accumulated,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Submitted => "submitted",
            Stage::Refined => "refined",
            Stage::Guaranteed => "guaranteed",
            Stage::Available => "available",
            Stage::Accumulated => "accumulated",
        }
    }
}

/// One reached stage: when (since the package was first seen) and, for the on-chain stages,
/// in which block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reached {
    pub stage: Stage,
    pub after: Duration,
    pub block: Option<(HeaderHash, TimeSlot)>,
}

/// What the node knows of a package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageProgress {
    pub core: Option<CoreIndex>,
    /// The stages reached, in stage order.
    pub reached: Vec<Reached>,
    /// Why the package was not guaranteed here (refine or authorization failure, ...).
    pub failed: Option<String>,
    /// The report's work results, one per item, once a report is known.
    pub results: Vec<String>,
}

impl PackageProgress {
    /// The furthest stage reached.
    pub fn stage(&self) -> Option<Stage> {
        self.reached.last().map(|r| r.stage)
    }
}

struct Entry {
    first_seen: Instant,
    progress: PackageProgress,
}

/// The packages a node follows.
#[derive(Default)]
pub struct PackageTracker {
    entries: HashMap<WorkPackageHash, Entry>,
    /// Insertion order, for eviction.
    order: VecDeque<WorkPackageHash>,
}

impl PackageTracker {
    fn entry(&mut self, hash: WorkPackageHash, now: Instant) -> &mut Entry {
        if !self.entries.contains_key(&hash) {
            while self.entries.len() >= MAX_TRACKED {
                match self.order.pop_front() {
                    Some(old) => {
                        self.entries.remove(&old);
                    }
                    None => break,
                }
            }
            self.order.push_back(hash);
        }
        self.entries.entry(hash).or_insert_with(|| Entry {
            first_seen: now,
            progress: PackageProgress {
                core: None,
                reached: Vec::new(),
                failed: None,
                results: Vec::new(),
            },
        })
    }

    /// Records `stage` for `hash` (once; later repeats are ignored).
    pub fn reach(
        &mut self,
        hash: WorkPackageHash,
        core: Option<CoreIndex>,
        stage: Stage,
        block: Option<(HeaderHash, TimeSlot)>,
    ) {
        self.reach_at(hash, core, stage, block, Instant::now());
    }

    fn reach_at(
        &mut self,
        hash: WorkPackageHash,
        core: Option<CoreIndex>,
        stage: Stage,
        block: Option<(HeaderHash, TimeSlot)>,
        now: Instant,
    ) {
        let e = self.entry(hash, now);
        if e.progress.core.is_none() {
            e.progress.core = core;
        }
        if e.progress.reached.iter().any(|r| r.stage == stage) {
            return;
        }
        let after = now.saturating_duration_since(e.first_seen);
        let at = e.progress.reached.partition_point(|r| r.stage < stage);
        e.progress.reached.insert(
            at,
            Reached {
                stage,
                after,
                block,
            },
        );
    }

    /// Records the work results of the package's report.
    pub fn set_results(&mut self, hash: WorkPackageHash, results: Vec<String>) {
        self.entry(hash, Instant::now()).progress.results = results;
    }

    /// Records why the package was not guaranteed by this node.
    pub fn fail(&mut self, hash: WorkPackageHash, core: CoreIndex, why: String) {
        let e = self.entry(hash, Instant::now());
        e.progress.core.get_or_insert(core);
        e.progress.failed = Some(why);
    }

    /// What the node knows of `hash`.
    pub fn get(&self, hash: &WorkPackageHash) -> Option<PackageProgress> {
        self.entries.get(hash).map(|e| e.progress.clone())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_state::types::OpaqueHash;

    #[test]
    fn stages_are_kept_in_order_once_with_their_times() {
        let mut t = PackageTracker::default();
        let h = OpaqueHash([1; 32]);
        let t0 = Instant::now();
        t.reach_at(h, Some(1), Stage::Submitted, None, t0);
        let b = (OpaqueHash([2; 32]), 7);
        t.reach_at(
            h,
            None,
            Stage::Guaranteed,
            Some(b),
            t0 + Duration::from_millis(30),
        );
        t.reach_at(
            h,
            None,
            Stage::Refined,
            None,
            t0 + Duration::from_millis(10),
        );
        t.reach_at(
            h,
            None,
            Stage::Refined,
            None,
            t0 + Duration::from_millis(20),
        );
        let p = t.get(&h).unwrap();
        assert_eq!(p.core, Some(1));
        assert_eq!(p.stage(), Some(Stage::Guaranteed));
        let got: Vec<_> = p.reached.iter().map(|r| (r.stage, r.after)).collect();
        assert_eq!(
            got,
            vec![
                (Stage::Submitted, Duration::ZERO),
                (Stage::Refined, Duration::from_millis(10)),
                (Stage::Guaranteed, Duration::from_millis(30)),
            ]
        );
        assert_eq!(p.reached[2].block, Some(b));
        assert_eq!(t.get(&OpaqueHash([9; 32])), None);
    }

    #[test]
    fn failures_are_recorded_and_the_tracker_is_bounded() {
        let mut t = PackageTracker::default();
        t.fail(OpaqueHash([0; 32]), 1, "bad authorization".into());
        let p = t.get(&OpaqueHash([0; 32])).unwrap();
        assert_eq!(p.failed.as_deref(), Some("bad authorization"));
        assert_eq!((p.core, p.stage()), (Some(1), None));
        for i in 0..MAX_TRACKED as u32 + 10 {
            let mut h = [0u8; 32];
            h[..4].copy_from_slice(&(i + 1).to_le_bytes());
            t.reach(OpaqueHash(h), Some(0), Stage::Submitted, None);
        }
        assert_eq!(t.len(), MAX_TRACKED);
        assert_eq!(t.get(&OpaqueHash([0; 32])), None, "the oldest is forgotten");
    }
}
