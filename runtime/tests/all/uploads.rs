//! Tenants' components uploaded to a real `caxton-run serve` over QUIC:
//! compiled in the node's compiler process, cached by content, visible to
//! their tenant only, kept across a SIGKILL and restart, within quotas;
//! hostile uploads refused with a named reason while the node goes on.

use std::path::Path;
use std::process::Command;

use caxton::net::client::RemoteNode;

use super::served::Served;
use super::util::{TIMEOUT, node};

const TOKEN_A: &str = "tenant-a-0123456789";
const TOKEN_B: &str = "tenant-b-0123456789";

/// `serve` with tenants `a` and `b` (by token) and `args`.
fn serve(dir: &Path, args: &[&str]) -> Served {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("node.toml");
    std::fs::write(
        &config,
        format!("[tokens]\na = \"{TOKEN_A}\"\nb = \"{TOKEN_B}\"\n"),
    )
    .unwrap();
    let mut all: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--max-agents",
        "16",
        "--no-cache",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    all.extend(["--config".into(), config.display().to_string()]);
    all.extend(["--data-dir".into(), dir.join("data").display().to_string()]);
    all.extend(args.iter().map(|s| s.to_string()));
    Served::start(&all, &[])
}

fn connect(rt: &tokio::runtime::Handle, s: &Served, token: &str) -> RemoteNode {
    s.client(rt, token)
}

fn builtin(name: &str) -> &'static [u8] {
    caxton::host::builtin::bytes(name).unwrap()
}

