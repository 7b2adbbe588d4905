//! JAM PVM: the Polkadot Virtual Machine of Gray Paper v0.7.2, Appendix A.
