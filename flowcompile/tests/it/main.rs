//! Integration tests for flowcompile (one binary).

mod exhaustive;
mod golden;
mod real;
mod roundtrip;
