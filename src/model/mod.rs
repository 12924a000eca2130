//! Meaning: what the parsed files say about the project.

pub mod command;
pub mod compose;
pub mod deploy;
pub mod dialect;
pub mod extension;
pub mod migration;
pub mod operation;
pub mod pin;
pub mod project;
pub mod script;
pub mod workflow;
