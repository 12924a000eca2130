//! Syntax only: each parser turns text into plain data with byte spans.

pub mod ini;
pub mod python;
pub mod shell;
pub mod sql;
pub mod yaml;
