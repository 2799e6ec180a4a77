//! Messages that kept crashing their agent, kept for inspection.

use crate::core::envelope::Kind;
use crate::core::failure::Failure;

/// A message moved to the dead-letter queue after its retries ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The agent it was addressed to.
    pub agent: String,
    /// That agent's tenant.
    pub tenant: String,
    /// The message id.
    pub id: u64,
    /// Who sent it ("" for a script or client).
    pub sender: String,
    /// Its kind.
    pub kind: Kind,
    /// Its payload.
    pub payload: Vec<u8>,
    /// Deliveries that failed.
    pub attempts: u32,
    /// The failure of the last attempt.
    pub reason: Failure,
}
