//! The one integration-test binary.
//!
//! - `fixtures`: the fast tier. Every folder in `fixtures/` is a case; its
//!   `cmd` file lists lxops command lines, and their outputs together make
//!   one insta snapshot in `snapshots/`.
//! - `equivalence`, `hostile`, `regressions`, `runtimes`: the script and
//!   `--execute` agree, on fixtures, generated hostile inputs, the nine
//!   review cases and the parsers' generated inputs.
//! - `cli`: completions (sourced in bash), man pages, --version, exit statuses, usage errors.
//! - `calls`: the server calls each command makes, counted and snapshotted.
//! - `schema`, `tidy`: the JSON contract and the architecture's invariants.
//! - `shiftids`: the native owner shift and the plans' shell routine agree.
//! - `fuzz`: mutated configs, includes, cloud-config and properties files
//!   compile without a panic or a hang.
//! - `inputs`: special files, oversized files and compressed bombs are
//!   refused with exit status 2, never a hang or an abort.
//! - `clustered`: the cluster tier against a real three-member Incus cluster
//!   brought up by `ci/cluster-up.sh`; like `real`, it fails when the
//!   cluster is down and the fast-tier command leaves it out by name.
//! - `real`: the real tier against a running LXD or Incus with zfs-fuse,
//!   brought up by `ci/bench-up.sh`. These tests fail, never skip, when the
//!   bench is down; the fast-tier command leaves them out by name.

mod calls;
mod cli;
mod clustered;
mod equivalence;
mod fixtures;
mod fuzz;
mod hostile;
mod inputs;
mod real;
mod regressions;
mod runtimes;
mod schema;
mod shiftids;
mod tidy;
