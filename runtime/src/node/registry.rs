//! Finding agents and what they may reach: the registry by tenant and
//! name, tenants' definitions, links to peer nodes.

use std::collections::HashMap;
use std::sync::Arc;

use super::cell::{AgentCell, TenantState};
use super::error::{SendError, TenantError};
use super::handle::AgentHandle;
use super::local::Node;
use super::peer::PeerLink;
use crate::core::name;
use crate::core::tenant::Tenant;

impl Node {
    /// The live agent `name` of `tenant`.
    pub fn agent(&self, tenant: &str, name: &str) -> Option<AgentHandle> {
        self.lookup(tenant, name)
            .ok()
            .map(|cell| AgentHandle::new(self.clone(), cell))
    }

    pub(crate) fn lookup(&self, tenant: &str, name: &str) -> Result<Arc<AgentCell>, SendError> {
        self.inner
            .registry
            .read()
            .unwrap()
            .get(tenant)
            .and_then(|agents| agents.get(name))
            .cloned()
            .ok_or_else(|| SendError::NoSuchAgent(name.to_string()))
    }

    /// Defines `tenant` (replacing what it had): its quotas, data dir and
    /// grants, or just quotas. The definition holds for the agents spawned
    /// from now on and the messages to and from them; an agent already
    /// running keeps the definition of its spawn. A data dir is created if
    /// missing.
    pub fn set_tenant(&self, tenant: &str, def: impl Into<Tenant>) -> Result<(), TenantError> {
        name::check(tenant)?;
        let mut def = def.into();
        if let Some(dir) = &def.data_dir {
            let bad = |e: std::io::Error| TenantError::DataDir {
                tenant: tenant.to_string(),
                dir: dir.clone(),
                why: e.to_string(),
            };
            def.data_dir = Some(self.engine().options().files.data_dir(dir).map_err(bad)?);
        }
        self.inner
            .tenants
            .write()
            .unwrap()
            .insert(tenant.to_string(), Arc::new(TenantState::new(def)));
        Ok(())
    }

    /// The definition of `tenant`, if it has one.
    pub fn tenant(&self, tenant: &str) -> Option<Tenant> {
        self.inner
            .tenants
            .read()
            .unwrap()
            .get(tenant)
            .map(|t| t.def.clone())
    }

    /// Every live agent of every tenant.
    pub fn agents(&self) -> Vec<AgentHandle> {
        let cells: Vec<Arc<AgentCell>> = self
            .inner
            .registry
            .read()
            .unwrap()
            .values()
            .flat_map(|agents| agents.values().cloned())
            .collect();
        cells
            .into_iter()
            .map(|cell| AgentHandle::new(self.clone(), cell))
            .collect()
    }

    /// Agents registered on this node.
    pub fn agent_count(&self) -> usize {
        self.inner
            .registry
            .read()
            .unwrap()
            .values()
            .map(HashMap::len)
            .sum()
    }

    /// Links `peer` for the agents of `tenant`: a message they send to
    /// `name@peer` goes over `link` to the agent `name` on that node (in
    /// the tenant `link`'s token stands for). Replaces an older link.
    pub fn link(&self, tenant: &str, peer: &str, link: impl PeerLink + 'static) {
        self.inner
            .peers
            .write()
            .unwrap()
            .insert((tenant.to_string(), peer.to_string()), Arc::new(link));
    }

    /// Links `peer` for the agents of every tenant (a served node's
    /// `--peer`): a message an agent of tenant `t` sends to `name@peer`
    /// goes over `link` to `t/name` there, so a tenant reaches its own
    /// agents on the peer. A tenant's own [`Node::link`] comes first.
    pub fn link_all(&self, peer: &str, link: Arc<dyn PeerLink>) {
        self.inner
            .peers
            .write()
            .unwrap()
            .insert((ALL_TENANTS.to_string(), peer.to_string()), link);
    }

    pub(crate) fn peer(&self, tenant: &str, peer: &str) -> Option<Arc<dyn PeerLink>> {
        let peers = self.inner.peers.read().unwrap();
        if let Some(link) = peers.get(&(tenant.to_string(), peer.to_string())) {
            return Some(link.clone());
        }
        let all = peers.get(&(ALL_TENANTS.to_string(), peer.to_string()))?;
        Some(Arc::new(super::peer::Scoped {
            tenant: tenant.to_string(),
            link: all.clone(),
        }))
    }
}

/// The key of a link for every tenant (not a valid tenant name).
const ALL_TENANTS: &str = "*";
