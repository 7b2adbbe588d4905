//! PVM RAM (GP v0.7.2 A.4 memory access rules, 4.x `M` with pages of Z_P = 2^12 octets).
//!
//! A flat table of 2^20 entries, one per page, each holding the address of the page's
//! backing buffer with the access bits in its low (alignment) bits. Mapped pages that
//! were never written point at a shared zero page, so mapping is O(pages) table writes and
//! memory grows only with pages actually written. An access is one table load, one
//! flag test and the data access itself.

use std::ptr;

/// Page size Z_P.
pub const PAGE_SIZE: u32 = 1 << 12;
/// Addresses below this (2^16) are never accessible; touching them panics.
pub const RESERVED: u32 = 1 << 16;
const NUM_PAGES: usize = 1 << 20;
const PAGE_MASK: usize = PAGE_SIZE as usize - 1;

const F_READ: usize = 1;
const F_WRITE: usize = 2;
/// Writable, but still backed by the shared zero page (materialised on first write).
const F_LAZY: usize = 4;

/// The flat 2^20-entry page table (8 MiB), zero-initialised.
///
/// On Unix it is an anonymous private mapping: the kernel hands out zero pages lazily, so a
/// fresh table costs one `mmap` and only the few table pages a program's layout touches are
/// ever materialised. (Profiled: zeroing a heap-allocated table was ~1/3 of `standard_init`
/// per accumulate invocation, because glibc recycles freed 8 MiB chunks and `calloc` then
/// has to `memset` them.)
struct PageTable {
    ptr: std::ptr::NonNull<usize>,
}

// SAFETY: `PageTable` exclusively owns its allocation (like `Box<[usize]>`); `&PageTable`
// only reads and `&mut PageTable` writes.
unsafe impl Send for PageTable {}
// SAFETY: see `Send`; shared access is read-only.
unsafe impl Sync for PageTable {}

const TABLE_BYTES: usize = NUM_PAGES * std::mem::size_of::<usize>();

impl PageTable {
    #[cfg(unix)]
    fn new() -> PageTable {
        // SAFETY: an anonymous private read-write mapping with no address hint; the result is
        // checked for failure below. Anonymous mappings are zero-filled.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                TABLE_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            std::alloc::handle_alloc_error(Self::layout());
        }
        PageTable {
            ptr: std::ptr::NonNull::new(p as *mut usize).expect("mmap never returns null"),
        }
    }

    #[cfg(not(unix))]
    fn new() -> PageTable {
        // SAFETY: the layout has non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(Self::layout()) };
        match std::ptr::NonNull::new(p as *mut usize) {
            Some(ptr) => PageTable { ptr },
            None => std::alloc::handle_alloc_error(Self::layout()),
        }
    }

    fn layout() -> std::alloc::Layout {
        std::alloc::Layout::from_size_align(TABLE_BYTES, 4096).expect("valid layout")
    }
}

impl Drop for PageTable {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `new` with the same size (and layout) and is released once.
        #[cfg(unix)]
        unsafe {
            libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, TABLE_BYTES);
        }
        #[cfg(not(unix))]
        unsafe {
            std::alloc::dealloc(self.ptr.as_ptr() as *mut u8, Self::layout());
        }
    }
}

impl std::ops::Deref for PageTable {
    type Target = [usize];
    #[inline(always)]
    fn deref(&self) -> &[usize] {
        // SAFETY: `ptr` points at NUM_PAGES initialised (zero-filled) `usize`s owned by `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), NUM_PAGES) }
    }
}

impl std::ops::DerefMut for PageTable {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [usize] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), NUM_PAGES) }
    }
}

#[repr(C, align(4096))]
struct Page([u8; PAGE_SIZE as usize]);

static ZERO_PAGE: Page = Page([0; PAGE_SIZE as usize]);

fn zero_page_addr() -> usize {
    &ZERO_PAGE as *const Page as usize
}

