//! `jam pvm run`: runs a standard PVM program (GP A.7) and prints how it ended.

use super::CmdResult;
use jam_pvm::{standard_init, Exit, HostCalls, HostContext, HostResult, Instance, TraceStep};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Run a standard program blob (GP A.7) and print its exit reason, gas used and registers.
    Run(RunArgs),
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The standard program blob file (GP A.7 encoding).
    blob: std::path::PathBuf,
    /// Gas limit.
    #[arg(long, default_value_t = 1_000_000_000)]
    gas: u64,
    /// Argument bytes, hex (with or without 0x).
    #[arg(long, default_value = "")]
    args: String,
    /// Entry pc.
    #[arg(long, default_value_t = 0)]
    pc: u32,
    /// Print each executed instruction (pc, instruction, gas, registers written).
    #[arg(long)]
    trace: bool,
}

/// Host calls a standalone run can serve: `gas` (0) and JIP-1 `log` (100). Any other
/// host call ends the run, since only an accumulate/refine context can serve it.
struct StandaloneHost {
    unserved: Option<u32>,
}

const HOST_GAS: u32 = 0;
const HOST_LOG: u32 = 100;
const HOST_CALL_GAS: u64 = 10;

impl HostCalls for StandaloneHost {
    fn host_call(&mut self, index: u32, ctx: &mut HostContext<'_>) -> HostResult {
        match index {
            HOST_GAS | HOST_LOG => {
                if !ctx.charge(HOST_CALL_GAS) {
                    return HostResult::OutOfGas;
                }
            }
            _ => {
                self.unserved = Some(index);
                return HostResult::Halt;
            }
        }
        if index == HOST_GAS {
            let gas = (*ctx.gas).max(0) as u64;
            ctx.set_reg(7, gas);
        } else {
            // log(level=φ7, target=φ8..+φ9, message=φ10..+φ11); unreadable parts print as empty.
            let text = |addr: u64, len: u64| -> String {
                let (Ok(a), Ok(l)) = (u32::try_from(addr), u32::try_from(len.min(4096))) else {
                    return String::new();
                };
                ctx.read(a, l)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            };
            let target = text(ctx.reg(8), ctx.reg(9));
            let message = text(ctx.reg(10), ctx.reg(11));
            eprintln!("log level={} target={target:?}: {message}", ctx.reg(7));
        }
        HostResult::Continue
    }
}

pub fn run(command: Command) -> CmdResult {
    let Command::Run(args) = command;
    let blob =
        std::fs::read(&args.blob).map_err(|e| format!("reading {}: {e}", args.blob.display()))?;
    let input = hex::decode(args.args.trim_start_matches("0x"))
        .map_err(|e| format!("--args is not hex: {e}"))?;
    let (program, memory, regs) =
        standard_init(&blob, &input).map_err(|e| format!("{}: {e}", args.blob.display()))?;
    let gas = i64::try_from(args.gas).map_err(|_| "--gas must be below 2^63")?;
    let mut vm = Instance::new(Arc::new(program), memory, regs, args.pc, gas);
    let mut host = StandaloneHost { unserved: None };
    let exit = loop {
        let exit = if args.trace {
            vm.run_traced(&mut |step: TraceStep| {
                let written: Vec<String> = step
                    .regs_written
                    .iter()
                    .map(|(r, v)| format!("r{r}={v:#x}"))
                    .collect();
                println!(
                    "{:>8}  gas={:<12} {}  {}",
                    step.instruction.pc,
                    step.gas,
                    step.instruction,
                    written.join(" ")
                );
            })
        } else {
            vm.run()
        };
        let Exit::HostCall(index) = exit else {
            break exit;
        };
        let mut ctx = HostContext {
            regs: &mut vm.regs,
            gas: &mut vm.gas,
            memory: &mut vm.memory,
        };
        match host.host_call(index, &mut ctx) {
            HostResult::Continue => continue,
            HostResult::Halt if host.unserved.is_some() => break exit,
            HostResult::Halt => break Exit::Halt,
            HostResult::Panic => break Exit::Panic,
            HostResult::OutOfGas => break Exit::OutOfGas,
            HostResult::PageFault(page) => break Exit::PageFault(page),
        }
    };
    let used = gas - vm.gas.max(0);
    match exit {
        Exit::Halt => println!("exit: halt"),
        Exit::Panic => println!("exit: panic"),
        Exit::OutOfGas => println!("exit: out of gas"),
        Exit::PageFault(page) => println!("exit: page fault at {page:#x}"),
        Exit::HostCall(i) => println!("exit: host call {i} (not served by a standalone run)"),
    }
    println!("pc: {}", vm.pc);
    println!("gas used: {used} (left {})", vm.gas);
    for (i, r) in vm.regs.iter().enumerate() {
        println!("r{i:<2} = {r:#018x} ({r})");
    }
    if exit == Exit::Halt {
        let (start, len) = (vm.regs[7], vm.regs[8]);
        if let (Ok(s), Ok(l)) = (u32::try_from(start), u32::try_from(len)) {
            if let Ok(out) = vm.memory.read_vec(s, l.min(1 << 20)) {
                println!("output ({} bytes): 0x{}", out.len(), hex::encode(&out));
            }
        }
    }
    Ok(if exit == Exit::Halt {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
