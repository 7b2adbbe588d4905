//! Running one [`Case`] in jam-pvm and in PolkaVM 0.37's interpreter, with a common
//! result type.

use std::sync::Arc;

use jam_pvm::{Access, Exit, Instance, Memory, Program};
use polkavm::program::InstructionSetKind;
use polkavm::{
    BackendKind, Config, Engine, GasMeteringKind, InterruptKind, MemoryProtection, Module, ModuleConfig, ProgramBlob,
    ProgramCounter, ProgramParts, Reg,
};

use crate::gen::{Case, PAGE};

/// What a run ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub exit: Exit,
    /// Exit pc (PolkaVM gives none after `Finished`).
    pub pc: Option<u32>,
    pub regs: [u64; 13],
    pub gas: i64,
    /// Contents of the mapped pages, in `Case::pages` order.
    pub memory: Vec<Vec<u8>>,
    /// Host-call stops before the final exit: (exit, pc, registers, gas) at each.
    pub stops: Vec<(Exit, Option<u32>, [u64; 13], i64)>,
}

/// How many host calls a run resumes from (a "host" that writes φ7 = 0x100 + k and
/// φ8 = the call index each time) before the final exit is taken as is.
pub const MAX_RESUMES: usize = 3;

fn host_regs(regs: &mut [u64; 13], k: usize, index: u32) {
    regs[7] = 0x100 + k as u64;
    regs[8] = index as u64;
}

/// Runs the case in jam-pvm (`traced` = through `Instance::run_traced`, which single-steps
/// fused pairs). `Err` when the blob does not decode.
pub fn run_ours(case: &Case, traced: bool) -> Result<Outcome, jam_pvm::ProgramError> {
    let program = Arc::new(Program::from_code_blob(&case.blob)?);
    Ok(run_program(program, case, traced))
}

pub fn run_program(program: Arc<Program>, case: &Case, traced: bool) -> Outcome {
    let mut memory = Memory::new();
    for (addr, access, content) in &case.pages {
        memory.map(*addr, PAGE, *access);
        memory.write_init(*addr, content).expect("page just mapped");
    }
    let mut inst = Instance::new(program, memory, case.regs, case.pc, case.gas);
    let mut stops = Vec::new();
    let mut exit = if traced { inst.run_traced(&mut |_| {}) } else { inst.run() };
    while let Exit::HostCall(index) = exit {
        if stops.len() == MAX_RESUMES {
            break;
        }
        stops.push((exit, Some(inst.pc), inst.regs, inst.gas));
        host_regs(&mut inst.regs, stops.len(), index);
        exit = if traced { inst.run_traced(&mut |_| {}) } else { inst.run() };
    }
    let memory = case
        .pages
        .iter()
        .map(|(addr, _, _)| inst.memory.read_vec(*addr, PAGE).expect("mapped page readable"))
        .collect();
    Outcome { exit, pc: Some(inst.pc), regs: inst.regs, gas: inst.gas, memory, stops }
}

thread_local! {
    static ENGINE: Engine = {
        let mut config = Config::new();
        config.set_backend(Some(BackendKind::Interpreter));
        config.set_allow_dynamic_paging(true);
        config.set_worker_count(1);
        config.set_cache_enabled(false);
        Engine::new(&config).expect("PolkaVM interpreter engine")
    };
}

/// PolkaVM's gas metering mode for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metering {
    /// `GasMeteringKind::Sync`, naive cost model: each basic block is charged in full on
    /// entry (the configuration of the benchmark harness).
    Block,
    /// The same plus `set_per_instruction_metering(true)`: 1 gas charged before each
    /// instruction, which is GP A.1's per-instruction ϱ.
    PerInstruction,
}

/// Runs the case in PolkaVM 0.37's interpreter (JamV1, dynamic paging so that exactly the
/// case's pages are mapped, with the case's access). `polka_blob` is the case's blob with
/// PolkaVM opcode numbers. `Err` when PolkaVM refuses the program.
pub fn run_polkavm(polka_blob: &[u8], case: &Case, metering: Metering) -> Result<Outcome, String> {
    let mut parts = ProgramParts::empty(InstructionSetKind::JamV1);
    parts.code_and_jump_table = polka_blob.to_vec().into();
    let blob = ProgramBlob::from_parts(parts).map_err(|e| format!("blob: {e}"))?;
    let mut mc = ModuleConfig::new();
    mc.set_gas_metering(Some(GasMeteringKind::Sync));
    mc.set_dynamic_paging(true);
    mc.set_per_instruction_metering(metering == Metering::PerInstruction);
    let module = ENGINE.with(|engine| Module::from_blob(engine, &mc, blob)).map_err(|e| format!("module: {e}"))?;
    let mut inst = module.instantiate().map_err(|e| format!("instantiate: {e}"))?;
    for (addr, access, content) in &case.pages {
        inst.zero_memory_with_memory_protection(*addr, PAGE, MemoryProtection::ReadWrite)
            .map_err(|e| format!("map {addr:#x}: {e}"))?;
        inst.write_memory(*addr, content).map_err(|e| format!("write {addr:#x}: {e}"))?;
        if *access == Access::ReadOnly {
            inst.protect_memory(*addr, PAGE).map_err(|e| format!("protect {addr:#x}: {e}"))?;
        }
    }
    for (i, reg) in Reg::ALL.iter().enumerate() {
        inst.set_reg(*reg, case.regs[i]);
    }
    inst.set_gas(case.gas);
    inst.set_next_program_counter(ProgramCounter(case.pc));
    let regs_of = |inst: &polkavm::RawInstance| {
        let mut regs = [0u64; 13];
        for (i, reg) in Reg::ALL.iter().enumerate() {
            regs[i] = inst.reg(*reg);
        }
        regs
    };
    let mut stops = Vec::new();
    let mut exit;
    loop {
        let interrupt = inst.run().map_err(|e| format!("run: {e}"))?;
        exit = match interrupt {
            InterruptKind::Finished => Exit::Halt,
            InterruptKind::Trap => Exit::Panic,
            InterruptKind::Ecalli(n) => Exit::HostCall(n),
            InterruptKind::Segfault(s) => Exit::PageFault(s.page_address),
            InterruptKind::NotEnoughGas => Exit::OutOfGas,
            InterruptKind::Step => return Err("unexpected step interrupt".into()),
        };
        let Exit::HostCall(index) = exit else { break };
        if stops.len() == MAX_RESUMES {
            break;
        }
        let mut regs = regs_of(&inst);
        stops.push((exit, inst.program_counter().map(|p| p.0), regs, inst.gas()));
        host_regs(&mut regs, stops.len(), index);
        for (i, reg) in Reg::ALL.iter().enumerate() {
            inst.set_reg(*reg, regs[i]);
        }
    }
    let regs = regs_of(&inst);
    let mut memory = Vec::with_capacity(case.pages.len());
    for (addr, _, _) in &case.pages {
        memory.push(inst.read_memory(*addr, PAGE).map_err(|e| format!("read {addr:#x}: {e}"))?);
    }
    Ok(Outcome { exit, pc: inst.program_counter().map(|p| p.0), regs, gas: inst.gas(), memory, stops })
}