/// Page access of GP `A`: read-only or read-write (absent = inaccessible).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// The 32-bit PVM address space.
pub struct Memory {
    /// One entry per page: backing address | access flags (0 = inaccessible, no backing).
    table: PageTable,
    /// Owned page buffers (their addresses appear in `table`).
    owned: Vec<Box<Page>>,
    /// Owned buffers no longer referenced by `table`, ready for reuse.
    free: Vec<usize>,
    /// Current heap end for `sbrk` (0 when the memory has no standard layout).
    heap_top: u32,
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Memory {
    fn clone(&self) -> Self {
        let mut m = Memory::new();
        m.heap_top = self.heap_top;
        for (page, &e) in self.table.iter().enumerate() {
            if e == 0 {
                continue;
            }
            let flags = e & PAGE_MASK;
            let src = e & !PAGE_MASK;
            if src == zero_page_addr() || flags == 0 {
                m.table[page] = if flags == 0 {
                    0
                } else {
                    zero_page_addr() | flags
                };
            } else {
                let dst = m.alloc_page();
                // SAFETY: `src` is a live page buffer owned by `self` and `dst` a fresh one
                // owned by `m`; both are PAGE_SIZE bytes and distinct allocations.
                unsafe {
                    ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, PAGE_SIZE as usize)
                };
                m.table[page] = dst | flags;
            }
        }
        m
    }
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("pages_allocated", &self.owned.len())
            .finish()
    }
}

impl Memory {
    /// An address space with every page inaccessible.
    pub fn new() -> Memory {
        Memory {
            table: PageTable::new(),
            owned: Vec::new(),
            free: Vec::new(),
            heap_top: 0,
        }
    }

    fn alloc_page(&mut self) -> usize {
        if let Some(p) = self.free.pop() {
            // SAFETY: `p` is a page buffer owned by `self.owned` that no table entry uses.
            unsafe { ptr::write_bytes(p as *mut u8, 0, PAGE_SIZE as usize) };
            return p;
        }
        let mut page = Box::new(Page([0; PAGE_SIZE as usize]));
        let addr = page.0.as_mut_ptr() as usize;
        self.owned.push(page);
        addr
    }

    fn pages(start: u32, len: u32) -> std::ops::Range<usize> {
        if len == 0 {
            return 0..0;
        }
        let first = (start / PAGE_SIZE) as usize;
        let last = ((start as u64 + len as u64 - 1) / PAGE_SIZE as u64) as usize;
        first.max((RESERVED / PAGE_SIZE) as usize)..(last + 1).min(NUM_PAGES)
    }

    /// Makes every page overlapping `[start, start + len)` accessible with `access`, keeping
    /// the contents of pages that were already mapped. Pages below 2^16 are never mapped.
    pub fn map(&mut self, start: u32, len: u32, access: Access) {
        for page in Self::pages(start, len) {
            let e = self.table[page];
            let backing = e & !PAGE_MASK;
            let backing = if backing == 0 {
                zero_page_addr()
            } else {
                backing
            };
            let flags = match access {
                Access::ReadOnly => F_READ,
                Access::ReadWrite if backing == zero_page_addr() => F_READ | F_LAZY,
                Access::ReadWrite => F_READ | F_WRITE,
            };
            self.table[page] = backing | flags;
        }
    }

    /// Makes every page overlapping `[start, start + len)` inaccessible and drops its contents.
    pub fn unmap(&mut self, start: u32, len: u32) {
        for page in Self::pages(start, len) {
            let backing = self.table[page] & !PAGE_MASK;
            if backing != 0 && backing != zero_page_addr() {
                self.free.push(backing);
            }
            self.table[page] = 0;
        }
    }

    /// The access of the page containing `addr`, `None` when inaccessible.
    pub fn access(&self, addr: u32) -> Option<Access> {
        let e = self.table[(addr / PAGE_SIZE) as usize];
        if e & F_READ == 0 {
            None
        } else if e & (F_WRITE | F_LAZY) != 0 {
            Some(Access::ReadWrite)
        } else {
            Some(Access::ReadOnly)
        }
    }

    /// Whether `[addr, addr + len)` is readable (GP `V_μ`).
    pub fn is_readable(&self, addr: u32, len: u32) -> bool {
        self.first_fault(addr, len, false).is_none()
    }

    /// Whether `[addr, addr + len)` is writable (GP `V*_μ`).
    pub fn is_writable(&self, addr: u32, len: u32) -> bool {
        self.first_fault(addr, len, true).is_none()
    }

