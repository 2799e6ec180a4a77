//! The wire format between clients and nodes (and node to node): frames
//! with a length prefix and a hard maximum size, encoded and decoded
//! without any I/O so the codec can be tested and fuzzed on its own.
//!
//! A frame is `len: u32 LE | type: u8 | body`, where `len` counts the type
//! byte and the body. Strings are `u16 LE length | UTF-8`, byte strings
//! `u32 LE length | bytes`, integers little-endian. A decoder never trusts
//! a length: a frame over the limit, a body that ends early or has bytes
//! left over, bad UTF-8 or an unknown type is an error, and the caller
//! closes that one connection.
//!
//! `decode`: the [`Decoder`], which never trusts a length.

use bytes::{BufMut, Bytes, BytesMut};

/// The protocol version sent in [`Frame::Hello`] and [`Frame::Welcome`].
pub const PROTOCOL_VERSION: u16 = 4;

/// Default largest frame accepted (type + body), in bytes.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// Largest payload a frame of [`DEFAULT_MAX_FRAME`] carries: the frame's
/// other fields (type, ids, a name of up to 128 bytes) fit in the rest.
pub const MAX_PAYLOAD: usize = DEFAULT_MAX_FRAME - 1024;

/// Longest error text a node puts in a frame; longer text (an agent's
/// failure reason, say) is cut and marked `... (truncated)`, so it can
/// never make a frame that does not encode.
pub const MAX_ERROR_TEXT: usize = 8 << 10;

/// One protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Client -> node, first frame: protocol version and tenant token.
    Hello {
        /// The client's protocol version.
        version: u16,
        /// The tenant token.
        token: String,
    },
    /// Node -> client: the handshake succeeded.
    Welcome {
        /// The node's protocol version.
        version: u16,
        /// The node's name.
        node: String,
    },
    /// Spawn an agent (`options` is the spawn option map as JSON).
    Spawn {
        /// Correlates the answer.
        req: u64,
        /// Plugin name.
        plugin: String,
        /// Options as JSON.
        options: String,
    },
    /// An agent was spawned.
    Spawned {
        /// The request answered.
        req: u64,
        /// The agent's name.
        name: String,
    },
    /// Fire and forget to an agent.
    Send {
        /// The agent.
        to: String,
        /// The payload.
        payload: Bytes,
    },
    /// A request to an agent; answered by `Reply` or `Error` with the same `req`.
    Request {
        /// Correlates the answer.
        req: u64,
        /// Forwards the request has been through (0 from a client; a node
        /// forwarding an agent's request to a peer counts on, so a loop
        /// across nodes ends at the hop limit too).
        hops: u8,
        /// The agent.
        to: String,
        /// The payload.
        payload: Bytes,
    },
    /// The answer to a request.
    Reply {
        /// The request answered.
        req: u64,
        /// The payload.
        payload: Bytes,
    },
    /// A request failed.
    Error {
        /// The request answered (0 for the connection itself).
        req: u64,
        /// A stable error code.
        code: u16,
        /// What went wrong, for people.
        message: String,
    },
    /// Stop (graceful) or kill (abrupt) an agent.
    Stop {
        /// Correlates the answer (`Reply` with an empty payload).
        req: u64,
        /// The agent.
        name: String,
        /// Abrupt.
        kill: bool,
    },
    /// Ask for an observation of the node (answered by `Reply` whose
    /// payload is a JSON `node::Observation`, or `Error`). An operator
    /// token sees every tenant; a tenant token only its own.
    Observe {
        /// Correlates the answer.
        req: u64,
        /// Only this tenant's agents (empty: all the caller may see).
        tenant: String,
    },
    /// Client -> node, alone on a unidirectional stream of its own and
    /// followed there by `size` bytes: a component for the client's tenant
    /// (answered on the main stream by `Reply` with a JSON
    /// `node::Uploaded`, or `Error`).
    Upload {
        /// Correlates the answer.
        req: u64,
        /// The tenant's name for the component.
        name: String,
        /// How many bytes follow.
        size: u64,
    },
    /// Run a share of a load on the node, against the client's tenant's
    /// agents there (`share` is a JSON `measure::load::distributed::Share`;
    /// answered by `Reply` with a JSON `ShareResult`, or `Error`).
    Load {
        /// Correlates the answer.
        req: u64,
        /// The share as JSON.
        share: String,
    },
}

