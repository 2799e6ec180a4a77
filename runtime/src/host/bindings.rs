//! Host-side bindings generated once from `wit/` (the same files the
//! plugins' SDK generates its guest side from).

#![allow(missing_docs, clippy::all, unused_qualifications)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "caxton:agent/agent",
    imports: { default: trappable },
    exports: { default: async },
});
