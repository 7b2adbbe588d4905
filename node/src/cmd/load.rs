//! `jam testnet --load RATE`: keeps submitting demo-service work packages over the nodes'
//! JIP-2 RPC (round robin over cores and nodes) and follows each one (`workPackageStatus` on
//! the node it was submitted to) until it is accumulated; reports packages accumulated per
//! second and the time from submission to each stage (p50/p90).

use super::submit::{Client, PackageStatus};
use jam_consensus::genesis::DEMO_SERVICE_ID;
use jam_state::types::{CoreIndex, WorkPackageHash};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The stages followed after submission, in order.
pub const STAGES: [&str; 4] = ["refined", "guaranteed", "available", "accumulated"];

/// How often outstanding packages are polled.
const POLL: Duration = Duration::from_millis(100);

/// Running totals, published after every change.
#[derive(Clone, Debug, Default)]
pub struct LoadStats {
    pub submitted: usize,
    /// Submissions the RPC refused (queue full, ...).
    pub refused: usize,
    pub accumulated: usize,
    /// Packages a node reported as not guaranteed.
    pub failed: usize,
    /// Per package accumulated: ms from submission to each of [`STAGES`] (node time).
    pub stage_ms: Vec<[Option<f64>; 4]>,
    /// The first submission and the last accumulation seen (offsets from the start).
    pub first_submit: Option<Duration>,
    pub last_accumulated: Option<Duration>,
    /// The last error seen (a refused submission or a failed package).
    pub last_error: Option<String>,
}

impl LoadStats {
    /// Packages accumulated per second from the first submission to the last accumulation.
    pub fn throughput(&self) -> Option<f64> {
        let span = self.last_accumulated?.checked_sub(self.first_submit?)?;
        (span > Duration::ZERO).then(|| self.accumulated as f64 / span.as_secs_f64())
    }

    /// (count, p50, p90, max) of the ms to stage `i`.
    pub fn percentiles(&self, i: usize) -> Option<(usize, f64, f64, f64)> {
        let mut v: Vec<f64> = self.stage_ms.iter().filter_map(|s| s[i]).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Some((v.len(), at(0.5), at(0.9), v[v.len() - 1]))
    }
}

/// The load's shape.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// The nodes' RPC URLs.
    pub urls: Vec<String>,
    pub cores: CoreIndex,
    /// Packages per second, in all.
    pub rate: f64,
    /// Submit until then (forever if `None`), and follow the outstanding ones until `drain`.
    pub submit_until: Option<Instant>,
    pub drain: Option<Instant>,
}

struct Outstanding {
    hash: WorkPackageHash,
    node: usize,
    submitted: Instant,
}

fn stage_times(s: &PackageStatus) -> [Option<f64>; 4] {
    STAGES.map(|st| s.ms(st))
}

/// Runs the load (see the module docs), publishing the totals on `stats`.
pub async fn run(plan: LoadPlan, stats: watch::Sender<LoadStats>) -> Result<(), String> {
    let start = Instant::now();
    let mut clients = Vec::with_capacity(plan.urls.len());
    for url in &plan.urls {
        clients.push(
            Client::connect(url, Duration::from_secs(10))
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    let period = Duration::from_secs_f64(1.0 / plan.rate.max(1e-3));
    let mut submit = tokio::time::interval(period);
    submit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut poll = tokio::time::interval(POLL);
    let mut outstanding: Vec<Outstanding> = Vec::new();
    let mut k: u64 = 0;
    loop {
        let now = Instant::now();
        let submitting = plan.submit_until.is_none_or(|t| now < t);
        if !submitting && (outstanding.is_empty() || plan.drain.is_some_and(|d| now >= d)) {
            return Ok(());
        }
        tokio::select! {
            _ = submit.tick(), if submitting => {
                let node = (k as usize) % clients.len();
                let core = (k % u64::from(plan.cores.max(1))) as CoreIndex;
                let payload = [&b"J\x07load-"[..], format!("{:02}", k % 100).as_bytes(),
                    format!("package {k}").as_bytes()].concat();
                k += 1;
                let c = &mut clients[node];
                let r = match c.package(DEMO_SERVICE_ID, &payload, 100_000, 20_000).await {
                    Ok(wp) => c.submit(core, &wp).await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(hash) => {
                        outstanding.push(Outstanding { hash, node, submitted: Instant::now() });
                        stats.send_modify(|s| {
                            s.submitted += 1;
                            s.first_submit.get_or_insert(start.elapsed());
                        });
                    }
                    Err(e) => stats.send_modify(|s| {
                        s.refused += 1;
                        s.last_error = Some(e.to_string());
                    }),
                }
            }
            _ = poll.tick() => {
                let mut keep = Vec::with_capacity(outstanding.len());
                for o in outstanding.drain(..) {
                    let Ok(s) = clients[o.node].status(&o.hash).await else {
                        keep.push(o);
                        continue;
                    };
                    if let Some(ms) = s.ms("accumulated") {
                        let at = (o.submitted + Duration::from_secs_f64(ms / 1e3))
                            .saturating_duration_since(start);
                        stats.send_modify(|st| {
                            st.accumulated += 1;
                            st.stage_ms.push(stage_times(&s));
                            st.last_accumulated = Some(st.last_accumulated.map_or(at, |l| l.max(at)));
                        });
                    } else if let Some(why) = s.failed {
                        stats.send_modify(|st| {
                            st.failed += 1;
                            st.last_error = Some(why);
                        });
                    } else {
                        keep.push(o);
                    }
                }
                outstanding = keep;
            }
        }
    }
}

/// The report printed at the end of a loaded run.
pub fn report(plan: &LoadPlan, s: &LoadStats, window: Duration) -> String {
    let mut out = format!(
        "load: offered {:.2} packages/s for {:.1} s, round robin over {} cores and {} nodes \
         (JIP-2 submitWorkPackage)\n",
        plan.rate,
        window.as_secs_f64(),
        plan.cores,
        plan.urls.len()
    );
    let pending = s.submitted - s.accumulated - s.failed;
    out += &format!(
        "load: {} submitted, {} accumulated, {} failed, {} refused, {} not accumulated by the end; \
         throughput {} packages/s (first submission to last accumulation)\n",
        s.submitted,
        s.accumulated,
        s.failed,
        s.refused,
        pending,
        s.throughput()
            .map_or("-".to_string(), |t| format!("{t:.2}"))
    );
    out += "| from submission to | packages | p50 ms | p90 ms | max ms |\n";
    out += "|---|---|---|---|---|\n";
    for (i, st) in STAGES.iter().enumerate() {
        if let Some((n, p50, p90, max)) = s.percentiles(i) {
            out += &format!("| {st} | {n} | {p50:.0} | {p90:.0} | {max:.0} |\n");
        }
    }
    if let Some(e) = &s.last_error {
        out += &format!("load: last error: {e}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_throughput() {
        let mut s = LoadStats::default();
        assert_eq!(s.percentiles(3), None);
        assert_eq!(s.throughput(), None);
        for i in 1..=10 {
            s.stage_ms
                .push([Some(i as f64), None, None, Some(100.0 * i as f64)]);
        }
        s.accumulated = 10;
        s.first_submit = Some(Duration::from_secs(1));
        s.last_accumulated = Some(Duration::from_secs(6));
        assert_eq!(s.percentiles(0), Some((10, 6.0, 9.0, 10.0)));
        assert_eq!(s.percentiles(3), Some((10, 600.0, 900.0, 1000.0)));
        assert_eq!(s.percentiles(1), None);
        assert_eq!(s.throughput(), Some(2.0));
    }
}
