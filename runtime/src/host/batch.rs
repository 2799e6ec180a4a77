//! The messages of one call, as the guest receives them, and back: a
//! failed call hands its messages back unchanged, so a supervisor can
//! deliver them again without copying them.

use super::bindings::caxton::agent::types;
use crate::core::envelope::Envelope;

/// The messages of one call, as the guest receives them.
pub(crate) enum Batch {
    One(types::Message),
    Many(Vec<types::Message>),
}

impl Batch {
    pub(crate) fn as_slice(&self) -> &[types::Message] {
        match self {
            Batch::One(msg) => std::slice::from_ref(msg),
            Batch::Many(msgs) => msgs,
        }
    }

    /// The messages handed back unchanged (after a failed call).
    pub(crate) fn into_envelopes(self) -> Vec<Envelope> {
        match self {
            Batch::One(msg) => vec![from_wit(msg)],
            Batch::Many(msgs) => msgs.into_iter().map(from_wit).collect(),
        }
    }
}

fn from_wit(msg: types::Message) -> Envelope {
    Envelope {
        id: msg.id,
        sender: msg.sender,
        conversation: msg.conversation,
        kind: msg.kind.into(),
        payload: msg.payload,
    }
}

pub(crate) fn to_wit(env: Envelope) -> types::Message {
    types::Message {
        id: env.id,
        sender: env.sender,
        conversation: env.conversation,
        kind: env.kind.into(),
        payload: env.payload,
    }
}
