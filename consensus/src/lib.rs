//! JAM consensus: the state-transition function of the Gray Paper v0.7.2.
//!
//! One module per GP section; each is a pure function of (state components, input)
//! returning the posterior components and output, or a typed error with the state untouched.

pub mod bandersnatch;
pub mod crypto;
pub mod safrole;
pub mod disputes;
pub mod reports;
pub mod assurances;
pub mod preimages;
pub mod history;
pub mod statistics;
pub mod authorizations;
pub mod import;
pub mod accumulate;
pub mod bandersnatch_prover;
pub mod validator_keys;
pub mod author;
pub mod genesis;
