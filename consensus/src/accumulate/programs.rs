//! A bounded cache of decoded service code, owned by the caller (via [`super::AccumulateConfig`])
//! and shared across blocks: every accumulate invocation would otherwise decode the whole
//! service code blob again (profiled: ~60% of `standard_init` for a ~137 KiB service).

use jam_pvm::{ProgramError, StandardProgram};
use jam_state::types::OpaqueHash;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A decoded standard program together with the exact code blob it was decoded from.
#[derive(Debug)]
pub struct CachedProgram {
    code: Vec<u8>,
    decoded: Result<StandardProgram, ProgramError>,
}

impl CachedProgram {
    /// The decoded program, or why the blob is not a valid standard program.
    pub fn decoded(&self) -> Result<&StandardProgram, &ProgramError> {
        self.decoded.as_ref()
    }
}

/// Decoded programs keyed by code hash, at most `capacity` of them.
///
/// An entry is only used when its stored blob equals the code being run, so a lookup returns
/// exactly what decoding the code would (even for a state whose preimage does not hash to
/// the code hash). When full, an arbitrary entry is evicted.
pub struct ProgramCache {
    capacity: usize,
    entries: Mutex<HashMap<OpaqueHash, Arc<CachedProgram>>>,
}

impl std::fmt::Debug for ProgramCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("ProgramCache")
            .field("capacity", &self.capacity)
            .field("len", &len)
            .finish()
    }
}

impl Default for ProgramCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl ProgramCache {
    /// Default number of programs kept.
    pub const DEFAULT_CAPACITY: usize = 32;

    /// An empty cache keeping at most `capacity` programs (0: nothing is cached).
    pub fn new(capacity: usize) -> Self {
        ProgramCache {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The decoded form of `code`, whose hash is `code_hash`.
    pub fn get(&self, code_hash: &OpaqueHash, code: &[u8]) -> Arc<CachedProgram> {
        if let Some(hit) = self.lookup(code_hash, code) {
            return hit;
        }
        let entry = Arc::new(CachedProgram {
            code: code.to_vec(),
            decoded: StandardProgram::new(code),
        });
        if self.capacity > 0 {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if entries.len() >= self.capacity && !entries.contains_key(code_hash) {
                if let Some(victim) = entries.keys().next().copied() {
                    entries.remove(&victim);
                }
            }
            entries.insert(*code_hash, entry.clone());
        }
        entry
    }

    fn lookup(&self, code_hash: &OpaqueHash, code: &[u8]) -> Option<Arc<CachedProgram>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(code_hash).filter(|e| e.code == code).cloned()
    }

    /// How many programs are cached.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_bounded_and_checks_the_blob() {
        let cache = ProgramCache::new(2);
        let h = |i: u8| OpaqueHash([i; 32]);
        let a = cache.get(&h(1), b"not a program");
        assert!(a.decoded().is_err());
        assert!(Arc::ptr_eq(&a, &cache.get(&h(1), b"not a program")));
        // Same hash, different blob: decoded afresh, never the stale entry.
        let b = cache.get(&h(1), b"other");
        assert!(!Arc::ptr_eq(&a, &b));
        cache.get(&h(2), b"x");
        cache.get(&h(3), b"y");
        assert_eq!(cache.len(), 2);
    }
}
