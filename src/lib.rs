//! revlint: a static linter for Alembic migrations and the files that deploy them.
//!
//! Stages: [`discover`] finds projects and reads files into a [`source::FileDb`];
//! [`parse`] knows syntax; [`model`] knows meaning; [`graph`] knows topology; [`rules`]
//! knows policy; [`report`] renders. [`app::lint`] runs them in order.

#![forbid(unsafe_code)]

pub mod app;
pub mod baseline;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod diffbase;
pub mod discover;
pub mod docs;
pub mod fix;
pub mod graph;
pub mod model;
pub mod parse;
pub mod report;
pub mod rules;
pub mod source;
pub mod suppress;

pub use app::{lint, LintOptions, LintResult};
