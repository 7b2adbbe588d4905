//! `jam bench import DIR... [--runs N] [--json FILE] [--plot FILE.svg]`: block-import timings
//! over trace folders, in the figures of the public fuzzer performance reports; `jam bench net`:
//! JAMNP-S announcement latency and block-request throughput on loopback ([`net`]); `jam bench
//! refine`: work-package refinement throughput per rayon pool size ([`refine`]).

mod net;
mod refine;

use super::import::{load_chain, trace_inputs};
use super::CmdResult;
use jam_consensus::import::{import_block, ImportContext};
use jam_state::codec::decode_exact;
use jam_state::params::Params;
use jam_state::state::StateRootCache;
use jam_state::trace::{Genesis, TraceStep};
use jam_state::types::OpaqueHash;
use serde_json::json;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Times block import over the steps of trace folders.
    #[command(after_long_help = IMPORT_HELP)]
    Import(ImportArgs),
    /// Block announcement latency (UP 0) and block-request throughput (CE 128) on loopback.
    #[command(after_long_help = net::NET_HELP)]
    Net(net::NetArgs),
    /// Work-package refinement (Ξ) throughput on rayon pools of several sizes.
    #[command(after_long_help = refine::REFINE_HELP)]
    Refine(refine::RefineArgs),
}

const IMPORT_HELP: &str = "\
For every step of each folder, the step's pre_state is parsed once (untimed); then the block is
imported on it --runs times. One run is timed from the call to import_block until the posterior
state root is known (with leaf hashes of unchanged values cached from the pre-state, as `jam
import` and the fuzz target do; --no-root times import_block alone); decoding, parsing and
dropping the posterior are not timed. A step's time is the median of its runs (robust to other
load on the machine); the table's figures are over the steps of a folder, in milliseconds:
min / max / mean / p50 / p75 / p90 / p99 (linear interpolation) / std_dev (population), the
fields of the public fuzzer performance reports. `imported` counts the blocks accepted with the
trace's posterior root; a block the trace rejects (post_state = pre_state) and we reject is
counted in `rejected`; any other outcome is a failure (listed, exit status 1).";

#[derive(clap::Args)]
pub struct ImportArgs {
    /// Trace folders (traces/<set>/): one table row each.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Timed imports per step.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Write the figures and every step's run times as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Draw import time per step (min-max band over the runs, median line, mean) as SVG.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Time import_block alone, without the posterior state root.
    #[arg(long)]
    no_root: bool,
    /// Chain parameters: tiny (the traces' spec), full, or a chainspec file.
    #[arg(long, default_value = "tiny", value_name = "tiny|full|FILE")]
    chain: String,
}

/// One step's measurements.
struct StepTimes {
    file: String,
    slot: u32,
    /// Run times in ms.
    runs: Vec<f64>,
    /// `None`: as the trace says; otherwise what went wrong.
    failure: Option<String>,
    /// The import's error when the block was rejected.
    rejected: Option<String>,
}

impl StepTimes {
    fn median(&self) -> f64 {
        percentile(&sorted(&self.runs), 50.0)
    }
}

/// The summary figures of a list of times (ms).
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p99: f64,
    pub std_dev: f64,
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// The `p`-th percentile of sorted values, interpolating linearly between closest ranks.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => {
            let rank = p / 100.0 * (n - 1) as f64;
            let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
        }
    }
}

impl Stats {
    pub fn of(values: &[f64]) -> Stats {
        if values.is_empty() {
            return Stats::default();
        }
        let s = sorted(values);
        let n = s.len() as f64;
        let mean = s.iter().sum::<f64>() / n;
        let var = s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        Stats {
            min: s[0],
            max: s[s.len() - 1],
            mean,
            p50: percentile(&s, 50.0),
            p75: percentile(&s, 75.0),
            p90: percentile(&s, 90.0),
            p99: percentile(&s, 99.0),
            std_dev: var.sqrt(),
        }
    }

    fn to_json(self) -> serde_json::Value {
        json!({
            "min": self.min, "max": self.max, "mean": self.mean, "p50": self.p50,
            "p75": self.p75, "p90": self.p90, "p99": self.p99, "std_dev": self.std_dev,
        })
    }
}

/// One folder's results.
struct SetTimes {
    name: String,
    dir: PathBuf,
    steps: Vec<StepTimes>,
}

impl SetTimes {
    fn imported(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.failure.is_none() && s.rejected.is_none())
            .count()
    }
    fn rejected(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.failure.is_none() && s.rejected.is_some())
            .count()
    }
    fn stats(&self) -> Stats {
        let medians: Vec<f64> = self.steps.iter().map(StepTimes::median).collect();
        Stats::of(&medians)
    }
}

