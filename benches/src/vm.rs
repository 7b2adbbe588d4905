//! The VMs compared ([`VmKind`]), a common runner interface ([`Vm`]) and the timing loop
//! ([`measure`]), which also checks every run's result.

use std::time::{Duration, Instant};

use polkavm::{
    BackendKind, Config, Engine, GasMeteringKind, InterruptKind, Module, ModuleConfig, RawInstance,
    Reg,
};

use crate::kernels::{Kernel, KernelSpec, GAS_START};
use crate::{native, Error, Result};

/// The result of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// a0 (φ7) at halt, or the native result.
    pub a0: u64,
    /// Gas used (= instructions executed at 1 gas/instruction); `None` for native code.
    pub instructions: Option<u64>,
}

/// One way of running a kernel.
pub trait Vm {
    /// Prepares the next run (reset registers, gas, memory); not timed.
    fn prepare(&mut self) -> Result<()>;
    /// Runs the kernel to completion; this is what is timed.
    fn execute(&mut self) -> Result<Outcome>;
}

/// The VMs compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VmKind {
    /// Our PVM (`jam-pvm`).
    #[cfg(feature = "jam")]
    Ours,
    /// PolkaVM 0.37 interpreter backend.
    PolkaVmInterpreter,
    /// PolkaVM 0.37 recompiler backend (`BackendKind::Compiler`).
    PolkaVmCompiler,
    /// Native Rust reference.
    Native,
}

impl VmKind {
    /// Every VM, in table order.
    pub const ALL: &'static [VmKind] = &[
        #[cfg(feature = "jam")]
        VmKind::Ours,
        VmKind::PolkaVmInterpreter,
        VmKind::PolkaVmCompiler,
        VmKind::Native,
    ];

    /// Short name for tables and progress messages.
    pub fn label(self) -> &'static str {
        match self {
            #[cfg(feature = "jam")]
            VmKind::Ours => "ours",
            VmKind::PolkaVmInterpreter => "polkavm-interp",
            VmKind::PolkaVmCompiler => "polkavm-recomp",
            VmKind::Native => "native",
        }
    }

    /// Shorter name for table headers.
    pub fn short_label(self) -> &'static str {
        match self {
            #[cfg(feature = "jam")]
            VmKind::Ours => "ours",
            VmKind::PolkaVmInterpreter => "interp",
            VmKind::PolkaVmCompiler => "recomp",
            VmKind::Native => "native",
        }
    }

    /// Builds a runner of `kernel` (compilation/instantiation happen here, not in the timing).
    pub fn create(self, kernel: &Kernel) -> Result<Box<dyn Vm>> {
        Ok(match self {
            #[cfg(feature = "jam")]
            VmKind::Ours => Box::new(ours::OursVm::new(kernel)?),
            VmKind::PolkaVmInterpreter => Box::new(PolkaVm::new(kernel, BackendKind::Interpreter)?),
            VmKind::PolkaVmCompiler => Box::new(PolkaVm::new(kernel, BackendKind::Compiler)?),
            VmKind::Native => Box::new(NativeVm::new(kernel.spec.name)?),
        })
    }
}

/// Checks one run's outcome against the kernel's expectations.
pub fn check(spec: &KernelSpec, vm: VmKind, outcome: &Outcome) -> Result<()> {
    if outcome.a0 != spec.expected_a0 {
        return Err(Error(format!(
            "{} on {}: a0 = {} (0x{:016x}), expected {} (0x{:016x})",
            spec.name,
            vm.label(),
            outcome.a0,
            outcome.a0,
            spec.expected_a0,
            spec.expected_a0
        )));
    }
    if let Some(n) = outcome.instructions {
        if n != spec.expected_instructions {
            return Err(Error(format!(
                "{} on {}: {} instructions (gas used), expected {} (difference {:+})",
                spec.name,
                vm.label(),
                n,
                spec.expected_instructions,
                n as i128 - spec.expected_instructions as i128
            )));
        }
    }
    Ok(())
}

