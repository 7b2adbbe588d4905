//! JAM consensus: the state-transition function of the Gray Paper v0.7.2.
//!
//! One module per GP section; each is a pure function of (state components, input)
//! returning the posterior components and output, or a typed error with the state untouched.

pub mod accumulate;
pub mod assurances;
pub mod author;
pub mod authorizations;
pub mod bandersnatch;
pub mod bandersnatch_prover;
pub mod crypto;
pub mod disputes;
pub mod general;
pub mod genesis;
pub mod history;
pub mod import;
pub mod preimages;
pub mod refine;
pub mod reports;
pub mod safrole;
pub mod statistics;
#[cfg(test)]
mod test_vm;
pub mod validator_keys;
