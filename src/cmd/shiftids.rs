//! `lxops shiftids`: the native half of the owner shift that extract
//! applies to template directories (the plan runs the shell half,
//! `plan::host::shift_ids`, so a script needs no lxops on the host; a test
//! checks that both leave a tree in the same state).
//!
//! Each tree is walked without following symbolic links (the directory
//! named on the command line included). An id below its offset gets the
//! offset added; a link's own owner is changed with `lchown` (unlike the
//! original, which left links alone: a link in a sticky directory is only
//! followed for its owner), its target never. `chown` clears the
//! set-user-ID and set-group-ID bits, so a mode with special bits is set
//! again. The first error stops the command.

use crate::cli::ShiftidsArgs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

pub fn run(a: &ShiftidsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    for dir in &a.dirs {
        shift_tree(dir, a.uid, a.gid, if a.verbose { Some(&mut *out) } else { None })?;
    }
    Ok(())
}

/// The new id: `id + offset` when `id` is below `offset`.
fn shifted(id: u32, offset: u32) -> anyhow::Result<u32> {
    if id >= offset {
        return Ok(id);
    }
    id.checked_add(offset).ok_or_else(|| anyhow::anyhow!("id {id} + {offset} is out of range"))
}

/// Shifts one tree; with `verbose`, prints `chown UID:GID PATH` for each
/// change (`-1`: that id is unchanged).
pub fn shift_tree(dir: &Path, uid: u32, gid: u32, mut verbose: Option<&mut dyn Write>) -> anyhow::Result<()> {
    for entry in walkdir::WalkDir::new(dir).follow_links(false).follow_root_links(false) {
        let entry = entry?;
        let path = entry.path();
        let meta = entry.metadata()?;
        let (u, g) = (shifted(meta.uid(), uid)?, shifted(meta.gid(), gid)?);
        if (u, g) == (meta.uid(), meta.gid()) {
            continue;
        }
        if let Some(w) = verbose.as_deref_mut() {
            let show = |new: u32, old: u32| if new == old { "-1".to_string() } else { new.to_string() };
            writeln!(
                w,
                "chown {}:{} {}",
                show(u, meta.uid()),
                show(g, meta.gid()),
                crate::runtime::text::text(&path.to_string_lossy())
            )?;
        }
        std::os::unix::fs::lchown(path, Some(u), Some(g))
            .map_err(|e| anyhow::anyhow!("chown {}: {e}", path.display()))?;
        let mode = meta.mode() & 0o7777;
        if mode & 0o7000 != 0 && !meta.file_type().is_symlink() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| anyhow::anyhow!("chmod {}: {e}", path.display()))?;
        }
    }
    Ok(())
}
