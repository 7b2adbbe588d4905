//! JAM state: data model and codec (GP Appendix C), chain parameters, hashing, Merklization, erasure coding, shuffle.
pub mod merkle;
pub mod erasure;
pub mod shuffle;
pub mod hash;
pub mod codec;
pub mod params;
pub mod types;
pub mod keys;
pub mod state;
pub mod trace;
pub mod store;
