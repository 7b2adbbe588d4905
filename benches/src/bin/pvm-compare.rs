//! Side-by-side PVM benchmark: our PVM vs PolkaVM 0.37 (interpreter, recompiler) vs native Rust
//! on the kernels in `shared/pvm-bench/` (override the folder with `$JAM_PVM_BENCH`).
//!
//! `cargo run --release -p jam-benches --bin pvm-compare -- [--runs N] [--kernel NAME]`
//!
//! Every run of every VM is checked (a0 and instruction count = gas used); any mismatch makes
//! the exit status non-zero. Times are medians of N runs after one untimed warm-up run,
//! excluding compilation and instantiation. The VMs are run in interleaved rounds (ours,
//! interpreter, recompiler, native, ours, ...) so that load from other processes affects them
//! alike.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use jam_benches::kernels::{self, Kernel};
use jam_benches::vm::{self, Measurement, VmKind};

const USAGE: &str = "usage: pvm-compare [--runs N] [--kernel NAME]

  --runs N       timed runs per VM and kernel (median reported; default 5; plus one warm-up run)
  --kernel NAME  run one kernel only (alu, sieve, hash, fib)

Kernel folder: $JAM_PVM_BENCH, default <crate>/../../shared/pvm-bench.";

struct Args {
    runs: usize,
    kernel: Option<String>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        runs: 5,
        kernel: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or(format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--runs" | "-n" => {
                let v = value("--runs")?;
                args.runs = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(format!("--runs: expected a positive integer, got `{v}`"))?;
            }
            "--kernel" | "-k" => args.kernel = Some(value("--kernel")?),
            "--help" | "-h" => return Ok(None),
            // `cargo bench` passes `--bench` to every target; accept and ignore it.
            "--bench" => {}
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs everything and prints the table; `Ok(false)` if some VM computed a wrong result.
fn run(args: &Args) -> jam_benches::Result<bool> {
    let dir = kernels::bench_dir()?;
    let kernels = kernels::load_all(&dir, args.kernel.as_deref())?;
    eprintln!(
        "kernels from {} (assembled code blobs match the shipped *.code.bin); {} timed rounds + 1 warm-up, VMs interleaved",
        dir.display(),
        args.runs
    );

    let mut results: HashMap<(&str, VmKind), Measurement> = HashMap::new();
    let mut failures = Vec::new();
    for (ki, kernel) in kernels.iter().enumerate() {
        let name = kernel.spec.name;
        let mut round_shown = None;
        let results_k =
            vm::measure_interleaved(kernel, VmKind::ALL, args.runs, |round, runs, kind| {
                if round_shown != Some(round) {
                    if round_shown.is_some() {
                        eprintln!();
                    }
                    round_shown = Some(round);
                    let what = if round == 0 {
                        "warm-up".to_owned()
                    } else {
                        format!("run {round}/{runs}")
                    };
                    eprint!("[{}/{}] {name} {what}:", ki + 1, kernels.len());
                }
                eprint!(" {}", kind.label());
            });
        eprintln!();
        for (kind, result) in results_k {
            match result {
                Ok(m) => {
                    eprintln!("      {:<15} median {}", kind.label(), fmt_ms(m.median()));
                    results.insert((name, kind), m);
                }
                Err(e) => {
                    eprintln!("      {:<15} FAILED: {e}", kind.label());
                    failures.push(e.to_string());
                }
            }
        }
    }

    print_table(&kernels, &results, args.runs);

    if !failures.is_empty() {
        eprintln!("\n{} VM run(s) FAILED:", failures.len());
        for f in &failures {
            eprintln!("  - {f}");
        }
    }
    Ok(failures.is_empty())
}

fn fmt_ms(d: Duration) -> String {
    format!("{} ms", fmt_ms_num(d))
}

fn fmt_ms_num(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn print_table(kernels: &[Kernel], results: &HashMap<(&str, VmKind), Measurement>, runs: usize) {
    let vms: Vec<VmKind> = VmKind::ALL
        .iter()
        .copied()
        .filter(|&k| k != VmKind::Native)
        .collect();
    let mut header = vec!["kernel".to_owned(), "instructions".to_owned()];
    for vm in &vms {
        let l = vm.short_label();
        header.extend([
            format!("{l} ms"),
            format!("{l} Mi/s"),
            format!("{l}/native"),
        ]);
    }
    header.push("native ms".to_owned());
    #[cfg(feature = "jam")]
    header.extend(["ours vs interp".to_owned(), "ours vs recomp".to_owned()]);

    let mut rows = Vec::new();
    #[cfg(feature = "jam")]
    let (mut speedups_interp, mut speedups_recomp) = (Vec::new(), Vec::new());
    for kernel in kernels {
        let name = kernel.spec.name;
        let instr = kernel.spec.expected_instructions;
        let native = results
            .get(&(name, VmKind::Native))
            .map(Measurement::median);
        let mut row = vec![name.to_owned(), group_thousands(instr)];
        for &vm in &vms {
            match results.get(&(name, vm)).map(Measurement::median) {
                Some(t) => {
                    row.push(fmt_ms_num(t));
                    row.push(format!("{:.0}", instr as f64 / t.as_secs_f64() / 1e6));
                    row.push(match native {
                        Some(n) => format!("{:.1}x", t.as_secs_f64() / n.as_secs_f64()),
                        None => "-".to_owned(),
                    });
                }
                None => row.extend(["FAILED".to_owned(), "-".to_owned(), "-".to_owned()]),
            }
        }
        row.push(
            native
                .map(fmt_ms_num)
                .unwrap_or_else(|| "FAILED".to_owned()),
        );
        #[cfg(feature = "jam")]
        {
            let ours = results.get(&(name, VmKind::Ours)).map(Measurement::median);
            for (backend, acc) in [
                (VmKind::PolkaVmInterpreter, &mut speedups_interp),
                (VmKind::PolkaVmCompiler, &mut speedups_recomp),
            ] {
                let theirs = results.get(&(name, backend)).map(Measurement::median);
                match (ours, theirs) {
                    (Some(o), Some(t)) => {
                        let s = t.as_secs_f64() / o.as_secs_f64();
                        acc.push(s);
                        row.push(format!("{s:.2}x"));
                    }
                    _ => row.push("-".to_owned()),
                }
            }
        }
        rows.push(row);
    }

    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let cells: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, &w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        println!("| {} |", cells.join(" | "));
    };
    println!();
    println!(
        "median of {runs} runs (after 1 warm-up), compile/instantiate excluded; Mi/s = million instructions/s; \
         X/native = time / native time; ours vs Y = Y time / our time (speedup)"
    );
    line(&header);
    let sep: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    println!("|-{}-|", sep.join("-|-"));
    for row in &rows {
        line(row);
    }
    println!();
    #[cfg(feature = "jam")]
    {
        println!(
            "geomean speedup vs polkavm recompiler: {}",
            fmt_geomean(&speedups_recomp)
        );
        println!(
            "geomean speedup vs polkavm interpreter: {}",
            fmt_geomean(&speedups_interp)
        );
    }
    #[cfg(not(feature = "jam"))]
    println!("geomean speedup vs polkavm interpreter: n/a (built without feature `jam`: our PVM not run)");
}

#[cfg(feature = "jam")]
fn fmt_geomean(xs: &[f64]) -> String {
    if xs.is_empty() {
        return "n/a".to_owned();
    }
    let g = (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp();
    format!("{g:.2}")
}

fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
