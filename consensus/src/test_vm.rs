//! A bare PVM context for host-call unit tests (GP v0.7.2 B.6): registers, gas and memory.

use jam_pvm::{Access, HostCalls, HostContext, HostResult, Memory};

/// Where [`Vm`]'s 64 KiB of read-write memory starts.
pub const MEM: u64 = 0x10000;

/// Registers, 1000 gas and 64 KiB of read-write memory at [`MEM`].
pub struct Vm {
    pub regs: [u64; 13],
    pub gas: i64,
    pub mem: Memory,
}

impl Vm {
    pub fn new() -> Self {
        let mut mem = Memory::new();
        mem.map(MEM as u32, 0x10000, Access::ReadWrite);
        Vm {
            regs: [0; 13],
            gas: 1000,
            mem,
        }
    }

    /// Writes `data` at `MEM + off`.
    pub fn put(&mut self, off: u64, data: &[u8]) {
        self.mem.write_init((MEM + off) as u32, data).unwrap();
    }

    /// Reads `len` bytes at `MEM + off`.
    pub fn get(&self, off: u64, len: u32) -> Vec<u8> {
        self.mem.read_vec((MEM + off) as u32, len).unwrap()
    }

    /// Host call `idx` with `args` in ω7, ω8, ….
    pub fn call<H: HostCalls + ?Sized>(&mut self, h: &mut H, idx: u32, args: &[u64]) -> HostResult {
        for (i, a) in args.iter().enumerate() {
            self.regs[7 + i] = *a;
        }
        let mut c = HostContext {
            regs: &mut self.regs,
            gas: &mut self.gas,
            memory: &mut self.mem,
        };
        h.host_call(idx, &mut c)
    }
}
