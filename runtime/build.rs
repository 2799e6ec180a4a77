//! Builds the agent plugins in `plugins/` for `wasm32-wasip2` and tells the
//! crate where they are, so `caxton-run` embeds them and `plugin("echo")`
//! works from a single binary with no extra build step.
//!
//! The plugins are their own workspace with their own target dir
//! (`plugins/target`), shared by every profile of the host build (debug,
//! release, clippy), so they are compiled once, not once per profile.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The plugins embedded in `caxton-run`: crate name = plugin name. The
/// plugins workspace also builds test fixtures (`not-an-agent`), which
/// tests read from `CAXTON_PLUGIN_DIR` and the binary does not carry.
const PLUGINS: &[&str] = &[
    "echo", "counter", "compute", "hog", "crasher", "relay", "streamer", "hostile",
];
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap();
    let plugins = root.join("plugins");
    // Watch the plugin sources, not `plugins/target` (that would rerun always).
    println!(
        "cargo:rerun-if-changed={}",
        plugins.join("Cargo.toml").display()
    );
    for entry in std::fs::read_dir(&plugins).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != "target") {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-env-changed=CAXTON_SKIP_PLUGIN_BUILD");

    ensure_target();
    let target_dir = plugins.join("target");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&plugins)
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's wrappers and flags are for the host, not for guests.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    if env::var_os("CAXTON_SKIP_PLUGIN_BUILD").is_none() {
        let status = cmd.status().expect("failed to run cargo for the plugins");
        assert!(
            status.success(),
            "building the plugins in {} for {TARGET} failed (see the errors above)",
            plugins.display()
        );
    }

    let out = target_dir.join(TARGET).join("release");
    let mut table =
        String::from("/// The plugins embedded at build time: (name, component bytes).\n");
    table.push_str("pub(crate) const EMBEDDED: &[(&str, &[u8])] = &[\n");
    for name in PLUGINS {
        let wasm = out.join(format!("{name}.wasm"));
        assert!(
            wasm.exists(),
            "plugin {name} was not built: {} is missing",
            wasm.display()
        );
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            wasm.display().to_string()
        ));
    }
    table.push_str("];\n");
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap()).join("embedded_plugins.rs");
    std::fs::write(dest, table).unwrap();
    println!("cargo:rustc-env=CAXTON_PLUGIN_DIR={}", out.display());
}

/// Adds the wasm32-wasip2 target through rustup when the toolchain lacks it,
/// so a fresh machine needs no manual `rustup target add`.
fn ensure_target() {
    let sysroot = Command::new(env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim()));
    let installed = sysroot.as_deref().map(has_target).unwrap_or(true);
    if !installed {
        let toolchain = env::var("RUSTUP_TOOLCHAIN").ok();
        let mut cmd = Command::new("rustup");
        cmd.args(["target", "add", TARGET]);
        if let Some(toolchain) = toolchain {
            cmd.args(["--toolchain", &toolchain]);
        }
        let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
        assert!(
            ok,
            "the {TARGET} target is missing; run `rustup target add {TARGET}`"
        );
    }
}

fn has_target(sysroot: &Path) -> bool {
    sysroot.join("lib/rustlib").join(TARGET).exists()
}
