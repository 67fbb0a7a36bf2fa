//! Interruptions of `--execute`: SIGINT, SIGTERM and SIGHUP (a closed ssh
//! session), the Rust half of the script's `lxops_on_signal` trap. A signal
//! is recorded, not obeyed at once: it is forwarded to the command that
//! runs and that command is waited for, the step fails, the undo and the
//! cleanup run (a signal during them is reported and the undo goes on), and
//! lxops exits 128 + the signal's number, as the script does.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

const WATCHED: [(i32, &str); 3] = [
    (signal_hook::consts::SIGINT, "INT"),
    (signal_hook::consts::SIGTERM, "TERM"),
    (signal_hook::consts::SIGHUP, "HUP"),
];

type Flag = (i32, &'static str, Arc<AtomicBool>);

static FLAGS: OnceLock<Vec<Flag>> = OnceLock::new();
/// The first signal that interrupted the run (0: none).
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// Starts recording the signals (once per process; a run's plan calls it).
pub fn install() {
    FLAGS.get_or_init(|| {
        WATCHED
            .iter()
            .map(|(n, name)| {
                let f = Arc::new(AtomicBool::new(false));
                // Registering can only fail for signals that cannot be caught.
                let _ = signal_hook::flag::register(*n, f.clone());
                (*n, *name, f)
            })
            .collect()
    });
}

/// A signal received since the last call, as (number, name without SIG).
pub fn take() -> Option<(i32, &'static str)> {
    FLAGS.get()?.iter().find(|(_, _, f)| f.swap(false, Ordering::SeqCst)).map(|(n, name, _)| (*n, *name))
}

/// Records the signal that interrupts the run.
pub fn note(n: i32) {
    let _ = INTERRUPTED.compare_exchange(0, n, Ordering::SeqCst, Ordering::SeqCst);
}

/// The signal that interrupted the run, if one did.
pub fn interrupted() -> Option<i32> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        n => Some(n),
    }
}

/// The name of a watched signal, without SIG.
pub fn name(n: i32) -> &'static str {
    WATCHED.iter().find(|(m, _)| *m == n).map(|(_, name)| *name).unwrap_or("?")
}

/// Sends signal `n` to the process `pid` (a command lxops started).
pub fn forward(pid: u32, n: i32) {
    use nix::sys::signal::{Signal, kill};
    if let (Ok(sig), Ok(pid)) = (Signal::try_from(n), i32::try_from(pid)) {
        let _ = kill(nix::unistd::Pid::from_raw(pid), sig);
    }
}
