//! Rules across application code and deploy files.

pub mod create_all_with_migrations;
pub mod migrations_at_app_startup;
