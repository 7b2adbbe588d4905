//! RocksDB [`KeyValueDb`]: one column family per [`Column`], each batch one `WriteBatch`.
//!
//! Links the system's librocksdb (see `.cargo/config.toml`). Writes go through the write-ahead
//! log, which RocksDB replays on open, so a batch is recovered whole or not at all after a
//! crash. Without [`RocksOptions::sync_writes`] the log is not fsynced per batch: a killed
//! process loses nothing it committed, a power loss may lose the last few blocks (never
//! leaving a partial one).

use super::{Batch, Column, KeyValueDb, StoreError, TrieStore};
use rocksdb::{
    BlockBasedOptions, ColumnFamily, ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch,
    WriteOptions, DB,
};
use std::path::Path;

impl From<rocksdb::Error> for StoreError {
    fn from(e: rocksdb::Error) -> Self {
        StoreError::io(e)
    }
}

/// Options of [`RocksStore::open_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RocksOptions {
    /// fsync the write-ahead log on every commit (survive power loss, not only a crash).
    pub sync_writes: bool,
}

/// A RocksDB database with the store's column families.
pub struct RocksDb {
    db: DB,
    sync_writes: bool,
}

impl RocksDb {
    /// Opens (creating if missing) the database at `path`.
    pub fn open(path: &Path, options: RocksOptions) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = Column::ALL.map(|col| {
            let mut cf = Options::default();
            if matches!(col, Column::Nodes | Column::Values) {
                // Point lookups by hash, many of them for keys that are absent (new nodes).
                let mut table = BlockBasedOptions::default();
                table.set_bloom_filter(10.0, false);
                cf.set_block_based_table_factory(&table);
            }
            ColumnFamilyDescriptor::new(col.name(), cf)
        });
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(RocksDb {
            db,
            sync_writes: options.sync_writes,
        })
    }

    fn cf(&self, col: Column) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(col.name())
            .ok_or_else(|| StoreError::Corruption(format!("column family {} missing", col.name())))
    }
}

impl KeyValueDb for RocksDb {
    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(col)?, key)?)
    }

    fn contains(&self, col: Column, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.db.get_pinned_cf(self.cf(col)?, key)?.is_some())
    }

    fn write(&self, batch: Batch) -> Result<(), StoreError> {
        let mut wb = WriteBatch::default();
        for (col, k, v) in &batch.puts {
            wb.put_cf(self.cf(*col)?, k, v);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync_writes);
        Ok(self.db.write_opt(wb, &wo)?)
    }

    fn count(&self, col: Column) -> Result<usize, StoreError> {
        let mut n = 0;
        for item in self.db.iterator_cf(self.cf(col)?, IteratorMode::Start) {
            item?;
            n += 1;
        }
        Ok(n)
    }
}

/// The state store in RocksDB.
pub type RocksStore = TrieStore<RocksDb>;

impl TrieStore<RocksDb> {
    /// Opens (creating if missing) the store at `path`, resuming at its best block.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, RocksOptions::default())
    }

    /// [`RocksStore::open`] with options.
    pub fn open_with(path: impl AsRef<Path>, options: RocksOptions) -> Result<Self, StoreError> {
        TrieStore::with_db(RocksDb::open(path.as_ref(), options)?)
    }
}
