//! Meaning: what the parsed files say about the project.

pub mod migration;
pub mod project;
