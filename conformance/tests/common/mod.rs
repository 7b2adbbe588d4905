//! Helpers shared by the STF integration tests.

pub mod traces;
