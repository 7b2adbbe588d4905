//! JAM consensus: the state-transition function of the Gray Paper v0.7.2.
