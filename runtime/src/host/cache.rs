//! Compiled components on disk, keyed by the component's SHA-256 and the
//! engine's compatibility hash, so a second start skips compilation and a
//! different wasmtime or configuration never loads a stale artifact.

#![allow(unsafe_code)]

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled artifacts are kept (or nowhere).
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled now by Cranelift.
    Compiled,
    /// Loaded from the on-disk cache.
    Cached,
}

impl ComponentCache {
    /// A cache in `dir`, created on first write; `None` disables caching.
    pub fn new(dir: Option<PathBuf>) -> Self {
        ComponentCache { dir }
    }

    /// Compiles `bytes`, or loads the artifact compiled earlier.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<(Component, Origin)> {
        self.load_with(engine, bytes, |engine, bytes| Component::new(engine, bytes))
    }

    /// Like [`ComponentCache::load`], compiling with `compile` when the
    /// cache does not have the artifact (an upload's compiler has a budget).
    pub fn load_with(
        &self,
        engine: &Engine,
        bytes: &[u8],
        compile: impl FnOnce(&Engine, &[u8]) -> wasmtime::Result<Component>,
    ) -> wasmtime::Result<(Component, Origin)> {
        let Some(dir) = &self.dir else {
            return Ok((compile(engine, bytes)?, Origin::Compiled));
        };
        let path = dir.join(key(engine, bytes));
        // Read into memory rather than mmap the file: a cache file truncated
        // or rewritten by another process must not crash this one (SIGBUS).
        if let Ok(artifact) = std::fs::read(&path) {
            // SAFETY: the file was written by `serialize` below, into a cache
            // dir owned by this user, under a name that pins the component's
            // content hash and the engine's compatibility hash. wasmtime
            // additionally checks the artifact's header and version.
            match unsafe { Component::deserialize(engine, &artifact) } {
                Ok(component) => return Ok((component, Origin::Cached)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable cache entry: {e:#}");
                }
            }
        }
        let component = compile(engine, bytes)?;
        if let Err(e) = store(dir, &path, &component) {
            tracing::warn!(dir = %dir.display(), "cannot write the component cache: {e}");
        }
        Ok((component, Origin::Compiled))
    }
}

fn key(engine: &Engine, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{hex}-{:016x}.cwasm", hasher.finish())
}

/// Writes atomically (temp file + rename) so a crash never leaves half a file.
fn store(dir: &PathBuf, path: &PathBuf, component: &Component) -> std::io::Result<()> {
    let bytes = component
        .serialize()
        .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}
