//! `caxton-run identity NAME... --out DIR`: certificates and keys for the
//! nodes of a cluster, made once, so each node's fingerprint is known
//! before it starts (to write into the others' [peers]) and survives its
//! data dir (`serve --identity-dir DIR`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use caxton::net::tls::Identity;
use clap::Args;

use super::exit;

/// Making identities.
#[derive(Debug, Args)]
pub(crate) struct IdentityArgs {
    /// The nodes' names (their --name, e.g. a StatefulSet's pod names).
    #[arg(required = true)]
    names: Vec<String>,

    /// Where to write NAME.cert.der and NAME.key.der (created; existing
    /// files are kept, so running it again only adds new names).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Writes the missing identities and prints every fingerprint.
pub(crate) fn run(args: IdentityArgs) -> anyhow::Result<u8> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    for name in &args.names {
        caxton::core::name::check(name).with_context(|| format!("node name `{name}`"))?;
        let (cert, key) = files(&args.out, name);
        let identity = if cert.exists() && key.exists() {
            read(&args.out, name)?
        } else {
            let identity = Identity::generate()?;
            let (cert_der, key_der) = identity.to_der();
            std::fs::write(&cert, cert_der)
                .with_context(|| format!("writing {}", cert.display()))?;
            super::serve::write_private(&key, &key_der)?;
            identity
        };
        println!("{name} {}", identity.fingerprint());
    }
    Ok(exit::OK)
}

fn files(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.cert.der")),
        dir.join(format!("{name}.key.der")),
    )
}

/// Node `name`'s identity from `dir`.
pub(crate) fn read(dir: &Path, name: &str) -> anyhow::Result<Identity> {
    let (cert, key) = files(dir, name);
    let read = |p: &Path| {
        std::fs::read(p).with_context(|| {
            format!(
                "reading {} (make it with `caxton-run identity {name} --out {}`)",
                p.display(),
                dir.display()
            )
        })
    };
    let identity = Identity::from_der(read(&cert)?, read(&key)?);
    identity
        .server_config()
        .with_context(|| format!("the identity of `{name}` in {} is unusable", dir.display()))?;
    Ok(identity)
}
