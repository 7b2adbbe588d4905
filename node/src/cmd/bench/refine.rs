//! `jam bench refine`: in-core throughput of Ξ (work-report computation, GP v0.7.2 §14) over
//! many work packages with [`refine_packages`] on rayon pools of several sizes.

use super::super::import::load_chain;
use super::super::CmdResult;
use jam_consensus::accumulate::PartialState;
use jam_consensus::refine::{
    refine_packages, Chunks, InMemoryPackageData, PackageJob, RefineConfig,
};
use jam_pvm::asm::{self, services};
use jam_state::codec::Encode;
use jam_state::hash::blake2b_256;
use jam_state::keys::{encode_lookup, lookup_key, preimage_key};
use jam_state::params::Params;
use jam_state::types::{
    Bytes, OpaqueHash, RefineContext, ServiceId, WorkExecResult, WorkItem, WorkPackage,
};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use thiserror::Error;

pub const REFINE_HELP: &str = "\
Builds --packages work packages, each with --demo-items items of the demo key-value service
(services/demo.s) and, unless --heavy-kib is 0, one item of the compute-bound bench service
(services/heavy.s: 16 rounds of FNV-1a over its arguments, so its work grows with the payload).
The authorizer halts at once. Every package is refined with Ξ (Ψ_I, Ψ_R of every item, the
availability spec with its erasure coding) through jam_consensus::refine::refine_packages, on a
rayon pool of each --threads count: one untimed warm-up pass, then --runs timed passes (the
median is reported). The reports, exports and chunks must be byte-identical for every thread
count, and every item must refine to an Ok output; otherwise the command fails (exit status 1).
Columns: packages/s; speedup over the first thread count t0 (1 by default); efficiency =
speedup · t0 / threads; gain/core = (speedup - 1) / (threads - t0), what each added core brings;
then, from getrusage over the timed passes, where the time went: cpu ms/pkg (user + system CPU
time per package: it grows with the thread count when the cores slow each other down, e.g. SMT
siblings, lower all-core clocks, shared caches), sys% (its kernel share: page faults, mmap/munmap),
util (CPU time / (wall time · threads): below 1 when workers wait or idle, e.g. load imbalance or
lock waits) and faults/pkg (minor page faults). The first line names the CPU topology (logical
CPUs, physical cores) as Linux reports it; with --pin each pool thread is pinned to one CPU,
distinct physical cores first, so that small pools do not land on SMT siblings.";

/// The compute-bound bench service: `services/heavy.s`.
pub const HEAVY_SOURCE: &str = include_str!("../../../../services/heavy.s");

/// An authorizer that halts at once (its output, the trace, is its argument `E2(c)`).
const HALT_AUTHORIZER: &str = "\
.metadata \"jam bench authorizer: authorizes anything\"
.stack_size 0
.heap_pages 0
.code
        jump_ind ra, 0
";

const AUTH: ServiceId = 1;
const DEMO: ServiceId = 2;
const HEAVY: ServiceId = 3;
const ANCHOR_SLOT: u32 = 50;

#[derive(clap::Args)]
pub struct RefineArgs {
    /// Rayon pool sizes to measure, comma-separated (1..=1024).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2",
        value_name = "N,N,..."
    )]
    threads: Vec<usize>,
    /// Work packages refined per pass.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    packages: u32,
    /// Demo-service work items per package.
    #[arg(long, default_value_t = 4)]
    demo_items: u16,
    /// Payload of each package's heavy item, in KiB (0: no heavy item); 128 KiB is about
    /// 12.6 M gas of refine per package.
    #[arg(long, default_value_t = 128)]
    heavy_kib: u32,
    /// Timed passes per thread count.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Write the figures as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Chain parameters: full, tiny, or a chainspec file.
    #[arg(long, default_value = "full", value_name = "full|tiny|FILE")]
    chain: String,
    /// Pin pool thread i to one CPU, distinct physical cores before SMT siblings (Linux).
    #[arg(long)]
    pin: bool,
}

