//! Integration tests of the `ovsdb` crate (one test binary).

mod bench_compare;
mod corpus;
mod corpus_nb;
mod file_records;
mod oracle;
mod random;
mod robustness;
