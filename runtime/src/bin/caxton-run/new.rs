//! `caxton-run new NAME --lang rust|js|python`: a standalone plugin project
//! that builds with its language's usual toolchain and needs nothing from
//! Caxton's repository: the WIT world and the language's SDK are written
//! into it from this binary.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

/// The language of a new plugin project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Rust with the Caxton SDK (cargo, target wasm32-wasip2).
    Rust,
    /// JavaScript with componentize-js (npm).
    Js,
    /// Python with componentize-py (pip).
    Python,
}

/// Write a new plugin project: the agent (an echo that keeps a count in its
/// state), the WIT world, the language's SDK, a README with the build
/// command, and example.rhai, which spawns the built agent and sends it a
/// request.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name: lowercase letters, digits, `-` and `_`, starting
    /// with a letter.
    name: String,

    /// The language to write it in.
    #[arg(long, value_enum)]
    lang: Lang,

    /// Where to write the project [default: ./NAME]. It must not exist, or
    /// be empty.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

const RUST_SDK: &str = include_str!("../../../../plugins/sdk/src/lib.rs");
const JS_SDK: &str = include_str!("../../../../plugins/js/caxton.js");
const PYTHON_SDK: &str = include_str!("../../../../plugins/python/caxton.py");
/// Where the shipped JavaScript and Python agents pin their toolchains: the
/// versions a new project pins too.
const JS_PACKAGE: &str = include_str!("../../../../plugins/js/package.json");
const PYTHON_REQUIREMENTS: &str = include_str!("../../../../plugins/python/requirements.txt");

macro_rules! template {
    ($path:literal) => {
        include_str!(concat!("../../../templates/", $path))
    };
}

pub fn run(args: NewArgs) -> anyhow::Result<u8> {
    check_name(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    check_dir(&dir)?;
    let files = project(&args.name, args.lang)?;
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let build = match args.lang {
        Lang::Rust => "cargo build --release".to_string(),
        Lang::Js => "npm install && npm run build".to_string(),
        Lang::Python => format!(
            "pip install -r requirements.txt && componentize-py -d wit -w agent componentize app -o {}.wasm",
            args.name
        ),
    };
    println!("wrote {} files to {}", files.len(), dir.display());
    println!(
        "next:\n  cd {}\n  {build}\n  caxton-run example.rhai",
        dir.display()
    );
    Ok(crate::exit::OK)
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let starts = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !starts || !rest || name.len() > 64 {
        bail!(
            "`{name}` cannot name a plugin: use lowercase letters, digits, `-` and `_`, starting with a letter \
             (at most 64), e.g. `my-agent`"
        );
    }
    Ok(())
}

/// Refuses a directory that exists with anything in it: nothing of the
/// user's is ever overwritten.
fn check_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} exists and is not empty: nothing was written. Pick another name or --dir, \
                     or empty it first",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            bail!(
                "{} exists and is a file: nothing was written",
                dir.display()
            )
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
    }
}

/// The project's files: (path in the project, contents).
fn project(name: &str, lang: Lang) -> anyhow::Result<Vec<(&'static str, String)>> {
    let krate = name.replace('-', "_");
    let wasm = match lang {
        Lang::Rust => format!("target/wasm32-wasip2/release/{krate}.wasm"),
        Lang::Js | Lang::Python => format!("{name}.wasm"),
    };
    let fill = |text: &str| -> String {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &krate)
            .replace("{{type}}", &type_name(name))
            .replace("{{wasm}}", &wasm)
    };
    let mut files = vec![
        ("wit/agent.wit", caxton::host::WIT.to_string()),
        ("example.rhai", fill(template!("example.rhai"))),
    ];
    match lang {
        Lang::Rust => files.extend([
            ("Cargo.toml", fill(template!("rust/Cargo.toml"))),
            ("src/lib.rs", fill(template!("rust/lib.rs"))),
            (
                ".cargo/config.toml",
                template!("rust/cargo-config.toml").to_string(),
            ),
            (
                "sdk/Cargo.toml",
                template!("rust/sdk.Cargo.toml").to_string(),
            ),
            // In the SDK's own home the world is two folders up.
            (
                "sdk/src/lib.rs",
                RUST_SDK.replace("path: \"../../wit\"", "path: \"../wit\""),
            ),
            ("README.md", fill(template!("rust/README.md"))),
            (".gitignore", template!("rust/gitignore").to_string()),
        ]),
        Lang::Js => files.extend([
            (
                "package.json",
                fill(template!("js/package.json"))
                    .replace("{{dev_dependencies}}", &js_dev_dependencies()?),
            ),
            ("agent.js", fill(template!("js/agent.js"))),
            ("caxton.js", JS_SDK.to_string()),
            ("README.md", fill(template!("js/README.md"))),
            (".gitignore", template!("js/gitignore").to_string()),
        ]),
        Lang::Python => files.extend([
            ("app.py", fill(template!("python/app.py"))),
            ("caxton.py", PYTHON_SDK.to_string()),
            (
                "requirements.txt",
                template!("python/requirements.txt")
                    .replace("{{componentize_py}}", &componentize_py_version()?),
            ),
            ("README.md", fill(template!("python/README.md"))),
            (".gitignore", template!("python/gitignore").to_string()),
        ]),
    }
    Ok(files)
}

/// `my-agent` -> `MyAgent`: the agent's type (Rust) or class (Python).
fn type_name(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// plugins/js/package.json's pins, as the lines of a `devDependencies`
/// object: componentize-js, and the shim it imports but declares only as an
/// optional peer (which npm does not install by itself).
fn js_dev_dependencies() -> anyhow::Result<String> {
    let package: serde_json::Value = serde_json::from_str(JS_PACKAGE)?;
    let pins = package["devDependencies"]
        .as_object()
        .filter(|pins| pins.contains_key("@bytecodealliance/componentize-js"))
        .context("plugins/js/package.json pins no componentize-js")?;
    Ok(pins
        .iter()
        .map(|(name, version)| format!("    {}: {version}", serde_json::Value::from(name.as_str())))
        .collect::<Vec<_>>()
        .join(",\n"))
}

fn componentize_py_version() -> anyhow::Result<String> {
    PYTHON_REQUIREMENTS
        .lines()
        .find_map(|l| l.trim().strip_prefix("componentize-py=="))
        .map(str::to_string)
        .context("plugins/python/requirements.txt pins no componentize-py")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_types_and_pins() {
        assert_eq!(type_name("my-agent_2"), "MyAgent2");
        assert!(check_name("my-agent").is_ok());
        for bad in ["", "My", "1a", "a b", "a/b", "../x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        let pins = js_dev_dependencies().unwrap();
        assert!(
            pins.contains(r#""@bytecodealliance/componentize-js": "0.23.0""#),
            "{pins}"
        );
        assert!(
            pins.contains(r#""@bytecodealliance/preview2-shim": "0.25.0""#),
            "{pins}"
        );
        assert_eq!(componentize_py_version().unwrap(), "0.25.1");
    }
}