/// Timings of one VM on one kernel.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Time of each timed run.
    pub times: Vec<Duration>,
    /// Outcome of the last run (all runs are checked).
    pub outcome: Outcome,
}

impl Measurement {
    /// Median run time.
    pub fn median(&self) -> Duration {
        median(&self.times)
    }
}

/// Median of `times` (mean of the two middle values for an even count; zero if empty).
pub fn median(times: &[Duration]) -> Duration {
    let mut t = times.to_vec();
    t.sort();
    match t.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => t[n / 2],
        n => (t[n / 2 - 1] + t[n / 2]) / 2,
    }
}

/// One checked, timed run: `prepare` (untimed), `execute` (timed), [`check`].
pub fn timed_run(vm: &mut dyn Vm, kind: VmKind, spec: &KernelSpec) -> Result<(Duration, Outcome)> {
    let in_context = |e: Error| Error(format!("{} on {}: {e}", spec.name, kind.label()));
    vm.prepare().map_err(in_context)?;
    let start = Instant::now();
    let outcome = vm.execute();
    let elapsed = start.elapsed();
    let outcome = outcome.map_err(in_context)?;
    check(spec, kind, &outcome)?;
    Ok((elapsed, outcome))
}

/// Runs `vm` once untimed (warm-up) and then `runs` timed times; every run is checked with
/// [`check`]. `progress(i, total)` is called before each run (i = 0 is the warm-up).
pub fn measure(
    vm: &mut dyn Vm,
    kind: VmKind,
    spec: &KernelSpec,
    runs: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<Measurement> {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for i in 0..=runs {
        progress(i, runs);
        let (elapsed, outcome) = timed_run(vm, kind, spec)?;
        if i > 0 {
            times.push(elapsed);
        }
        last = Some(outcome);
    }
    Ok(Measurement {
        times,
        outcome: last.expect("at least the warm-up ran"),
    })
}

/// Like [`measure`] for several VMs on one kernel, interleaved: round 0 (warm-up) runs every
/// VM once, then each of the `runs` timed rounds runs every VM once, in `kinds` order. On a
/// shared machine this spreads load changes evenly over the VMs, which keeps the ratios
/// meaningful. A VM that fails (creation, a run, or a wrong result) drops out with its error.
/// `progress(round, runs, kind)` is called before each run.
pub fn measure_interleaved(
    kernel: &Kernel,
    kinds: &[VmKind],
    runs: usize,
    mut progress: impl FnMut(usize, usize, VmKind),
) -> Vec<(VmKind, Result<Measurement>)> {
    struct Slot {
        kind: VmKind,
        vm: Result<Box<dyn Vm>>,
        times: Vec<Duration>,
        last: Option<Outcome>,
    }
    let mut slots: Vec<Slot> = kinds
        .iter()
        .map(|&kind| Slot {
            kind,
            vm: kind.create(kernel),
            times: Vec::with_capacity(runs),
            last: None,
        })
        .collect();
    for round in 0..=runs {
        for slot in &mut slots {
            let Ok(vm) = &mut slot.vm else { continue };
            progress(round, runs, slot.kind);
            match timed_run(vm.as_mut(), slot.kind, &kernel.spec) {
                Ok((elapsed, outcome)) => {
                    if round > 0 {
                        slot.times.push(elapsed);
                    }
                    slot.last = Some(outcome);
                }
                Err(e) => slot.vm = Err(e),
            }
        }
    }
    slots
        .into_iter()
        .map(|slot| {
            let result = slot.vm.and_then(|_| {
                Ok(Measurement {
                    times: slot.times,
                    outcome: slot.last.ok_or("no run")?,
                })
            });
            (slot.kind, result)
        })
        .collect()
}

/// PolkaVM (either backend), 1 gas per instruction, synchronous metering.
pub struct PolkaVm {
    instance: RawInstance,
    entry: polkavm::ProgramCounter,
    // Kept alive for the instance's sake.
    _module: Module,
    _engine: Engine,
}

impl PolkaVm {
    /// Compiles and instantiates `kernel` on `backend`.
    pub fn new(kernel: &Kernel, backend: BackendKind) -> Result<PolkaVm> {
        let what = format!("{} on PolkaVM {backend:?}", kernel.spec.name);
        let mut config = Config::new();
        config.set_backend(Some(backend));
        config.set_worker_count(1);
        let engine = Engine::new(&config)
            .map_err(|e| Error(format!("{what}: cannot create the engine: {e}")))?;
        let mut mc = ModuleConfig::new();
        mc.set_gas_metering(Some(GasMeteringKind::Sync));
        let module = Module::from_blob(&engine, &mc, kernel.blob.clone())
            .map_err(|e| Error(format!("{what}: cannot compile the module: {e}")))?;
        let entry = module
            .exports()
            .find(|e| e.symbol().as_bytes() == b"main")
            .ok_or_else(|| Error(format!("{what}: no exported `main`")))?
            .program_counter();
        let instance = module
            .instantiate()
            .map_err(|e| Error(format!("{what}: cannot instantiate: {e}")))?;
        Ok(PolkaVm {
            instance,
            entry,
            _module: module,
            _engine: engine,
        })
    }
}

impl Vm for PolkaVm {
    fn prepare(&mut self) -> Result<()> {
        // Clears the registers, sets sp to the stack top and ra to 0xffff0000, pc to main.
        self.instance.prepare_call_untyped(self.entry, &[]);
        self.instance.set_gas(GAS_START);
        Ok(())
    }

    fn execute(&mut self) -> Result<Outcome> {
        let interrupt = self
            .instance
            .run()
            .map_err(|e| Error(format!("run failed: {e}")))?;
        if !matches!(interrupt, InterruptKind::Finished) {
            return Err(Error(format!(
                "did not finish: {interrupt:?} at pc {:?}, gas left {}",
                self.instance.program_counter(),
                self.instance.gas()
            )));
        }
        Ok(Outcome {
            a0: self.instance.reg(Reg::A0),
            instructions: Some((GAS_START - self.instance.gas()) as u64),
        })
    }
}

/// The native Rust reference.
pub struct NativeVm {
    name: &'static str,
}

impl NativeVm {
    /// The reference of kernel `name`.
    pub fn new(name: &'static str) -> Result<NativeVm> {
        match name {
            "alu" | "sieve" | "hash" | "fib" => Ok(NativeVm { name }),
            _ => Err(Error(format!("no native reference for kernel `{name}`"))),
        }
    }
}

impl Vm for NativeVm {
    fn prepare(&mut self) -> Result<()> {
        Ok(())
    }

    fn execute(&mut self) -> Result<Outcome> {
        let a0 = native::run(self.name)
            .ok_or_else(|| Error(format!("no native reference for `{}`", self.name)))?;
        Ok(Outcome {
            a0,
            instructions: None,
        })
    }
}

#[cfg(feature = "jam")]
pub mod ours {
    //! Our PVM (`jam-pvm`).

    use std::sync::Arc;

    use jam_pvm::{Access, Exit, Instance, Memory, Program};

    use super::{Outcome, Vm};
    use crate::kernels::{Kernel, GAS_START, HALT_ADDRESS, STACK_TOP};
    use crate::{Error, Result};

    /// Our PVM on one kernel: the program is decoded once; every run gets a fresh instance.
    pub struct OursVm {
        program: Arc<Program>,
        stack_size: u32,
        instance: Option<Instance>,
    }

    impl OursVm {
        /// Decodes the kernel's code blob.
        pub fn new(kernel: &Kernel) -> Result<OursVm> {
            let program = Program::from_code_blob(&kernel.code_blob).map_err(|e| {
                Error(format!(
                    "{}: cannot decode the code blob: {e:?}",
                    kernel.spec.name
                ))
            })?;
            Ok(OursVm {
                program: Arc::new(program),
                stack_size: kernel.stack_region_size(),
                instance: None,
            })
        }
    }

    impl Vm for OursVm {
        fn prepare(&mut self) -> Result<()> {
            // Drop the previous run's instance (and memory) outside the timing.
            self.instance = None;
            let mut memory = Memory::new();
            memory.map(
                STACK_TOP - self.stack_size,
                self.stack_size,
                Access::ReadWrite,
            );
            let mut regs = [0u64; 13];
            regs[0] = u64::from(HALT_ADDRESS);
            regs[1] = u64::from(STACK_TOP);
            self.instance = Some(Instance::new(
                self.program.clone(),
                memory,
                regs,
                0,
                GAS_START,
            ));
            Ok(())
        }

        fn execute(&mut self) -> Result<Outcome> {
            let instance = self.instance.as_mut().ok_or("not prepared")?;
            let exit = instance.run();
            if !matches!(exit, Exit::Halt) {
                return Err(Error(format!(
                    "did not halt: {exit:?}, gas left {}",
                    instance.gas
                )));
            }
            Ok(Outcome {
                a0: instance.regs[7],
                instructions: Some((GAS_START - instance.gas) as u64),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    //! Small variants of the kernels (few instructions, so they run fast in debug builds),
    //! checked on every VM against the native references and the instruction-count formulas.

    use super::*;
    use crate::kernels::{bench_dir, KernelSpec};

    fn source(name: &str) -> String {
        let dir = bench_dir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::read_to_string(dir.join(format!("{name}.asm"))).expect("readable kernel")
    }

    /// `source` with each `(from, to)` replaced (each `from` must occur).
    fn variant(name: &str, edits: &[(&str, &str)]) -> String {
        let mut src = source(name);
        for (from, to) in edits {
            assert!(src.contains(from), "{name}.asm has no `{from}`");
            src = src.replace(from, to);
        }
        src
    }

    /// Runs the variant on every VM except the PolkaVM recompiler (sandbox processes) and
    /// checks a0 and the instruction count; returns the instruction count PolkaVM reports.
    fn check_variant(name: &'static str, src: &str, a0: u64, instructions: Option<u64>) -> u64 {
        // First get PolkaVM's count, then demand it from every VM (and the formula if given).
        let probe = KernelSpec {
            name,
            expected_a0: a0,
            expected_instructions: 0,
        };
        let kernel = Kernel::assemble(probe, src).unwrap_or_else(|e| panic!("{e}"));
        let mut pvm = VmKind::PolkaVmInterpreter
            .create(&kernel)
            .unwrap_or_else(|e| panic!("{e}"));
        pvm.prepare().unwrap();
        let out = pvm.execute().unwrap_or_else(|e| panic!("{e}"));
        let count = out.instructions.expect("a PVM counts instructions");
        if let Some(n) = instructions {
            assert_eq!(count, n, "{name}: PolkaVM instruction count vs formula");
        }
        let spec = KernelSpec {
            expected_instructions: count,
            ..probe
        };
        let kernel = Kernel { spec, ..kernel };
        for &kind in VmKind::ALL {
            if matches!(kind, VmKind::PolkaVmCompiler | VmKind::Native) {
                continue;
            }
            let mut vm = kind.create(&kernel).unwrap_or_else(|e| panic!("{e}"));
            // Two runs: the second checks that `prepare` resets the state.
            measure(vm.as_mut(), kind, &spec, 1, |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
        }
        count
    }

    #[test]
    fn small_alu() {
        let n = 1000;
        let src = variant("alu", &[("a2 = 10000000", "a2 = 1000")]);
        check_variant("alu", &src, native::alu(n), Some(4 + 1 + 11 * n + 1));
    }

    #[test]
    fn small_fib() {
        let n = 15;
        let src = variant("fib", &[("a0 = 34", "a0 = 15")]);
        // fib(n+1) leaf calls (2 instructions), fib(n+1) − 1 non-leaf calls (17), 7 in main.
        let leaves = native::fib(n + 1);
        check_variant(
            "fib",
            &src,
            native::fib(n),
            Some(17 * (leaves - 1) + 2 * leaves + 7),
        );
    }

    #[test]
    fn small_hash() {
        let (b, r) = (256u64, 3u64);
        let src = variant(
            "hash",
            &[("s0 = sp - 65536", "s0 = sp - 256"), ("a5 = 512", "a5 = 3")],
        );
        // 10 setup/exit + 4 per filled byte + per pass (5 per byte + 4).
        check_variant(
            "hash",
            &src,
            native::hash(b as usize, r as u32),
            Some(10 + 4 * b + r * (5 * b + 4)),
        );
    }

    #[test]
    fn small_sieve() {
        let src = variant("sieve", &[("1048576", "4096"), ("a5 = 16", "a5 = 2")]);
        let count = check_variant("sieve", &src, native::sieve(4096, 2), None);
        assert_eq!(native::sieve(4096, 1), 564);
        assert!(count > 2 * 4096, "{count}");
    }

    #[test]
    fn interleaved_measurement_reports_every_vm() {
        let src = variant("alu", &[("a2 = 10000000", "a2 = 100")]);
        let good = KernelSpec {
            name: "alu",
            expected_a0: native::alu(100),
            expected_instructions: 4 + 1 + 11 * 100 + 1,
        };
        let kinds: Vec<VmKind> = VmKind::ALL
            .iter()
            .copied()
            .filter(|k| !matches!(k, VmKind::PolkaVmCompiler | VmKind::Native))
            .collect();
        let kernel = Kernel::assemble(good, &src).unwrap_or_else(|e| panic!("{e}"));
        let results = measure_interleaved(&kernel, &kinds, 2, |_, _, _| {});
        assert_eq!(results.len(), kinds.len());
        for (kind, r) in results {
            let m = r.unwrap_or_else(|e| panic!("{}: {e}", kind.label()));
            assert_eq!(m.times.len(), 2);
            assert_eq!(m.outcome.a0, good.expected_a0);
        }
        // A wrong expectation makes every VM fail with a message naming it.
        let bad = Kernel {
            spec: KernelSpec {
                expected_a0: good.expected_a0 ^ 1,
                ..good
            },
            ..kernel
        };
        for (kind, r) in measure_interleaved(&bad, &kinds, 2, |_, _, _| {}) {
            let Err(e) = r else {
                panic!("{}: wrong a0 not reported", kind.label())
            };
            assert!(e.0.contains(kind.label()) && e.0.contains("a0 ="), "{e}");
        }
    }

    #[test]
    fn wrong_results_are_reported() {
        let spec = KernelSpec {
            name: "k",
            expected_a0: 1,
            expected_instructions: 10,
        };
        let kind = VmKind::PolkaVmInterpreter;
        assert!(check(
            &spec,
            kind,
            &Outcome {
                a0: 1,
                instructions: Some(10)
            }
        )
        .is_ok());
        assert!(check(
            &spec,
            VmKind::Native,
            &Outcome {
                a0: 1,
                instructions: None
            }
        )
        .is_ok());
        let e = check(
            &spec,
            kind,
            &Outcome {
                a0: 2,
                instructions: Some(10),
            },
        )
        .unwrap_err();
        assert!(e.0.contains("a0 = 2"), "{e}");
        let e = check(
            &spec,
            kind,
            &Outcome {
                a0: 1,
                instructions: Some(11),
            },
        )
        .unwrap_err();
        assert!(e.0.contains("11 instructions"), "{e}");
    }

    #[test]
    fn median_of_runs() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(
            median(&[ms(4), ms(1), ms(2), ms(3)]),
            Duration::from_micros(2500)
        );
        assert_eq!(median(&[]), Duration::ZERO);
    }
}
