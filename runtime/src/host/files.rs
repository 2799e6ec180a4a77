//! The host's files as the program embedding Caxton lends them: the library
//! opens no file by itself. A component file (`plugin("my.wasm")`) and a
//! tenant's data dir reach it through the [`HostFiles`] of the engine's
//! options. The default, [`NoFiles`], refuses both; `caxton-run` passes
//! [`AmbientFiles`], which needs cap-std's `ambient_authority()` to be
//! made, so a grant of the process's own file access is visible where it
//! is given.

use std::io;
use std::path::{Path, PathBuf};

/// What the library may do with the host's files.
pub trait HostFiles: Send + Sync + std::fmt::Debug {
    /// The bytes of the component file at `path`.
    fn component(&self, path: &str) -> io::Result<Vec<u8>>;
    /// `path` made ready as a tenant's data dir: created if missing, and
    /// absolute (agents spawned later see the same directory whatever the
    /// working directory is then).
    fn data_dir(&self, path: &Path) -> io::Result<PathBuf>;
}

/// No files at all: component files and data dirs are refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFiles;

impl NoFiles {
    fn refuse(what: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "this node was given no host files, so no {what} (the program embedding Caxton passes them in its EngineOptions)"
            ),
        )
    }
}

impl HostFiles for NoFiles {
    fn component(&self, _path: &str) -> io::Result<Vec<u8>> {
        Err(NoFiles::refuse("component files"))
    }

    fn data_dir(&self, _path: &Path) -> io::Result<PathBuf> {
        Err(NoFiles::refuse("data dirs"))
    }
}

/// The process's own file access, for `caxton-run` (and tests): the user
/// who started it may name any file they can read.
#[derive(Debug, Clone, Copy)]
pub struct AmbientFiles(());

impl AmbientFiles {
    /// Lends the process's file access to the library.
    pub fn new(_: cap_std::AmbientAuthority) -> Self {
        AmbientFiles(())
    }
}

impl HostFiles for AmbientFiles {
    fn component(&self, path: &str) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn data_dir(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::create_dir_all(path)?;
        std::fs::canonicalize(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_files_refuses_and_says_why() {
        let err = NoFiles.component("/etc/passwd").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("given no host files"), "{err}");
        assert!(NoFiles.data_dir(Path::new("/tmp")).is_err());
    }
}
