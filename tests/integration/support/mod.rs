//! Shared helpers for integration tests. Include from a test file with `mod support;`.
//!
//! Each integration-test binary compiles this module separately and uses only part
//! of it, so unused helpers must not trip `clippy -D warnings`.
#![allow(dead_code)]

pub mod bake;
pub mod buildah;
pub mod corpus;
pub mod dockerfile_reader;
pub mod examples;
pub mod generate;
pub mod gha;
pub mod kdl;
pub mod lsp;
pub mod registry;
pub mod repo;
pub mod specgen;
pub mod validators;
