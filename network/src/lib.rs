//! JAM networking: JAMNP-S over QUIC.
