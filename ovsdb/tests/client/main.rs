//! Acceptance tests of the OVSDB client against real ovsdb-server 3.1 (standalone and a 3-member
//! Raft cluster) and against a scripted misbehaving server.

mod bad_server;
mod bench;
mod cluster;
mod harness;
mod model;
mod ours;
mod standalone;