/// Why the bench could not run or its results are not acceptable.
#[derive(Debug, Error)]
pub enum RefineBenchError {
    /// A bench service did not assemble.
    #[error("{name} does not assemble: {error}")]
    Assembly {
        name: &'static str,
        error: asm::AsmError,
    },
    /// Bad command-line values.
    #[error("{0}")]
    Usage(String),
    /// The rayon pool could not be built.
    #[error("rayon pool of {threads} threads: {error}")]
    Pool {
        threads: usize,
        error: rayon::ThreadPoolBuildError,
    },
    /// A package did not give a report.
    #[error("package {index}: {error}")]
    Report { index: usize, error: String },
    /// An item did not refine to an Ok output.
    #[error("package {package}, item {item}: refine gave {result:?}")]
    ItemFailed {
        package: usize,
        item: usize,
        result: WorkExecResult,
    },
    /// Two thread counts gave different results.
    #[error("{threads} threads: package {package}'s results differ from {reference} threads'")]
    Nondeterministic {
        threads: usize,
        reference: usize,
        package: usize,
    },
}

/// The refinement-relevant state: the three services' code, available from slot 1.
struct World {
    state: PartialState,
    auth_hash: OpaqueHash,
    demo_hash: OpaqueHash,
    heavy_hash: OpaqueHash,
}

fn install(st: &mut PartialState, s: ServiceId, blob: Vec<u8>) -> OpaqueHash {
    let h = OpaqueHash(blake2b_256(&blob));
    st.accounts.entry(s).or_default();
    st.service_data
        .insert(lookup_key(s, &h, blob.len() as u32), encode_lookup(&[1]));
    st.service_data.insert(preimage_key(s, &h), blob);
    h
}

fn world() -> Result<World, RefineBenchError> {
    let assemble = |name, src| {
        asm::assemble(src)
            .map(|a| a.service_blob())
            .map_err(|error| RefineBenchError::Assembly { name, error })
    };
    let mut state = PartialState::default();
    let auth_hash = install(
        &mut state,
        AUTH,
        assemble("the bench authorizer", HALT_AUTHORIZER)?,
    );
    let demo_hash = install(&mut state, DEMO, services::demo_service_code());
    let heavy_hash = install(
        &mut state,
        HEAVY,
        assemble("services/heavy.s", HEAVY_SOURCE)?,
    );
    Ok(World {
        state,
        auth_hash,
        demo_hash,
        heavy_hash,
    })
}

/// A small deterministic generator (xorshift64*), for distinct package contents.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn item(service: ServiceId, code_hash: OpaqueHash, payload: Vec<u8>, gas: u64) -> WorkItem {
    WorkItem {
        service,
        code_hash,
        refine_gas_limit: gas,
        accumulate_gas_limit: 1000,
        export_count: 0,
        payload: Bytes(payload),
        import_segments: vec![],
        extrinsic: vec![],
    }
}

/// Package `n`: `demo_items` demo payloads `'J' ⌢ k ⌢ key ⌢ value` (services/README.md) and
/// the heavy item.
fn package(w: &World, args: &RefineArgs, params: &Params, n: u32) -> WorkPackage {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (u64::from(n) + 1).wrapping_mul(0x1234_5677));
    let mut items = Vec::new();
    for i in 0..args.demo_items {
        let key = format!("pkg{n}-item{i}").into_bytes();
        let mut p = vec![b'J', key.len() as u8];
        p.extend_from_slice(&key);
        p.extend(rng.bytes(16));
        items.push(item(DEMO, w.demo_hash, p, 100_000));
    }
    if args.heavy_kib > 0 {
        // Whatever the other items leave of G_R.
        let gas = params
            .max_refine_gas
            .saturating_sub(1 + 100_000 * u64::from(args.demo_items));
        let payload = rng.bytes(args.heavy_kib as usize * 1024);
        items.push(item(HEAVY, w.heavy_hash, payload, gas));
    }
    WorkPackage {
        auth_code_host: AUTH,
        auth_code_hash: w.auth_hash,
        context: RefineContext {
            anchor: OpaqueHash([1; 32]),
            lookup_anchor_slot: ANCHOR_SLOT,
            ..Default::default()
        },
        authorization: Bytes(n.to_le_bytes().to_vec()),
        authorizer_config: Bytes(b"bench".to_vec()),
        items,
    }
}

/// What a pass yields per package, compared across thread counts.
type Outcome = (Vec<u8>, Vec<Vec<u8>>, Chunks);

/// One row of the table.
struct Row {
    threads: usize,
    /// Median seconds per pass.
    secs: f64,
    runs: Vec<f64>,
    /// Process resource usage over all timed passes (absent where unsupported).
    usage: Option<Usage>,
}

/// Process-wide resource usage (all threads), from `getrusage(RUSAGE_SELF)`.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    user_s: f64,
    sys_s: f64,
    minor_faults: u64,
    involuntary_switches: u64,
}

