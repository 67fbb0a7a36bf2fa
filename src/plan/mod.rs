//! Compiling commands into plans.
//!
//! One function per command builds its units from resolved instances:
//! [`lifecycle`] (launch, configure, delete, destroy, create-*), [`devices`]
//! (filesystems and device directories), [`rebuild`] and [`rename`]. Server
//! commands come only from [`backend`], host commands only from [`host`];
//! the [`builder`] names run-time values and collects facts (read once per
//! project), checks and steps. Decisions that need the host are left to
//! guards and checks.

pub mod backend;
pub mod builder;
pub mod cluster;
pub mod data;
pub mod devices;
pub mod host;
pub mod images;
pub mod lifecycle;
pub mod model;
pub mod profiles;
pub mod rebuild;
pub mod rename;

pub use builder::{Builder, Settings, origin};
