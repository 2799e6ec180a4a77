//! A node's share of a load split between nodes (see
//! [`crate::measure::load::distributed`]): run here, next to the agents.

use std::sync::Arc;

use super::api::Targets;
use super::local::Node;
use crate::measure::load::distributed::{Share, ShareResult};
use crate::measure::load::{LoadOptions, LoadSpec, run_load};

impl Node {
    /// Runs `share` against `tenant`'s agents on this node (blocking: call
    /// it off the async workers). The result's `node` is left for the
    /// transport to fill in.
    pub fn run_share(&self, tenant: &str, share: &Share) -> Result<ShareResult, String> {
        let options = LoadSpec::parse(share.options.clone())
            .and_then(LoadOptions::try_from)
            .map_err(|e| e.to_string())?;
        if options.window.is_some() {
            return Err("a load split between nodes has no `window` timeline".into());
        }
        let mut agents = Vec::with_capacity(share.targets.len());
        for name in &share.targets {
            let agent = self.agent(tenant, name).ok_or_else(|| {
                format!("no agent named `{name}` in tenant `{tenant}` on this node")
            })?;
            agents.push((self.clone(), agent));
        }
        let report =
            run_load(Arc::new(Targets::new(agents)), &options).map_err(|e| e.to_string())?;
        ShareResult::of(String::new(), &report)
    }
}
