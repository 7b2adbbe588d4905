//! Benchmarks of the node (see benches/ and src/bin).