    /// The address of the first inaccessible byte of `[addr, addr + len)` (addresses wrap
    /// modulo 2^32), scanning page by page.
    fn first_fault(&self, addr: u32, len: u32, write: bool) -> Option<u32> {
        if len == 0 {
            return None;
        }
        let mut a = addr;
        let mut left = len as u64;
        loop {
            let e = self.table[(a / PAGE_SIZE) as usize];
            let ok = if write {
                e & (F_WRITE | F_LAZY) != 0
            } else {
                e & F_READ != 0
            };
            if !ok {
                return Some(a);
            }
            let in_page = (PAGE_SIZE - a % PAGE_SIZE) as u64;
            if left <= in_page {
                return None;
            }
            left -= in_page;
            a = a.wrapping_add(in_page as u32);
        }
    }

    /// Makes sure the page has its own buffer (for writing) and returns its address.
    fn materialize(&mut self, page: usize) -> usize {
        let e = self.table[page];
        let backing = e & !PAGE_MASK;
        if backing != 0 && backing != zero_page_addr() {
            return backing;
        }
        let p = self.alloc_page();
        let mut flags = e & PAGE_MASK;
        if flags & F_LAZY != 0 {
            flags = (flags & !F_LAZY) | F_WRITE;
        }
        self.table[page] = p | flags;
        p
    }

    /// Copies `data` into memory at `addr` regardless of read-only protection (for
    /// setting up a program). Fails with the first page address that is not mapped.
    pub fn write_init(&mut self, addr: u32, data: &[u8]) -> Result<(), u32> {
        if data.len() > u32::MAX as usize {
            return Err(addr & !(PAGE_SIZE - 1));
        }
        if let Some(a) = self.first_fault(addr, data.len() as u32, false) {
            return Err(a & !(PAGE_SIZE - 1));
        }
        self.copy_in(addr, data);
        Ok(())
    }

    fn copy_in(&mut self, addr: u32, data: &[u8]) {
        let mut a = addr;
        let mut rest = data;
        while !rest.is_empty() {
            let off = (a % PAGE_SIZE) as usize;
            let n = rest.len().min(PAGE_SIZE as usize - off);
            let p = self.materialize((a / PAGE_SIZE) as usize);
            // SAFETY: `p` is an owned page buffer of PAGE_SIZE bytes; off + n <= PAGE_SIZE.
            unsafe { ptr::copy_nonoverlapping(rest.as_ptr(), (p + off) as *mut u8, n) };
            rest = &rest[n..];
            a = a.wrapping_add(n as u32);
        }
    }

    /// Reads `buf.len()` bytes at `addr`. Fails with the page address of the first
    /// unreadable byte (below 2^16 the address is in the reserved zone).
    pub fn read(&self, addr: u32, buf: &mut [u8]) -> Result<(), u32> {
        if buf.len() > u32::MAX as usize {
            return Err(addr & !(PAGE_SIZE - 1));
        }
        if let Some(a) = self.first_fault(addr, buf.len() as u32, false) {
            return Err(a & !(PAGE_SIZE - 1));
        }
        let mut a = addr;
        let mut done = 0;
        while done < buf.len() {
            let off = (a % PAGE_SIZE) as usize;
            let n = (buf.len() - done).min(PAGE_SIZE as usize - off);
            let p = self.table[(a / PAGE_SIZE) as usize] & !PAGE_MASK;
            // SAFETY: the page is readable, so `p` is the zero page or an owned buffer of
            // PAGE_SIZE bytes; off + n <= PAGE_SIZE.
            unsafe {
                ptr::copy_nonoverlapping((p + off) as *const u8, buf[done..].as_mut_ptr(), n)
            };
            done += n;
            a = a.wrapping_add(n as u32);
        }
        Ok(())
    }

    /// Reads `len` bytes at `addr` into a new vector (see [`Memory::read`]).
    pub fn read_vec(&self, addr: u32, len: u32) -> Result<Vec<u8>, u32> {
        if let Some(a) = self.first_fault(addr, len, false) {
            return Err(a & !(PAGE_SIZE - 1));
        }
        let mut v = vec![0u8; len as usize];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    /// Writes `data` at `addr` honouring access (as a guest store would). Fails with the
    /// page address of the first unwritable byte, writing nothing.
    pub fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), u32> {
        if data.len() > u32::MAX as usize {
            return Err(addr & !(PAGE_SIZE - 1));
        }
        if let Some(a) = self.first_fault(addr, data.len() as u32, true) {
            return Err(a & !(PAGE_SIZE - 1));
        }
        self.copy_in(addr, data);
        Ok(())
    }