impl Usage {
    #[cfg(unix)]
    fn now() -> Option<Usage> {
        let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: `ru` is a valid, writable `rusage`; getrusage only writes it.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
        if rc != 0 {
            return None;
        }
        // SAFETY: getrusage succeeded, so it filled `ru` (and it was zeroed before).
        let ru = unsafe { ru.assume_init() };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        Some(Usage {
            user_s: secs(ru.ru_utime),
            sys_s: secs(ru.ru_stime),
            minor_faults: ru.ru_minflt as u64,
            involuntary_switches: ru.ru_nivcsw as u64,
        })
    }

    #[cfg(not(unix))]
    fn now() -> Option<Usage> {
        None
    }

    fn since(self, earlier: Usage) -> Usage {
        Usage {
            user_s: self.user_s - earlier.user_s,
            sys_s: self.sys_s - earlier.sys_s,
            minor_faults: self.minor_faults.saturating_sub(earlier.minor_faults),
            involuntary_switches: self
                .involuntary_switches
                .saturating_sub(earlier.involuntary_switches),
        }
    }
}

/// The CPUs this process may run on, ordered distinct physical cores first (then their SMT
/// siblings), with the number of distinct physical cores; `None` where Linux's sysfs
/// topology is not readable.
#[cfg(target_os = "linux")]
fn cpu_topology() -> Option<(Vec<usize>, usize)> {
    // SAFETY: `set` is a zeroed, writable cpu_set_t of the size passed.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above; pid 0 is this thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return None;
    }
    let read = |cpu: usize, what: &str| -> Option<u64> {
        std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu{cpu}/topology/{what}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let mut cpus = Vec::new();
    for cpu in 0..libc::CPU_SETSIZE as usize {
        // SAFETY: `cpu` < CPU_SETSIZE, the capacity of `set`.
        if unsafe { libc::CPU_ISSET(cpu, &set) } {
            let core = (read(cpu, "physical_package_id")?, read(cpu, "core_id")?);
            cpus.push((core, cpu));
        }
    }
    // Rank each CPU among the CPUs of its core, then order by (rank, core).
    let mut seen: std::collections::HashMap<(u64, u64), usize> = Default::default();
    let mut ranked: Vec<(usize, (u64, u64), usize)> = cpus
        .iter()
        .map(|&(core, cpu)| {
            let r = seen.entry(core).or_insert(0);
            *r += 1;
            (*r - 1, core, cpu)
        })
        .collect();
    ranked.sort();
    Some((ranked.iter().map(|r| r.2).collect(), seen.len()))
}

#[cfg(not(target_os = "linux"))]
fn cpu_topology() -> Option<(Vec<usize>, usize)> {
    None
}

