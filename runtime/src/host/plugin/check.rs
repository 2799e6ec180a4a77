//! Checking what a component is before it becomes a plugin: a component at
//! all (not random bytes, not a core module), one a pool slot holds, and
//! one of the `caxton:agent` world.

use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use super::{EXPORTS, PluginError};
use crate::host::engine::CaxtonEngine;

/// Why a component did not compile: too large for a pool slot, or not valid.
pub(super) fn classify(name: &str, e: &wasmtime::Error) -> PluginError {
    let why = format!("{e:#}");
    if why.contains("in the pooling allocator") {
        PluginError::ExceedsSlot {
            what: name.to_string(),
            why,
            cores: crate::host::engine::MAX_CORE_INSTANCES_PER_COMPONENT,
            tables: crate::host::engine::MAX_TABLES_PER_COMPONENT,
            memories: crate::host::engine::MAX_MEMORIES_PER_COMPONENT,
        }
    } else {
        PluginError::NotAComponent {
            what: name.to_string(),
            why: format!("it does not validate: {why}"),
        }
    }
}

/// Tells a core module or random bytes apart from a component, so the error
/// says what the file is and how to get a component from it.
pub(super) fn check_header(name: &str, bytes: &[u8]) -> Result<(), PluginError> {
    let fail = |why: &str| {
        Err(PluginError::NotAComponent {
            what: name.to_string(),
            why: why.to_string(),
        })
    };
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return fail(
            "the file does not start with the WebAssembly magic bytes. Build your plugin with \
             `cargo build --release --target wasm32-wasip2` and load target/wasm32-wasip2/release/<name>.wasm",
        );
    }
    match bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => fail(
            "it is a core WebAssembly module, not a component. Build for the wasm32-wasip2 target \
             (which emits components), or wrap it with `wasm-tools component new`",
        ),
        _ => fail("it has an unknown WebAssembly version or layer"),
    }
}

/// Names the first import the node does not provide or the first export missing.
pub(super) fn check_world(
    engine: &CaxtonEngine,
    name: &str,
    component: &Component,
) -> Result<(), PluginError> {
    let ty = component.component_type();
    let mismatch = |why: String| PluginError::WorldMismatch {
        what: name.to_string(),
        why,
    };
    for (import, _) in ty.imports(&engine.engine) {
        let known = import.starts_with("caxton:agent/") || import.starts_with("wasi:");
        if !known {
            return Err(mismatch(format!(
                "it imports `{import}`, which a Caxton node does not provide (only caxton:agent/host and WASI)"
            )));
        }
    }
    for export in EXPORTS {
        match ty.get_export(&engine.engine, export).map(|e| e.ty) {
            Some(ComponentItem::ComponentFunc(_)) => {}
            Some(_) => return Err(mismatch(format!("its export `{export}` is not a function"))),
            None => {
                return Err(mismatch(format!(
                    "it does not export the function `{export}`"
                )));
            }
        }
    }
    Ok(())
}
