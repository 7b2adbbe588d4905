//! JAM state: data model and codec (GP Appendix C), chain parameters, hashing, Merklization, erasure coding, shuffle.
pub mod codec;
pub mod erasure;
pub mod hash;
pub mod keys;
pub mod merkle;
pub mod params;
pub mod shuffle;
pub mod state;
pub mod store;
pub mod trace;
pub mod types;
