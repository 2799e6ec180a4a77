//! Agents of this node as a load [`Target`].

use crate::measure::load::{Done, Target};

use super::{AgentHandle, Node};

/// In-process agents the load generator sends requests to.
#[derive(Debug, Clone)]
pub struct AgentTargets {
    node: Node,
    agents: Vec<AgentHandle>,
}

impl AgentTargets {
    /// Load on `agents` of `node`.
    pub fn new(node: Node, agents: Vec<AgentHandle>) -> Self {
        AgentTargets { node, agents }
    }
}

impl Target for AgentTargets {
    fn len(&self) -> usize {
        self.agents.len()
    }

    fn call(&self, index: usize, payload: Vec<u8>, done: Done) {
        self.node
            .request_with(&self.agents[index], payload, move |result| {
                done(result.map(drop).map_err(|e| e.to_string()))
            });
    }
}
