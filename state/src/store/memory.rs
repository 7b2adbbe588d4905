//! In-memory [`KeyValueDb`] for tests: one map per column behind a lock, so a batch is atomic.

use super::{Batch, Column, KeyValueDb, StoreError, TrieStore};
use std::collections::HashMap;
use std::sync::RwLock;

/// Column maps held in memory.
#[derive(Default)]
pub struct MemoryDb {
    cols: RwLock<[HashMap<Vec<u8>, Vec<u8>>; 5]>,
}

impl MemoryDb {
    pub fn new() -> Self {
        Self::default()
    }
}

impl KeyValueDb for MemoryDb {
    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let cols = self.cols.read().unwrap_or_else(|e| e.into_inner());
        Ok(cols[col.index()].get(key).cloned())
    }

    fn contains(&self, col: Column, key: &[u8]) -> Result<bool, StoreError> {
        let cols = self.cols.read().unwrap_or_else(|e| e.into_inner());
        Ok(cols[col.index()].contains_key(key))
    }

    fn write(&self, batch: Batch) -> Result<(), StoreError> {
        let mut cols = self.cols.write().unwrap_or_else(|e| e.into_inner());
        for (col, k, v) in batch.puts {
            cols[col.index()].insert(k, v);
        }
        Ok(())
    }

    fn count(&self, col: Column) -> Result<usize, StoreError> {
        let cols = self.cols.read().unwrap_or_else(|e| e.into_inner());
        Ok(cols[col.index()].len())
    }
}

/// The state store held in memory.
pub type MemoryStore = TrieStore<MemoryDb>;

impl TrieStore<MemoryDb> {
    /// An empty in-memory store.
    pub fn new() -> Self {
        TrieStore::with_db(MemoryDb::new()).expect("the in-memory database does not fail")
    }
}

impl Default for TrieStore<MemoryDb> {
    fn default() -> Self {
        Self::new()
    }
}
