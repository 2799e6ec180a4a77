//! What a sandboxed agent asks WASI for and should not get, and the one
//! thing it may have (its tenant's data dir, `/data`). Each command replies
//! what happened; a refused operation replies `denied: <error>`, so a test
//! or script sees the host's answer rather than a trap.
//!
//! - `write PATH TEXT`, `read PATH`, `list PATH`, `remove PATH`;
//! - `symlink TARGET LINK`: makes LINK point at TARGET;
//! - `env`: the number of environment variables and arguments it sees;
//! - `clock`: the WASI wall clock (ns since 1970) and how far the WASI
//!   monotonic clock moved over a busy loop;
//! - `connect ADDR`: opens a TCP connection.

use std::hint::black_box;

/// Runs one WASI command; `None` if `command` is not one.
pub(crate) fn run(command: &str) -> Option<Result<String, std::io::Error>> {
    const VERBS: [&str; 8] = [
        "write", "read", "list", "remove", "symlink", "env", "clock", "connect",
    ];
    let (verb, _) = command.split_once(' ').unwrap_or((command, ""));
    VERBS.contains(&verb).then(|| wasi(command))
}

fn wasi(command: &str) -> Result<String, std::io::Error> {
    let (verb, rest) = command.split_once(' ').unwrap_or((command, ""));
    match verb {
        "write" => {
            let (path, text) = rest.split_once(' ').unwrap_or((rest, ""));
            std::fs::write(path, text)?;
            Ok("ok".into())
        }
        "read" => std::fs::read_to_string(rest),
        "list" => {
            let mut names: Vec<String> = std::fs::read_dir(rest)?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, _>>()?;
            names.sort();
            Ok(names.join(","))
        }
        "remove" => std::fs::remove_file(rest).map(|()| "ok".into()),
        "symlink" => {
            let (target, link) = rest.split_once(' ').unwrap_or((rest, ""));
            symlink(target, link).map(|()| "ok".into())
        }
        "env" => Ok(format!(
            "{} vars, {} args",
            std::env::vars_os().count(),
            std::env::args_os().count()
        )),
        "clock" => {
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let start = std::time::Instant::now();
            let mut x = 0u64;
            for i in 0..2_000_000u64 {
                x = black_box(x.wrapping_add(i));
            }
            Ok(format!(
                "wall {wall} ns, moved {} ns",
                start.elapsed().as_nanos()
            ))
        }
        "connect" => std::net::TcpStream::connect(rest).map(|_| "connected".into()),
        other => Err(std::io::Error::other(format!(
            "unknown command `{other}` (write, read, list, remove, symlink, env, clock, connect)"
        ))),
    }
}

/// `symlinkat` through the preopened directory `link` is in (std has no
/// stable symlink call for WASI).
fn symlink(target: &str, link: &str) -> Result<(), std::io::Error> {
    for (dir, at) in wasip2::filesystem::preopens::get_directories() {
        let prefix = format!("{}/", at.trim_end_matches('/'));
        if let Some(rel) = link.strip_prefix(&prefix) {
            return dir
                .symlink_at(target, rel)
                .map_err(|e| std::io::Error::other(format!("{e:?}")));
        }
    }
    Err(std::io::Error::other(format!(
        "`{link}` is in no preopened directory"
    )))
}
