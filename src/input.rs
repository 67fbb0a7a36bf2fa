//! The one way lxops reads an input file (a config, an include, a
//! cloud-config file, a properties file, a profile to import): only a
//! regular file (a FIFO would block forever, `/dev/zero` would never end),
//! at most [`MAX_INPUT`] bytes, read without following it past the limit.
//! The error says which of these went wrong, never what the file holds.

use std::io::Read;
use std::path::Path;

/// The largest input file: far above any config, small enough to refuse a
/// device or a runaway file before memory runs out.
pub const MAX_INPUT: u64 = 16 << 20;

/// Why an input file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    Missing,
    /// Not a regular file: what it is.
    NotAFile(&'static str),
    TooLarge,
    NotUtf8,
    Io(String),
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::Missing => f.write_str("no such file"),
            InputError::NotAFile(what) => write!(f, "not a regular file but {what}"),
            InputError::TooLarge => write!(f, "larger than {} MiB", MAX_INPUT >> 20),
            InputError::NotUtf8 => f.write_str("not UTF-8 text"),
            InputError::Io(e) => f.write_str(e),
        }
    }
}

fn kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// The bytes of a regular file of at most [`MAX_INPUT`] bytes.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => InputError::Missing,
        _ => InputError::Io(e.to_string()),
    })?;
    if !meta.is_file() {
        return Err(InputError::NotAFile(kind(meta.file_type())));
    }
    if meta.len() > MAX_INPUT {
        return Err(InputError::TooLarge);
    }
    let f = std::fs::File::open(path).map_err(|e| InputError::Io(e.to_string()))?;
    let mut out = Vec::with_capacity(meta.len() as usize);
    // The file may have grown since: never read past the limit.
    f.take(MAX_INPUT + 1).read_to_end(&mut out).map_err(|e| InputError::Io(e.to_string()))?;
    if out.len() as u64 > MAX_INPUT {
        return Err(InputError::TooLarge);
    }
    Ok(out)
}

/// The text of a regular UTF-8 file of at most [`MAX_INPUT`] bytes.
pub fn read_text(path: &Path) -> Result<String, InputError> {
    String::from_utf8(read_bytes(path)?).map_err(|_| InputError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bounded_regular_files() {
        assert_eq!(read_text(Path::new("/nonexistent/x")), Err(InputError::Missing));
        assert_eq!(read_text(Path::new("/")), Err(InputError::NotAFile("a directory")));
        assert_eq!(read_text(Path::new("/dev/zero")), Err(InputError::NotAFile("a character device")));
        assert!(read_text(Path::new("Cargo.toml")).is_ok());
    }
}
