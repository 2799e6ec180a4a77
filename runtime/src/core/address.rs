//! Where an agent sends: an address parsed once, at the host call, into a
//! type the router matches on (it never parses the string again).

use super::name::{self, NameError};

/// An agent's address as a guest writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// `name`: an agent of the sender's own tenant.
    Local(String),
    /// `tenant/name`: an agent of another tenant (delivered only with a grant).
    Tenant {
        /// The other tenant.
        tenant: String,
        /// The agent in it.
        name: String,
    },
    /// `name@node`: an agent on a peer node, over its QUIC link.
    Peer {
        /// The agent on the peer.
        name: String,
        /// The peer node's name.
        node: String,
    },
}

/// Why an address was refused at the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// A part of the address is not a valid name.
    #[error("address `{address}`: {part} {source}")]
    Malformed {
        /// The address as written (clamped).
        address: String,
        /// Which part: "agent name", "tenant name" or "node name".
        part: &'static str,
        /// What is wrong with it.
        source: NameError,
    },
    /// The sender's tenant has no grant for the other tenant.
    #[error(
        "address `{tenant}/{name}`: tenant `{from}` has no grant for tenant `{tenant}` (add `grants = [\"{tenant}\"]` to [tenants.{from}])"
    )]
    NotGranted {
        /// The sender's tenant.
        from: String,
        /// The tenant addressed.
        tenant: String,
        /// The agent addressed.
        name: String,
    },
    /// No link to that peer node exists for the sender's tenant.
    #[error(
        "address `{name}@{node}`: no peer node named `{node}` (link one first, e.g. `connect(addr, #{{name: \"{node}\", ...}})` in a script)"
    )]
    NoSuchPeer {
        /// The agent addressed.
        name: String,
        /// The peer named.
        node: String,
    },
}

impl Address {
    /// Parses `name`, `tenant/name` or `name@node`; every part must be a
    /// valid name ([`name::check`]).
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let malformed = |part, source| AddressError::Malformed {
            address: super::budget::clamp_to(text, 160).into_owned(),
            part,
            source,
        };
        if let Some((agent, node)) = text.split_once('@') {
            name::check(agent).map_err(|e| malformed("agent name", e))?;
            name::check(node).map_err(|e| malformed("node name", e))?;
            return Ok(Address::Peer {
                name: agent.to_string(),
                node: node.to_string(),
            });
        }
        if let Some((tenant, agent)) = text.split_once('/') {
            name::check(tenant).map_err(|e| malformed("tenant name", e))?;
            name::check(agent).map_err(|e| malformed("agent name", e))?;
            return Ok(Address::Tenant {
                tenant: tenant.to_string(),
                name: agent.to_string(),
            });
        }
        name::check(text).map_err(|e| malformed("agent name", e))?;
        Ok(Address::Local(text.to_string()))
    }

    /// Bytes the address holds (what the host is charged for keeping it).
    pub fn bytes(&self) -> usize {
        match self {
            Address::Local(name) => name.len(),
            Address::Tenant { tenant, name } => tenant.len() + name.len(),
            Address::Peer { name, node } => name.len() + node.len(),
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Local(name) => f.write_str(name),
            Address::Tenant { tenant, name } => write!(f, "{tenant}/{name}"),
            Address::Peer { name, node } => write!(f, "{name}@{node}"),
        }
    }
}

/// Decides, at the call, whether an agent may address someone: its
/// tenant's grants, the node's peer links. The host layer asks it; the
/// node implements it (the host knows nothing of tenants or links).
pub trait Reach: Send + Sync {
    /// `Ok` if a message to `to` can be accepted for delivery.
    fn check(&self, to: &Address) -> Result<(), AddressError>;
}

/// Accepts every well-formed address (an agent outside any node's rules,
/// e.g. in a benchmark of the host layer alone).
#[derive(Debug, Clone, Copy, Default)]
pub struct Anywhere;

impl Reach for Anywhere {
    fn check(&self, _to: &Address) -> Result<(), AddressError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_parse() {
        assert_eq!(Address::parse("echo"), Ok(Address::Local("echo".into())));
        assert_eq!(
            Address::parse("b/echo"),
            Ok(Address::Tenant {
                tenant: "b".into(),
                name: "echo".into()
            })
        );
        assert_eq!(
            Address::parse("echo@n2"),
            Ok(Address::Peer {
                name: "echo".into(),
                node: "n2".into()
            })
        );
        for text in ["echo", "b/echo", "echo@n2"] {
            assert_eq!(Address::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn malformed_addresses_name_the_part() {
        for (text, part) in [
            ("", "agent name"),
            ("..", "agent name"),
            (".", "agent name"),
            ("a/..", "agent name"),
            ("../a", "tenant name"),
            ("a/b/c", "agent name"),
            ("a@", "node name"),
            ("a@b@c", "node name"),
            ("a/b@n", "agent name"),
            ("x y", "agent name"),
        ] {
            match Address::parse(text) {
                Err(AddressError::Malformed { part: got, .. }) => {
                    assert_eq!(got, part, "`{text}`")
                }
                other => panic!("`{text}` gave {other:?}"),
            }
        }
        let long = "x".repeat(100_000);
        let err = Address::parse(&format!("{long} ")).unwrap_err().to_string();
        assert!(err.len() < 500, "{} bytes", err.len());
    }
}