/// Pins the calling thread to `cpu`; errors are ignored (the bench then runs unpinned).
#[cfg(target_os = "linux")]
fn pin_to(cpu: usize) {
    // SAFETY: `set` is a zeroed cpu_set_t; `cpu` is below CPU_SETSIZE (it came from
    // `cpu_topology`); sched_setaffinity only reads `set`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

#[cfg(not(target_os = "linux"))]
fn pin_to(_cpu: usize) {}

pub fn run(args: RefineArgs) -> CmdResult {
    match bench(&args) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("jam bench refine: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn bench(args: &RefineArgs) -> Result<(), RefineBenchError> {
    if args.threads.is_empty() || args.threads.iter().any(|&t| t == 0 || t > 1024) {
        return Err(RefineBenchError::Usage(
            "--threads: give counts between 1 and 1024".into(),
        ));
    }
    let (params, _) = load_chain(&args.chain).map_err(RefineBenchError::Usage)?;
    let items = usize::from(args.demo_items) + usize::from(args.heavy_kib > 0);
    if items == 0 || items > usize::from(params.max_work_items) {
        return Err(RefineBenchError::Usage(format!(
            "{items} items per package: give 1..={} (--demo-items, --heavy-kib)",
            params.max_work_items
        )));
    }
    let w = world()?;
    let packages: Vec<WorkPackage> = (0..args.packages)
        .map(|n| package(&w, args, &params, n))
        .collect();
    let jobs: Vec<PackageJob<'_>> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| PackageJob {
            package: p,
            core: (i % usize::from(params.core_count.max(1))) as u16,
        })
        .collect();
    let data = InMemoryPackageData::default();
    let config = RefineConfig::default();
    let bundle_octets: usize = packages.iter().map(|p| p.encode().len()).sum();
    println!(
        "refine: {} packages ({} demo item(s){}), chain {} ({} validators), {} run(s) per count",
        args.packages,
        args.demo_items,
        if args.heavy_kib > 0 {
            format!(" + 1 heavy item of {} KiB", args.heavy_kib)
        } else {
            String::new()
        },
        args.chain,
        params.validator_count,
        args.runs
    );

    let topology = cpu_topology();
    match &topology {
        Some((cpus, cores)) => println!(
            "cpus: {} logical, {} physical core(s){}",
            cpus.len(),
            cores,
            if args.pin {
                "; pool threads pinned, physical cores first"
            } else {
                ""
            }
        ),
        None => println!(
            "cpus: {} available (topology unknown{})",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            if args.pin { "; --pin ignored" } else { "" }
        ),
    }
    let pin_order: Option<Vec<usize>> = topology
        .as_ref()
        .filter(|_| args.pin)
        .map(|(cpus, _)| cpus.clone());

    let mut reference: Option<(usize, Vec<Outcome>)> = None;
    let mut rows = Vec::new();
    let mut gas_used = 0u64;
    for &threads in &args.threads {
        let mut builder = rayon::ThreadPoolBuilder::new().num_threads(threads);
        if let Some(order) = pin_order.clone().filter(|o| !o.is_empty()) {
            builder = builder.start_handler(move |i| pin_to(order[i % order.len()]));
        }
        let pool = builder
            .build()
            .map_err(|error| RefineBenchError::Pool { threads, error })?;
        // Warm-up pass: also the one whose results are checked.
        let results = refine_packages(&pool, &params, &config, &w.state, &data, &jobs);
        let mut outcomes = Vec::with_capacity(results.len());
        let mut gas = 0u64;
        for (index, r) in results.into_iter().enumerate() {
            let r = r.map_err(|e| RefineBenchError::Report {
                index,
                error: e.to_string(),
            })?;
            for (item, result) in r.report.results.iter().enumerate() {
                if !matches!(result.result, WorkExecResult::Ok(_)) {
                    return Err(RefineBenchError::ItemFailed {
                        package: index,
                        item,
                        result: result.result.clone(),
                    });
                }
                gas += result.refine_load.gas_used;
            }
            outcomes.push((r.report.encode(), r.exports, r.chunks));
        }
        gas_used = gas;
        match &reference {
            None => reference = Some((threads, outcomes)),
            Some((t0, first)) => {
                if let Some(package) = (0..first.len()).find(|&i| first[i] != outcomes[i]) {
                    return Err(RefineBenchError::Nondeterministic {
                        threads,
                        reference: *t0,
                        package,
                    });
                }
            }
        }
        let before = Usage::now();
        let mut runs: Vec<f64> = (0..args.runs)
            .map(|_| {
                let t = Instant::now();
                let r = refine_packages(&pool, &params, &config, &w.state, &data, &jobs);
                let s = t.elapsed().as_secs_f64();
                drop(std::hint::black_box(r));
                s
            })
            .collect();
        let usage = Usage::now()
            .zip(before)
            .map(|(after, before)| after.since(before));
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        let secs = sorted[sorted.len() / 2];
        runs.shrink_to_fit();
        rows.push(Row {
            threads,
            secs,
            runs,
            usage,
        });
    }

    let n = f64::from(args.packages);
    let base = &rows[0];
    let base_rate = n / base.secs;
    println!(
        "reports byte-identical across thread counts; refine gas per pass {gas_used}, packages {:.1} MB encoded",
        bundle_octets as f64 / 1e6
    );
    println!(
        "{:>7}  {:>12}  {:>10}  {:>8}  {:>10}  {:>9}  {:>11}  {:>5}  {:>5}  {:>10}",
        "threads",
        "packages/s",
        "ms/pass",
        "speedup",
        "efficiency",
        "gain/core",
        "cpu ms/pkg",
        "sys%",
        "util",
        "faults/pkg"
    );
    let mut json_rows = Vec::new();
    let timed_packages = n * f64::from(args.runs);
    for r in &rows {
        let rate = n / r.secs;
        let speedup = rate / base_rate;
        let efficiency = speedup * base.threads as f64 / r.threads as f64;
        let gain =
            (r.threads > base.threads).then(|| (speedup - 1.0) / (r.threads - base.threads) as f64);
        let wall: f64 = r.runs.iter().sum();
        let cpu = r.usage.map(|u| {
            let cpu_s = u.user_s + u.sys_s;
            (
                cpu_s * 1e3 / timed_packages,
                100.0 * u.sys_s / cpu_s.max(1e-9),
                cpu_s / (wall * r.threads as f64).max(1e-9),
                u.minor_faults as f64 / timed_packages,
            )
        });
        let cell = |f: fn(&(f64, f64, f64, f64)) -> String| cpu.as_ref().map_or("-".into(), f);
        println!(
            "{:>7}  {:>12.1}  {:>10.1}  {:>8.2}  {:>10.2}  {:>9}  {:>11}  {:>5}  {:>5}  {:>10}",
            r.threads,
            rate,
            r.secs * 1e3,
            speedup,
            efficiency,
            gain.map_or("-".to_string(), |g| format!("{g:.2}")),
            cell(|c| format!("{:.2}", c.0)),
            cell(|c| format!("{:.1}", c.1)),
            cell(|c| format!("{:.2}", c.2)),
            cell(|c| format!("{:.1}", c.3)),
        );
        json_rows.push(json!({
            "threads": r.threads,
            "packages_per_s": rate,
            "median_s": r.secs,
            "runs_s": r.runs,
            "speedup": speedup,
            "efficiency": efficiency,
            "gain_per_added_core": gain,
            "cpu_ms_per_package": cpu.map(|c| c.0),
            "sys_percent": cpu.map(|c| c.1),
            "cpu_utilization": cpu.map(|c| c.2),
            "minor_faults_per_package": cpu.map(|c| c.3),
            "user_s": r.usage.map(|u| u.user_s),
            "sys_s": r.usage.map(|u| u.sys_s),
            "involuntary_switches": r.usage.map(|u| u.involuntary_switches),
        }));
    }
    if base.threads != 1 {
        println!(
            "(speedup, efficiency and gain/core relative to {} threads)",
            base.threads
        );
    }
    if let Some(file) = &args.json {
        let doc = json!({
            "chain": args.chain,
            "packages": args.packages,
            "demo_items": args.demo_items,
            "heavy_kib": args.heavy_kib,
            "runs": args.runs,
            "refine_gas_per_pass": gas_used,
            "available_parallelism": std::thread::available_parallelism().map(|n| n.get()).ok(),
            "physical_cores": topology.as_ref().map(|t| t.1),
            "pinned": pin_order.is_some(),
            "rows": json_rows,
        });
        let text = serde_json::to_string_pretty(&doc).expect("JSON of plain values");
        std::fs::write(file, text)
            .map_err(|e| RefineBenchError::Usage(format!("--json {}: {e}", file.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(chain: &str, threads: Vec<usize>) -> RefineArgs {
        RefineArgs {
            threads,
            packages: 3,
            demo_items: 2,
            heavy_kib: 1,
            runs: 1,
            json: None,
            chain: chain.into(),
            pin: false,
        }
    }

    /// Both chains: every item refines to Ok and the results agree across pool sizes (4
    /// threads for 3 packages: items and erasure coding split across the pool too).
    #[test]
    fn refines_deterministically() {
        for chain in ["tiny", "full"] {
            bench(&args(chain, vec![1, 2, 3, 4])).unwrap();
        }
        let mut pinned = args("tiny", vec![1, 2]);
        pinned.pin = true;
        bench(&pinned).unwrap();
    }

    /// The heavy service's output is FNV-1a (16 rounds) of its refine arguments.
    #[test]
    fn heavy_service_digest() {
        let w = world().unwrap();
        let blob = &w.state.service_data[&preimage_key(HEAVY, &w.heavy_hash)];
        let a = asm::assemble(HEAVY_SOURCE).unwrap();
        assert_eq!(&a.service_blob(), blob);
        let args = b"some refine arguments".to_vec();
        let r = jam_pvm::invoke(
            &a.standard_blob(),
            0,
            1_000_000,
            &args,
            &mut jam_pvm::NoHostCalls,
        );
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for _ in 0..16 {
            for &b in &args {
                h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
        assert_eq!(r.result.unwrap(), h.to_le_bytes());
    }

    #[test]
    fn bad_arguments() {
        assert!(matches!(
            bench(&args("tiny", vec![0])),
            Err(RefineBenchError::Usage(_))
        ));
        let mut a = args("tiny", vec![1]);
        a.demo_items = 100;
        assert!(matches!(bench(&a), Err(RefineBenchError::Usage(_))));
    }
}
