//! Syntax only: each parser turns text into plain data with byte spans.

pub mod ini;
pub mod python;
pub mod sql;
