//! JAM state: data model and codec (GP Appendix C), chain parameters, hashing, Merklization, erasure coding, shuffle.
