//! Fuzzing oracles (stub: to be written).
