//! Integration tests for flowcompile (one binary).

mod api;
mod conjuncts;
mod exhaustive;
mod golden;
mod limits;
mod real;
mod roundtrip;
