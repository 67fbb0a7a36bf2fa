//! The cloud-config subset lxops applies without cloud-init in the guest.
//!
//! `parse` reads files into typed modules; guest operations per ostype are
//! built from them by later stages.

pub mod ostype;
pub mod parse;

pub use parse::{CloudConfig, read as read_file};
