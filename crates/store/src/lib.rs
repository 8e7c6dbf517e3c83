//! store (being written). See ARCHITECTURE.md.
pub mod plan;
pub mod schedule;
