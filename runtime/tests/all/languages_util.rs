//! The JavaScript and Python agents of `plugins/js` and `plugins/python`,
//! built here when their toolchain is: a test that needs one asks for it
//! and skips, saying why, when the toolchain is missing (CI installs both).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// A language whose agents are built by its own toolchain.
#[derive(Debug, Clone, Copy)]
pub enum Lang {
    Js,
    Python,
}

impl Lang {
    fn dir(self) -> PathBuf {
        let name = match self {
            Lang::Js => "js",
            Lang::Python => "python",
        };
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../plugins")
            .join(name)
    }

    fn built(self) -> &'static OnceLock<Result<PathBuf, String>> {
        static JS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
        static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
        match self {
            Lang::Js => &JS,
            Lang::Python => &PYTHON,
        }
    }
}

/// The built component of agent `name` in `lang`, or `None` after printing
/// why it cannot be built here. All of a language's agents are built once
/// per test run, and only when a source is newer than what `dist/` holds.
pub fn component(lang: Lang, name: &str) -> Option<PathBuf> {
    match lang.built().get_or_init(|| build(lang)) {
        Ok(dist) => Some(dist.join(format!("{name}.wasm"))),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

fn build(lang: Lang) -> Result<PathBuf, String> {
    let dir = lang.dir();
    let dist = dir.join("dist");
    if is_fresh(&dir, &dist) {
        return Ok(dist);
    }
    let status = match lang {
        Lang::Js => {
            if !has("node") {
                return Err(
                    "JavaScript agents need Node.js (node and npm), which is not installed".into(),
                );
            }
            if !dir.join("node_modules/.bin/componentize-js").exists() {
                let ci = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&dir)
                    .status()
                    .map_err(|e| format!("npm ci in {}: {e}", dir.display()))?;
                if !ci.success() {
                    return Err(format!(
                        "npm ci in {} failed ({ci}): componentize-js is not installed",
                        dir.display()
                    ));
                }
            }
            Command::new("node")
                .arg("build.mjs")
                .current_dir(&dir)
                .status()
        }
        Lang::Python => {
            if !has("componentize-py") {
                return Err(format!(
                    "Python agents need componentize-py: pip install -r {}",
                    dir.join("requirements.txt").display()
                ));
            }
            Command::new("python3")
                .arg("build.py")
                .current_dir(&dir)
                .status()
        }
    };
    match status {
        Ok(s) if s.success() => Ok(dist),
        Ok(s) => Err(format!(
            "building the agents in {} failed ({s})",
            dir.display()
        )),
        Err(e) => Err(format!("building the agents in {}: {e}", dir.display())),
    }
}

pub fn has(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether every agent folder has a `dist/NAME.wasm` newer than all sources
/// (the SDK, the agents, the WIT world).
fn is_fresh(dir: &Path, dist: &Path) -> bool {
    let mut newest_source = modified(&dir.join("../../wit/agent.wit"));
    let mut outputs = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "node_modules" || name == "dist" || name.starts_with(['.', '_']) {
            continue;
        }
        let is_agent = path.join("agent.js").exists() || path.join("app.py").exists();
        if path.is_dir() && is_agent {
            for source in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                newest_source = newest_source.max(modified(&source.path()));
            }
            outputs.push(dist.join(format!("{name}.wasm")));
        } else if path.is_file() {
            newest_source = newest_source.max(modified(&path));
        }
    }
    !outputs.is_empty()
        && outputs
            .iter()
            .all(|out| out.exists() && modified(out) >= newest_source)
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}