#[test]
fn a_tenant_deploys_its_component_which_only_it_sees_and_which_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("caxton-uploads-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = node();
    let rt = t.node.runtime().clone();
    let served = serve(&dir, &["--max-upload", "1MiB", "--max-components", "2"]);
    let a = connect(&rt, &served, TOKEN_A);
    let b = connect(&rt, &served, TOKEN_B);
    let upload = |client: &RemoteNode, name: &str, bytes: &[u8]| {
        rt.block_on(client.upload(name, bytes, TIMEOUT))
            .map_err(|e| e.to_string())
    };

    // First upload: compiled by the node; the same bytes again: at once.
    let first = upload(&a, "my_echo", builtin("echo")).unwrap();
    assert!(first.compiled, "{first:?}");
    assert_eq!(first.size, builtin("echo").len() as u64);
    assert_eq!(first.hash.len(), 64);
    let again = upload(&a, "my_echo", builtin("echo")).unwrap();
    assert!(!again.compiled, "{again:?}");
    assert_eq!(again.hash, first.hash);

    // Its tenant spawns it by name; another tenant does not see it.
    rt.block_on(a.spawn("my_echo", r#"{"name":"e"}"#)).unwrap();
    let reply = rt
        .block_on(a.request("e", b"uploaded".to_vec(), TIMEOUT))
        .unwrap();
    assert_eq!(reply, b"uploaded");
    let err = rt
        .block_on(b.spawn("my_echo", r#"{"name":"e"}"#))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no plugin named `my_echo`"), "{err}");

    // Hostile and mistaken uploads, each refused with its reason.
    let refused = |client: &RemoteNode, name: &str, bytes: &[u8], why: &str| {
        let err = upload(client, name, bytes).unwrap_err();
        assert!(err.contains(why), "`{name}`: expected `{why}` in: {err}");
    };
    refused(
        &a,
        "junk",
        b"this is not wasm at all",
        "`junk` is not a WebAssembly component",
    );
    refused(&a, "core", b"\0asm\x01\0\0\0", "core WebAssembly module");
    // A valid component with nothing in it: not of the world.
    refused(
        &a,
        "empty",
        b"\0asm\x0d\0\x01\0",
        "does not export the function `init`",
    );
    refused(
        &a,
        "huge",
        &vec![0u8; 2 << 20],
        "over this node's limit of 1048576 bytes",
    );
    refused(&a, "../x", builtin("echo"), "not a usable component name");
    refused(
        &a,
        "echo",
        builtin("counter"),
        "not a usable component name",
    );
    refused(
        &a,
        "my_echo",
        builtin("counter"),
        "already has a component named `my_echo`",
    );
    upload(&a, "my_counter", builtin("counter")).unwrap();
    refused(
        &a,
        "third",
        builtin("compute"),
        "over its `components` quota",
    );
    // b's quota is its own; the operator may not upload.
    upload(&b, "my_counter", builtin("counter")).unwrap();
    let operator = connect(&rt, &served, &served.operator);
    refused(&operator, "x", builtin("echo"), "only observes");
    // The node went on serving throughout.
    assert_eq!(
        rt.block_on(a.request("e", b"still".to_vec(), TIMEOUT))
            .unwrap(),
        b"still"
    );

    // SIGKILL and a restart on the same data dir: the component and its
    // agent are back, and still a's only.
    drop(served);
    let served = serve(&dir, &["--max-upload", "1MiB", "--max-components", "2"]);
    let a = connect(&rt, &served, TOKEN_A);
    let b = connect(&rt, &served, TOKEN_B);
    assert_eq!(
        rt.block_on(a.request("e", b"back".to_vec(), TIMEOUT))
            .unwrap(),
        b"back"
    );
    rt.block_on(a.spawn("my_echo", r#"{"name":"e2"}"#)).unwrap();
    assert!(rt.block_on(b.spawn("my_echo", "{}")).is_err());
    let again = upload(&a, "my_echo", builtin("echo")).unwrap();
    assert!(!again.compiled, "kept across the restart: {again:?}");
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_compilation_over_its_time_or_memory_budget_is_stopped_and_refused() {
    let dir = std::env::temp_dir().join(format!("caxton-upload-budget-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = node();
    let rt = t.node.runtime().clone();
    // No component compiles in a millisecond (the compiler process alone
    // takes longer to start).
    let served = serve(&dir, &["--compile-budget", "1ms"]);
    let a = connect(&rt, &served, TOKEN_A);
    let err = rt
        .block_on(a.upload("slow", builtin("echo"), TIMEOUT))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("longer than the node's budget of 1ms"),
        "{err}"
    );
    drop(served);
    // An address space too small to compile in.
    let served = serve(&dir, &["--compile-memory", "32MiB"]);
    let a = connect(&rt, &served, TOKEN_A);
    let err = rt
        .block_on(a.upload("big", builtin("echo"), TIMEOUT))
        .unwrap_err()
        .to_string();
    assert!(err.contains("32 MiB of address space"), "{err}");
    // Nothing refused was kept: the same bytes compile in a node that can.
    drop(served);
    let served = serve(&dir, &[]);
    let a = connect(&rt, &served, TOKEN_A);
    let ok = rt
        .block_on(a.upload("fine", builtin("echo"), TIMEOUT))
        .unwrap();
    assert!(ok.compiled);
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deploy_from_the_shell_then_spawn_from_a_script_and_upload_from_one() {
    let dir = std::env::temp_dir().join(format!("caxton-deploy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let served = serve(&dir, &[]);
    let file = dir.join("my_echo.wasm");
    std::fs::write(&file, builtin("echo")).unwrap();
    let junk = dir.join("junk.wasm");
    std::fs::write(&junk, b"not a component").unwrap();
    let deploy = |file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_caxton-run"))
            .arg("deploy")
            .arg(file)
            .args(["--node", &served.addr.to_string()])
            .args(["--fingerprint", &served.fingerprint, "--token", TOKEN_A])
            .output()
            .unwrap()
    };
    let out = deploy(&file);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", super::util::stderr(&out));
    assert!(
        text.contains("deployed `my_echo`") && text.contains("compiled by the node"),
        "{text}"
    );
    let out = deploy(&file);
    assert!(String::from_utf8_lossy(&out.stdout).contains("the node had it already"));
    let out = deploy(&junk);
    assert_eq!(out.status.code(), Some(1));
    let why = super::util::stderr(&out);
    assert!(
        why.contains("the node refused `junk`") && why.contains("magic bytes"),
        "{why}"
    );

    let script = dir.join("use.rhai");
    std::fs::write(
        &script,
        format!(
            r#"
let n = connect("{addr}", #{{ fingerprint: "{fp}", token: "{TOKEN_A}" }});
let deployed = spawn(n, "my_echo", #{{ name: "d" }});
print(`deployed: ${{request(deployed, "one")}}`);
let p = plugin(n, "my_echo.wasm", "from_script");
print(`uploaded ${{p.name}} compiled=${{p.compiled}} size=${{p.size}}`);
let a = spawn(n, p, #{{ name: "s" }});
print(`uploaded: ${{request(a, "two")}}`);
"#,
            addr = served.addr,
            fp = served.fingerprint
        ),
    )
    .unwrap();
    let out = super::util::caxton_run(&dir, "use.rhai", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", super::util::stderr(&out));
    assert!(text.contains("deployed: one"), "{text}");
    // The same bytes the node compiled for `my_echo`: not compiled again.
    let size = builtin("echo").len();
    assert!(
        text.contains(&format!("uploaded from_script compiled=false size={size}")),
        "{text}"
    );
    assert!(text.contains("uploaded: two"), "{text}");
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}
