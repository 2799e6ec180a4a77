//! Loading components: the built-ins, files, and the errors a user hits.

use caxton::host::cache::Origin;
use caxton::host::{CaxtonEngine, EngineOptions, PluginError};

use super::util::{assert_answers, node, node_with};

/// Where the build put the plugin `.wasm` files (a build-tree path: the
/// library does not carry it).
const PLUGIN_DIR: &str = env!("CAXTON_PLUGIN_DIR");

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("caxton-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn an_unknown_name_lists_the_builtins() {
    let t = node();
    let err = t.node.plugin("ecko").unwrap_err();
    assert!(matches!(err, PluginError::Unknown { .. }));
    let text = err.to_string();
    assert!(text.contains("no plugin named `ecko`"), "{text}");
    assert!(
        text.contains("echo, counter, compute, hog, crasher"),
        "{text}"
    );
}

#[test]
fn a_missing_file_says_which_path() {
    let t = node();
    let err = t.node.plugin("no/such/agent.wasm").unwrap_err();
    assert!(matches!(err, PluginError::Read { .. }));
    assert!(err.to_string().contains("`no/such/agent.wasm`"), "{err}");
}

#[test]
fn a_file_that_is_not_wasm_is_rejected() {
    let dir = temp_dir("garbage");
    let path = dir.join("notes.wasm");
    std::fs::write(&path, b"these are not the bytes you are looking for").unwrap();
    let t = node();
    let err = t.node.plugin(path.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, PluginError::NotAComponent { .. }));
    assert!(err.to_string().contains("magic bytes"), "{err}");
}

#[test]
fn a_core_module_is_told_apart_from_a_component() {
    let dir = temp_dir("core");
    let path = dir.join("core.wasm");
    // The smallest valid core module: magic + version 1, no sections.
    std::fs::write(&path, b"\0asm\x01\0\0\0").unwrap();
    let t = node();
    let err = t.node.plugin(path.to_str().unwrap()).unwrap_err();
    assert!(
        err.to_string()
            .contains("core WebAssembly module, not a component"),
        "{err}"
    );
}

#[test]
fn a_truncated_component_is_rejected() {
    let bytes = caxton::host::builtin::bytes("echo").unwrap();
    let dir = temp_dir("truncated");
    let path = dir.join("half.wasm");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let t = node();
    let err = t.node.plugin(path.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, PluginError::NotAComponent { .. }), "{err}");
    assert!(err.to_string().contains("does not validate"), "{err}");
}