/// Why bytes could not be decoded into a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announces more than the limit.
    #[error("frame of {len} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A zero length: not even a type byte.
    #[error("empty frame")]
    Empty,
    /// The type byte is not a known frame type.
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    /// The body ended before a field did.
    #[error("frame body ends inside the field `{0}`")]
    Truncated(&'static str),
    /// The body has bytes after the last field.
    #[error("{0} bytes left over after the frame body")]
    Trailing(usize),
    /// A string field is not UTF-8.
    #[error("the field `{0}` is not UTF-8")]
    Utf8(&'static str),
    /// A string or byte field is too long to encode.
    #[error("the field `{0}` is too long to encode")]
    FieldTooLong(&'static str),
}

pub(super) mod tag {
    pub const HELLO: u8 = 1;
    pub const WELCOME: u8 = 2;
    pub const SPAWN: u8 = 3;
    pub const SPAWNED: u8 = 4;
    pub const SEND: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const REPLY: u8 = 7;
    pub const ERROR: u8 = 8;
    pub const STOP: u8 = 9;
    pub const OBSERVE: u8 = 10;
    pub const UPLOAD: u8 = 11;
    pub const LOAD: u8 = 12;
}

impl Frame {
    /// An [`Frame::Error`] whose message is clamped to [`MAX_ERROR_TEXT`].
    pub fn error(req: u64, code: u16, message: &str) -> Frame {
        Frame::Error {
            req,
            code,
            message: super::budget::clamp_to(message, MAX_ERROR_TEXT).into_owned(),
        }
    }

    /// Appends the encoded frame to `out`. On an error `out` is left as it
    /// was: the frames already in it stay intact.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), FrameError> {
        let start = out.len();
        let result = self.encode_at(start, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn encode_at(&self, start: usize, out: &mut BytesMut) -> Result<(), FrameError> {
        out.put_u32_le(0);
        match self {
            Frame::Hello { version, token } => {
                out.put_u8(tag::HELLO);
                out.put_u16_le(*version);
                put_str(out, token, "token")?;
            }
            Frame::Welcome { version, node } => {
                out.put_u8(tag::WELCOME);
                out.put_u16_le(*version);
                put_str(out, node, "node")?;
            }
            Frame::Spawn {
                req,
                plugin,
                options,
            } => {
                out.put_u8(tag::SPAWN);
                out.put_u64_le(*req);
                put_str(out, plugin, "plugin")?;
                put_bytes(out, options.as_bytes(), "options")?;
            }
            Frame::Spawned { req, name } => {
                out.put_u8(tag::SPAWNED);
                out.put_u64_le(*req);
                put_str(out, name, "name")?;
            }
            Frame::Send { to, payload } => {
                out.put_u8(tag::SEND);
                put_str(out, to, "to")?;
                put_bytes(out, payload, "payload")?;
            }
            Frame::Request {
                req,
                hops,
                to,
                payload,
            } => {
                out.put_u8(tag::REQUEST);
                out.put_u64_le(*req);
                out.put_u8(*hops);
                put_str(out, to, "to")?;
                put_bytes(out, payload, "payload")?;
            }
            Frame::Reply { req, payload } => {
                out.put_u8(tag::REPLY);
                out.put_u64_le(*req);
                put_bytes(out, payload, "payload")?;
            }
            Frame::Error { req, code, message } => {
                out.put_u8(tag::ERROR);
                out.put_u64_le(*req);
                out.put_u16_le(*code);
                put_str(out, message, "message")?;
            }
            Frame::Stop { req, name, kill } => {
                out.put_u8(tag::STOP);
                out.put_u64_le(*req);
                put_str(out, name, "name")?;
                out.put_u8(u8::from(*kill));
            }
            Frame::Observe { req, tenant } => {
                out.put_u8(tag::OBSERVE);
                out.put_u64_le(*req);
                put_str(out, tenant, "tenant")?;
            }
            Frame::Upload { req, name, size } => {
                out.put_u8(tag::UPLOAD);
                out.put_u64_le(*req);
                put_str(out, name, "name")?;
                out.put_u64_le(*size);
            }
            Frame::Load { req, share } => {
                out.put_u8(tag::LOAD);
                out.put_u64_le(*req);
                put_bytes(out, share.as_bytes(), "share")?;
            }
        }
        let len = out.len() - start - 4;
        let len = u32::try_from(len).map_err(|_| FrameError::FieldTooLong("frame"))?;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        Ok(())
    }
}

fn put_str(out: &mut BytesMut, s: &str, field: &'static str) -> Result<(), FrameError> {
    let len = u16::try_from(s.len()).map_err(|_| FrameError::FieldTooLong(field))?;
    out.put_u16_le(len);
    out.put_slice(s.as_bytes());
    Ok(())
}

fn put_bytes(out: &mut BytesMut, b: &[u8], field: &'static str) -> Result<(), FrameError> {
    let len = u32::try_from(b.len()).map_err(|_| FrameError::FieldTooLong(field))?;
    out.put_u32_le(len);
    out.put_slice(b);
    Ok(())
}

mod decode;

pub use decode::Decoder;

#[cfg(test)]
#[path = "../../../tests/all/fuzz_scale.rs"]
mod fuzz_scale;

#[cfg(test)]
mod tests;
