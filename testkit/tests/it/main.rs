//! Integration tests of the real-OVN harness (one binary; modules only).

mod child;
mod cleanup;
mod full_stack;
mod parallel;
mod requirements;
mod single_server;
mod swap;