#[test]
fn a_component_of_another_world_names_what_is_missing() {
    let path = format!("{PLUGIN_DIR}/not-an-agent.wasm");
    let t = node();
    let err = t.node.plugin(&path).unwrap_err();
    assert!(matches!(err, PluginError::WorldMismatch { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("does not export the function `init`"),
        "{text}"
    );
    assert!(text.contains("plugins/echo"), "{text}");
}

#[test]
fn a_node_given_no_files_reads_none() {
    // The library opens no file by itself: a node whose embedder lent it
    // no files refuses a component file, and a tenant's data dir, by name.
    let t = node_with(EngineOptions {
        max_agents: 4,
        max_memory: 64 << 20,
        ..EngineOptions::default()
    });
    let err = t
        .node
        .plugin(&format!("{PLUGIN_DIR}/echo.wasm"))
        .unwrap_err();
    assert!(err.to_string().contains("given no host files"), "{err}");
    let dir = temp_dir("no-files");
    let tenant = caxton::core::tenant::Tenant {
        data_dir: Some(dir.join("acme")),
        ..Default::default()
    };
    let err = t.node.set_tenant("acme", tenant).unwrap_err();
    assert!(err.to_string().contains("given no host files"), "{err}");
    assert!(!dir.join("acme").exists());
    assert_answers(
        &t.node
            .spawn_blocking(&t.node.plugin("echo").unwrap(), Default::default())
            .unwrap(),
    );
}

#[test]
fn test_fixtures_are_not_built_in() {
    let builtins: Vec<_> = caxton::host::builtin::names().collect();
    assert!(builtins.contains(&"hostile"), "{builtins:?}");
    assert!(!builtins.contains(&"not-an-agent"), "{builtins:?}");
    // ...but the build made them, for tests.
    assert!(std::path::Path::new(&format!("{PLUGIN_DIR}/not-an-agent.wasm")).exists());
}

#[test]
fn a_component_file_loads_by_path() {
    let path = format!("{PLUGIN_DIR}/echo.wasm");
    let t = node();
    let plugin = t.node.plugin(&path).unwrap();
    let agent = t.node.spawn_blocking(&plugin, Default::default()).unwrap();
    assert!(agent.name().starts_with("echo-"), "{}", agent.name());
    assert_answers(&agent);
}

#[test]
fn the_second_start_loads_compiled_code_from_the_cache() {
    let dir = temp_dir("cache");
    let options = || EngineOptions {
        max_agents: 8,
        cache_dir: Some(dir.clone()),
        ..EngineOptions::default()
    };
    let first = node_with(options());
    assert_eq!(
        first.node.plugin("echo").unwrap().origin(),
        Origin::Compiled
    );
    // A fresh engine (a second process start) finds the artifact on disk.
    let second = node_with(options());
    let plugin = second.node.plugin("echo").unwrap();
    assert_eq!(plugin.origin(), Origin::Cached);
    let agent = second
        .node
        .spawn_blocking(&plugin, Default::default())
        .unwrap();
    assert_answers(&agent);
    // A corrupt entry is ignored and replaced, not trusted.
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::write(entry.unwrap().path(), b"junk").unwrap();
    }
    let third = CaxtonEngine::new(options()).unwrap();
    let plugin = caxton::host::Plugin::resolve(&third, "echo").unwrap();
    assert_eq!(plugin.origin(), Origin::Compiled);
}

/// Component loading from arbitrary bytes (issue: fuzzing). cargo-fuzz
/// needs a nightly toolchain this project does not pin, so proptest drives
/// the real loader: random bytes, and random edits of a real component.
/// Every input must load or fail with a typed error, never panic or abort.
mod fuzz_loading {
    use std::sync::OnceLock;

    use caxton::host::{CaxtonEngine, EngineOptions, Plugin, builtin};
    use proptest::prelude::*;

    fn engine() -> &'static CaxtonEngine {
        static ENGINE: OnceLock<CaxtonEngine> = OnceLock::new();
        ENGINE.get_or_init(|| {
            CaxtonEngine::new(EngineOptions {
                max_agents: 4,
                cache_dir: None,
                ..EngineOptions::default()
            })
            .unwrap()
        })
    }

    use crate::fuzz_scale::scaled;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(scaled(256)))]

        #[test]
        fn arbitrary_bytes_fail_cleanly(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            prop_assert!(Plugin::from_bytes(engine(), "fuzz", &data).is_err());
        }

        #[test]
        fn arbitrary_bytes_behind_a_wasm_header_fail_cleanly(
            data in proptest::collection::vec(any::<u8>(), 0..4096),
            component in any::<bool>(),
        ) {
            // The component (or core module) preamble gets past the header
            // check, so the validator and the compiler see the bytes.
            let mut bytes = if component {
                b"\0asm\x0d\0\x01\0".to_vec()
            } else {
                b"\0asm\x01\0\0\0".to_vec()
            };
            bytes.extend_from_slice(&data);
            prop_assert!(Plugin::from_bytes(engine(), "fuzz", &bytes).is_err());
        }
    }

    proptest! {
        // Each case may compile a whole component: fewer cases.
        #![proptest_config(ProptestConfig::with_cases(scaled(48)))]

        #[test]
        fn edited_real_components_load_or_fail_cleanly(
            edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..6),
            truncate in proptest::option::of(any::<proptest::sample::Index>()),
        ) {
            let mut bytes = builtin::bytes("echo").unwrap().to_vec();
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            if let Some(at) = truncate {
                bytes.truncate(at.index(bytes.len()));
            }
            // Either outcome is fine; a panic or an abort is not.
            let _ = Plugin::from_bytes(engine(), "mutant", &bytes);
        }
    }
}

#[test]
fn every_kernel_gives_the_same_checksum_in_wasm_and_natively() {
    // The premise of scripts/overhead.rhai: the compute plugin and the
    // host's twin run the same kernel to the same result, and so does the
    // component in plain wasmtime without epoch checks.
    let t = node();
    let compute = t
        .node
        .spawn_blocking(&t.node.plugin("compute").unwrap(), Default::default())
        .unwrap();
    let mut bare = caxton::host::raw::Uninterrupted::builtin(t.node.engine(), "compute").unwrap();
    for kernel in [
        "fib 1000",
        "sieve 10000",
        "matmul 12",
        "sha256 10000",
        "parse 1000",
        "nbody 1000",
    ] {
        let wasm = compute
            .request_blocking(kernel.as_bytes().to_vec(), super::util::TIMEOUT)
            .unwrap();
        let native = caxton_kernels::run(kernel).unwrap();
        assert_eq!(
            String::from_utf8(wasm).unwrap(),
            native.to_string(),
            "{kernel}"
        );
        let uninterrupted = bare.request(kernel.as_bytes().to_vec()).unwrap();
        assert_eq!(
            String::from_utf8(uninterrupted).unwrap(),
            native.to_string(),
            "{kernel} without epoch checks"
        );
    }
    // Only the host's own plugins run where nothing can stop them.
    let err = caxton::host::raw::Uninterrupted::builtin(t.node.engine(), "nope").unwrap_err();
    assert!(err.to_string().contains("not a built-in"), "{err}");
}

#[test]
fn the_kernels_compute_known_results() {
    // Independent references: SHA-256 of the kernel's byte stream
    // (byte i = (31 i) xor (i >> 7)) from Python's hashlib, first eight
    // digest bytes; n-body energies from the Benchmarks Game.
    assert_eq!(caxton_kernels::sha256(0), 16406829232824261652);
    assert_eq!(caxton_kernels::sha256(10_000), 5587319173230999978);
    assert_eq!(caxton_kernels::sha256(100_000), 10810980554250545539);
    let energy = |n| f64::from_bits(caxton_kernels::nbody(n));
    assert!((energy(0) + 0.169075164).abs() < 1e-9, "{}", energy(0));
    assert!(
        (energy(1000) + 0.169087605).abs() < 1e-9,
        "{}",
        energy(1000)
    );
    assert_eq!(caxton_kernels::run("parse 0"), Ok(0));
}
