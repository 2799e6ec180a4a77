//! `caxton-run new`, `wit` and `inspect`, driven as a user would: the
//! binary writes a project, the language's toolchain builds it, and the
//! project's example script gets an answer from the built agent.

use std::path::Path;
use std::process::{Command, Output};

use super::languages_util::has;
use super::util::stderr;

fn caxton(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caxton-run"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a build command of the project's README in `dir`.
fn build(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        // The project's own target dir, where its README and example look
        // (not the one of the cargo running these tests, if it set one).
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
}

/// Writes a project, checks its README gives the build command `readme`,
/// builds it with `steps` (that command, perhaps with offline flags), and
/// runs its example.
fn new_project_answers(lang: &str, readme: &str, steps: &[(&str, &[&str])]) {
    let root = tempfile::tempdir().unwrap();
    let out = caxton(root.path(), &["new", "my-agent", "--lang", lang]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = root.path().join("my-agent");
    for file in ["wit/agent.wit", "README.md", "example.rhai"] {
        assert!(dir.join(file).exists(), "{lang}: no {file}");
    }
    let text = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        text.contains(readme),
        "{lang}: the README does not give `{readme}`"
    );
    for (program, args) in steps {
        build(&dir, program, args);
    }
    let out = caxton(&dir, &["example.rhai", "--cache-dir", cache()]);
    assert!(
        out.status.success(),
        "{lang}: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("my-agent answered: hello"), "{lang}: {text}");
    assert!(
        text.contains(r#"its config: {"greeting":"hi"}"#),
        "{lang}: {text}"
    );
}

fn cache() -> &'static str {
    concat!(env!("CARGO_TARGET_TMPDIR"), "/component-cache")
}

#[test]
fn a_new_rust_project_builds_with_cargo_and_answers() {
    new_project_answers(
        "rust",
        "cargo build --release",
        &[("cargo", &["build", "--release"])],
    );
}

#[test]
fn a_new_javascript_project_builds_with_npm_and_answers() {
    if !has("npm") {
        eprintln!("skipped: npm (Node.js) is not installed");
        return;
    }
    new_project_answers(
        "js",
        "npm install && npm run build",
        &[
            (
                "npm",
                &["install", "--prefer-offline", "--no-audit", "--no-fund"],
            ),
            ("npm", &["run", "build"]),
        ],
    );
}

#[test]
fn a_new_python_project_builds_with_componentize_py_and_answers() {
    if !has("componentize-py") {
        eprintln!("skipped: componentize-py is not installed (pip install componentize-py)");
        return;
    }
    new_project_answers(
        "python",
        "componentize-py -d wit -w agent componentize app -o my-agent.wasm",
        &[(
            "componentize-py",
            &[
                "-d",
                "wit",
                "-w",
                "agent",
                "componentize",
                "app",
                "-o",
                "my-agent.wasm",
            ],
        )],
    );
}

#[test]
fn new_refuses_a_non_empty_dir_and_a_bad_name_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("keep.txt"), "mine").unwrap();
    let out = caxton(root.path(), &["new", "x", "--lang", "rust", "--dir", "."]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_to_string(root.path().join("keep.txt")).unwrap(),
        "mine"
    );

    let out = caxton(root.path(), &["new", "Not A Name", "--lang", "js"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot name a plugin"),
        "{}",
        stderr(&out)
    );
    let out = caxton(root.path(), &["new", "x", "--lang", "cobol"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap refuses an unknown language"
    );
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
}

#[test]
fn wit_prints_the_world_and_inspect_judges_components() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = caxton(here, &["wit"]);
    assert!(out.status.success());
    let world = std::fs::read_to_string(here.join("../wit/agent.wit")).unwrap();
    assert_eq!(stdout(&out), world);

    let plugins = here.join("../plugins/target/wasm32-wasip2/release");
    let echo = plugins.join("echo.wasm");
    let out = caxton(
        here,
        &[
            "inspect",
            echo.to_str().unwrap(),
            "--spawns",
            "3",
            "--cache-dir",
            cache(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "fits the caxton:agent@0.1.0 world: yes",
        "caxton:agent/host@0.1.0",
        "exports: init, handle, handle-batch",
        "spawn (instantiate + init), 3 into fresh slots: p50",
        "least memory to start:",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }

    let wrong = plugins.join("not-an-agent.wasm");
    let out = caxton(
        here,
        &["inspect", wrong.to_str().unwrap(), "--cache-dir", cache()],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("world: no"), "{text}");
    assert!(
        text.contains("does not export the function `init`"),
        "{text}"
    );

    let out = caxton(here, &["inspect", "Cargo.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("magic bytes"), "{}", stdout(&out));
}