    /// The `sbrk` heap pointer (0 when there is no standard layout).
    pub fn heap_top(&self) -> u32 {
        self.heap_top
    }

    /// Sets the `sbrk` heap pointer.
    pub fn set_heap_top(&mut self, top: u32) {
        self.heap_top = top;
    }

    /// `sbrk`: grows the heap by `size` bytes, mapping new pages read-write, and returns
    /// the previous heap end (0 on failure: no heap, or the address space is exhausted).
    pub fn sbrk(&mut self, size: u64) -> u64 {
        let top = self.heap_top;
        if top == 0 {
            return 0;
        }
        if size == 0 {
            return top as u64;
        }
        let new_top = top as u64 + size.min(1 << 32);
        if new_top > u32::MAX as u64 {
            return 0;
        }
        let first = (top as u64).div_ceil(PAGE_SIZE as u64);
        let last = new_top.div_ceil(PAGE_SIZE as u64);
        if last > first {
            let start = (first * PAGE_SIZE as u64) as u32;
            let len = ((last - first) * PAGE_SIZE as u64).min(u32::MAX as u64) as u32;
            self.map(start, len, Access::ReadWrite);
        }
        self.heap_top = new_top as u32;
        top as u64
    }

    // ---- guest access fast paths (used by the interpreter) ----

    /// The fault address for an access that did not take the fast path.
    #[cold]
    #[inline(never)]
    fn fault_of(&self, addr: u32, len: u32, write: bool) -> Option<u32> {
        self.first_fault(addr, len, write)
    }

