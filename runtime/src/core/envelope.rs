//! Messages as the node moves them, and the effects a handler produces.
//!
//! A handler's effects are collected while it runs and applied only when it
//! returns, which makes every delivered batch atomic: a trap commits nothing.

use super::address::Address;

/// What a message means to its receiver (mirrors the WIT `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The sender waits for a reply.
    Request,
    /// Fire and forget.
    Inform,
    /// An answer to a request.
    Reply,
    /// An answer to a request that could not be served.
    Failure,
}

/// A message addressed to one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Node-unique id; replies and forwards refer to it.
    pub id: u64,
    /// The sender's address ("" for a script or client).
    pub sender: String,
    /// The conversation, if the sender set one.
    pub conversation: Option<u64>,
    /// What the message means.
    pub kind: Kind,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// A message an agent sends (the node assigns id and sender).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// What the message means.
    pub kind: Kind,
    /// The conversation, if any.
    pub conversation: Option<u64>,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// Everything one handler call did, applied by the node after it returned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Effects {
    /// Messages to deliver: (address, message).
    pub sends: Vec<(Address, Outgoing)>,
    /// Answers: (id of the request, answer).
    pub replies: Vec<(u64, Outgoing)>,
    /// Requests handed on: (id of the request, new address, message).
    pub forwards: Vec<(u64, Address, Outgoing)>,
    /// Messages the agent reported as failed: (id, reason).
    pub failures: Vec<(u64, String)>,
    /// State writes in order: (key, value or deletion).
    pub state_writes: Vec<(String, Option<Vec<u8>>)>,
}

impl Effects {
    /// Most entries per list whose buffer is kept for the next call by
    /// [`Effects::clear`]: enough for what nearly every call produces,
    /// without holding on to what one large batch once needed.
    const KEPT: usize = 8;

    /// Empties every list, keeping small buffers: a handler's next call
    /// pushes its reply without allocating.
    #[inline]
    pub fn clear(&mut self) {
        #[inline(always)]
        fn clear<T>(v: &mut Vec<T>) {
            if v.capacity() > Effects::KEPT {
                *v = Vec::new();
            } else {
                v.clear();
            }
        }
        clear(&mut self.sends);
        clear(&mut self.replies);
        clear(&mut self.forwards);
        clear(&mut self.failures);
        clear(&mut self.state_writes);
    }

    /// True when the handler did nothing observable.
    pub fn is_empty(&self) -> bool {
        self.sends.is_empty()
            && self.replies.is_empty()
            && self.forwards.is_empty()
            && self.failures.is_empty()
            && self.state_writes.is_empty()
    }
}
