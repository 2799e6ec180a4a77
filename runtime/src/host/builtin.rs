//! The plugins built from `plugins/` and embedded at build time (see
//! `runtime/build.rs`), so `plugin("echo")` needs no file.

include!(concat!(env!("OUT_DIR"), "/embedded_plugins.rs"));

/// The component bytes of the built-in plugin `name`.
pub fn bytes(name: &str) -> Option<&'static [u8]> {
    EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// The names of all built-in plugins.
pub fn names() -> impl Iterator<Item = &'static str> {
    EMBEDDED.iter().map(|(n, _)| *n)
}