    /// The page table, for the interpreter's inlined fast paths. The table is allocated once
    /// and never moves; entries change only through `&mut self` methods.
    #[inline(always)]
    pub(crate) fn table_ptr(&self) -> *const usize {
        self.table.as_ptr()
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn load_slow(&self, addr: u32, len: u32) -> Result<u64, u32> {
        if let Some(a) = self.fault_of(addr, len, false) {
            return Err(a);
        }
        let mut buf = [0u8; 8];
        self.read(addr, &mut buf[..len as usize])?;
        Ok(u64::from_le_bytes(buf))
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn store_slow(&mut self, addr: u32, len: u32, value: u64) -> Result<(), u32> {
        if let Some(a) = self.fault_of(addr, len, true) {
            return Err(a);
        }
        self.copy_in(addr, &value.to_le_bytes()[..len as usize]);
        Ok(())
    }
}

macro_rules! guest_access {
    ($load:ident, $store:ident, $ty:ty) => {
        /// Guest load fast path: `None` when the access needs [`Memory::load_slow`].
        ///
        /// # Safety
        /// `table` must be [`Memory::table_ptr`] of a live `Memory` not mutably borrowed.
        #[inline(always)]
        pub(crate) unsafe fn $load(table: *const usize, addr: u32) -> Option<u64> {
            const N: usize = std::mem::size_of::<$ty>();
            // SAFETY: addr / PAGE_SIZE < 2^20 = table length.
            let e = unsafe { *table.add((addr / PAGE_SIZE) as usize) };
            let off = addr as usize & PAGE_MASK;
            if e & F_READ != 0 && off <= PAGE_SIZE as usize - N {
                // SAFETY: readable pages are backed by a PAGE_SIZE buffer (owned or the
                // zero page) and off + N <= PAGE_SIZE.
                let v = unsafe { ptr::read_unaligned(((e & !PAGE_MASK) + off) as *const $ty) };
                Some(<$ty>::from_le(v) as u64)
            } else {
                None
            }
        }

        /// Guest store fast path: false when the access needs [`Memory::store_slow`].
        ///
        /// # Safety
        /// `table` must be [`Memory::table_ptr`] of a live `Memory` not otherwise borrowed.
        #[inline(always)]
        pub(crate) unsafe fn $store(table: *const usize, addr: u32, value: u64) -> bool {
            const N: usize = std::mem::size_of::<$ty>();
            // SAFETY: addr / PAGE_SIZE < 2^20 = table length.
            let e = unsafe { *table.add((addr / PAGE_SIZE) as usize) };
            let off = addr as usize & PAGE_MASK;
            if e & F_WRITE != 0 && off <= PAGE_SIZE as usize - N {
                // SAFETY: F_WRITE pages are backed by an owned PAGE_SIZE buffer (never the
                // zero page) and off + N <= PAGE_SIZE.
                unsafe {
                    ptr::write_unaligned(
                        ((e & !PAGE_MASK) + off) as *mut $ty,
                        (value as $ty).to_le(),
                    )
                };
                true
            } else {
                false
            }
        }
    };
}

/// Inlined guest access fast paths used by the interpreter.
pub(crate) mod fast {
    use super::*;
    guest_access!(load_u8, store_u8, u8);
    guest_access!(load_u16, store_u16, u16);
    guest_access!(load_u32, store_u32, u32);
    guest_access!(load_u64, store_u64, u64);
}

impl Memory {
    #[cfg(test)]
    fn load_u8(&self, addr: u32) -> Result<u64, u32> {
        // SAFETY: own table, shared borrow.
        unsafe { fast::load_u8(self.table_ptr(), addr) }.map_or_else(|| self.load_slow(addr, 1), Ok)
    }
    #[cfg(test)]
    fn load_u16(&self, addr: u32) -> Result<u64, u32> {
        // SAFETY: as above.
        unsafe { fast::load_u16(self.table_ptr(), addr) }
            .map_or_else(|| self.load_slow(addr, 2), Ok)
    }
    #[cfg(test)]
    fn load_u32(&self, addr: u32) -> Result<u64, u32> {
        // SAFETY: as above.
        unsafe { fast::load_u32(self.table_ptr(), addr) }
            .map_or_else(|| self.load_slow(addr, 4), Ok)
    }
    #[cfg(test)]
    fn load_u64(&self, addr: u32) -> Result<u64, u32> {
        // SAFETY: as above.
        unsafe { fast::load_u64(self.table_ptr(), addr) }
            .map_or_else(|| self.load_slow(addr, 8), Ok)
    }
    #[cfg(test)]
    fn store_u32(&mut self, addr: u32, v: u64) -> Result<(), u32> {
        // SAFETY: own table, exclusive borrow.
        if unsafe { fast::store_u32(self.table_ptr(), addr, v) } {
            Ok(())
        } else {
            self.store_slow(addr, 4, v)
        }
    }
    #[cfg(test)]
    fn store_u64(&mut self, addr: u32, v: u64) -> Result<(), u32> {
        // SAFETY: own table, exclusive borrow.
        if unsafe { fast::store_u64(self.table_ptr(), addr, v) } {
            Ok(())
        } else {
            self.store_slow(addr, 8, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_read_write() {
        let mut m = Memory::new();
        assert_eq!(m.read(0x20000, &mut [0u8; 1]), Err(0x20000));
        m.map(0x20000, 0x1000, Access::ReadWrite);
        m.map(0x21000, 0x1000, Access::ReadOnly);
        assert_eq!(m.load_u32(0x20ffe), Ok(0));
        assert_eq!(m.store_u32(0x20ffe, 1), Err(0x21000));
        assert_eq!(m.load_u8(0x22000), Err(0x22000));
        assert_eq!(m.load_u8(0x100), Err(0x100));
        m.write_init(0x21000, &[1, 2, 3]).unwrap();
        assert_eq!(m.load_u16(0x21001), Ok(0x0302));
        m.store_u64(0x20ff8, u64::MAX).unwrap();
        assert_eq!(m.load_u64(0x20ffc), Ok(0x0003_0201_ffff_ffff));
        let c = m.clone();
        assert_eq!(c.load_u8(0x21002), Ok(3));
        m.unmap(0x21000, 1);
        assert!(!m.is_readable(0x21000, 1));
        m.map(0x21000, 1, Access::ReadWrite);
        assert_eq!(m.load_u8(0x21002), Ok(0));
    }
}