pub fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::Import(args) => bench_import(args),
        Command::Net(args) => net::run(args),
        Command::Refine(args) => refine::run(args),
    }
}

fn bench_import(args: ImportArgs) -> CmdResult {
    let (params, _) = load_chain(&args.chain)?;
    let ctx = ImportContext::new(&params).map_err(|e| format!("ring context: {e}"))?;
    let mut sets = Vec::new();
    for dir in &args.dirs {
        sets.push(bench_folder(&params, &ctx, dir, &args)?);
    }

    let out = std::io::stdout();
    let mut out = out.lock();
    let mut failures = 0;
    for set in &sets {
        for s in &set.steps {
            if let Some(f) = &s.failure {
                failures += 1;
                writeln!(out, "FAIL {}/{} (slot {}): {f}", set.name, s.file, s.slot)?;
            }
        }
    }
    writeln!(
        out,
        "import times in ms (median of {} run(s) per step{}):",
        args.runs,
        if args.no_root {
            ", import_block only"
        } else {
            ", import_block + state root"
        }
    )?;
    writeln!(
        out,
        "{:<16} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "set",
        "steps",
        "imported",
        "rejected",
        "min",
        "max",
        "mean",
        "p50",
        "p75",
        "p90",
        "p99",
        "std_dev"
    )?;
    for set in &sets {
        let st = set.stats();
        writeln!(
            out,
            "{:<16} {:>5} {:>8} {:>8} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            set.name,
            set.steps.len(),
            set.imported(),
            set.rejected(),
            st.min,
            st.max,
            st.mean,
            st.p50,
            st.p75,
            st.p90,
            st.p99,
            st.std_dev
        )?;
    }

    if let Some(file) = &args.json {
        let sets_json: Vec<_> = sets
            .iter()
            .map(|set| {
                json!({
                    "name": set.name,
                    "dir": set.dir.display().to_string(),
                    "steps": set.steps.len(),
                    "imported": set.imported(),
                    "rejected": set.rejected(),
                    "stats_ms": set.stats().to_json(),
                    "per_step": set.steps.iter().map(|s| json!({
                        "file": s.file,
                        "slot": s.slot,
                        "median_ms": s.median(),
                        "runs_ms": s.runs,
                        "rejected": s.rejected,
                        "failure": s.failure,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let doc = json!({
            "runs": args.runs,
            "timed": if args.no_root { "import_block" } else { "import_block + state root" },
            "step_time": "median of runs",
            "sets": sets_json,
        });
        std::fs::write(file, serde_json::to_string_pretty(&doc)?)
            .map_err(|e| format!("writing {}: {e}", file.display()))?;
        writeln!(out, "wrote {}", file.display())?;
    }
    if let Some(file) = &args.plot {
        plot(&sets, file).map_err(|e| format!("plotting {}: {e}", file.display()))?;
        writeln!(out, "wrote {}", file.display())?;
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn bench_folder(
    params: &Params,
    base_ctx: &ImportContext,
    dir: &Path,
    args: &ImportArgs,
) -> Result<SetTimes, String> {
    let (genesis, files) = trace_inputs(dir)?;
    if files.is_empty() {
        return Err(format!("{}: no trace steps (*.bin)", dir.display()));
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    // The ancestor set (lookup anchors): genesis, then each block the trace accepts.
    let mut ancestry = HashMap::new();
    if let Some(g) = genesis {
        let bytes = std::fs::read(&g).map_err(|e| format!("{}: {e}", g.display()))?;
        let g: Genesis =
            decode_exact(&bytes, params).map_err(|e| format!("{}: {e}", g.display()))?;
        ancestry.insert(g.header.hash(), g.header.slot);
    }
    let mut steps = Vec::new();
    let progress = std::io::stderr().is_terminal();
    for (i, path) in files.iter().enumerate() {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if progress {
            eprint!("\r{name}: step {}/{}", i + 1, files.len());
        }
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let step: TraceStep =
            decode_exact(&bytes, params).map_err(|e| format!("{}: {e}", path.display()))?;
        let pre = step
            .pre_state
            .to_state(params)
            .map_err(|e| format!("{}: pre_state: {e}", path.display()))?;
        let expect_reject = step.pre_state.state_root == step.post_state.state_root;
        let mut ctx = base_ctx.clone();
        ctx.prior_state_root = Some(step.pre_state.state_root);
        ctx.ancestry = Some(ancestry.clone());
        let mut warm = StateRootCache::default();
        if !args.no_root {
            pre.state_root_cached(&mut warm);
        }

        let mut times = StepTimes {
            file,
            slot: step.block.header.slot,
            runs: Vec::with_capacity(args.runs as usize),
            failure: None,
            rejected: None,
        };
        for _ in 0..args.runs {
            let mut cache = warm.clone();
            let t = Instant::now();
            let result = import_block(params, &ctx, &pre, &step.block).map(|(post, _)| {
                let root = (!args.no_root).then(|| OpaqueHash(post.state_root_cached(&mut cache)));
                (post, root)
            });
            let elapsed = t.elapsed();
            times.runs.push(elapsed.as_secs_f64() * 1e3);
            let verdict = match (&result, expect_reject) {
                (Ok(_), true) => Some("accepted, but the trace rejects it".to_string()),
                (Ok((post, root)), false) => {
                    let root = root.unwrap_or_else(|| OpaqueHash(post.state_root()));
                    (root != step.post_state.state_root).then(|| {
                        format!(
                            "posterior root {root}, the trace's {}",
                            step.post_state.state_root
                        )
                    })
                }
                (Err(e), true) => {
                    times.rejected = Some(e.to_string());
                    None
                }
                (Err(e), false) => Some(format!("rejected: {e} [{e:?}]")),
            };
            drop(result);
            if verdict.is_some() {
                times.failure = verdict;
                break;
            }
        }
        if !expect_reject {
            ancestry.insert(step.block.header.hash(), step.block.header.slot);
        }
        steps.push(times);
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    Ok(SetTimes {
        name,
        dir: dir.to_path_buf(),
        steps,
    })
}

/// Import time per step: a min-max band over the runs, the median per step (line and points)
/// and the set's mean (flat line), one colour per set.
fn plot(sets: &[SetTimes], file: &Path) -> Result<(), String> {
    use plotters::prelude::*;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let n = sets.iter().map(|s| s.steps.len()).max().unwrap_or(1).max(1) as f64;
    let y_max = sets
        .iter()
        .flat_map(|s| s.steps.iter().flat_map(|t| t.runs.iter().copied()))
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.05;
    let root = SVGBackend::new(file, (1400, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let names: Vec<&str> = sets.iter().map(|s| s.name.as_str()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("block import time per trace step ({})", names.join(", ")),
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0.0..n + 1.0, 0.0..y_max)
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("trace step")
        .y_desc("import time (ms)")
        .draw()
        .map_err(|x| e(&x))?;
    for (i, set) in sets.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let xs = || {
            set.steps
                .iter()
                .enumerate()
                .map(|(j, t)| ((j + 1) as f64, t))
        };
        // Band: the min over the runs left to right, then the max right to left.
        let mut band: Vec<(f64, f64)> = xs()
            .map(|(x, t)| (x, t.runs.iter().copied().fold(f64::INFINITY, f64::min)))
            .collect();
        let upper: Vec<(f64, f64)> = xs()
            .map(|(x, t)| (x, t.runs.iter().copied().fold(0.0, f64::max)))
            .collect();
        band.extend(upper.into_iter().rev());
        chart
            .draw_series(std::iter::once(Polygon::new(band, color.mix(0.2).filled())))
            .map_err(|x| e(&x))?;
        let medians: Vec<(f64, f64)> = xs().map(|(x, t)| (x, t.median())).collect();
        chart
            .draw_series(LineSeries::new(medians.clone(), color.stroke_width(1)))
            .map_err(|x| e(&x))?
            .label(format!("{} (median per step)", set.name))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart
            .draw_series(medians.iter().map(|&p| Circle::new(p, 2, color.filled())))
            .map_err(|x| e(&x))?;
        let mean = set.stats().mean;
        chart
            .draw_series(LineSeries::new(
                vec![(1.0, mean), (set.steps.len() as f64, mean)],
                color.stroke_width(2),
            ))
            .map_err(|x| e(&x))?
            .label(format!("{} mean {mean:.3} ms", set.name))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate() {
        let s = Stats::of(&[4.0, 1.0, 3.0, 2.0, 5.0]);
        assert_eq!(
            (s.min, s.max, s.mean, s.p50, s.p75),
            (1.0, 5.0, 3.0, 3.0, 4.0)
        );
        assert!((s.p90 - 4.6).abs() < 1e-12 && (s.p99 - 4.96).abs() < 1e-12);
        assert!((s.std_dev - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(Stats::of(&[7.0]).p99, 7.0);
    }
}
