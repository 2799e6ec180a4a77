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

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The protocol version sent in [`Frame::Hello`] and [`Frame::Welcome`].
pub const PROTOCOL_VERSION: u16 = 2;

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

mod tag {
    pub const HELLO: u8 = 1;
    pub const WELCOME: u8 = 2;
    pub const SPAWN: u8 = 3;
    pub const SPAWNED: u8 = 4;
    pub const SEND: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const REPLY: u8 = 7;
    pub const ERROR: u8 = 8;
    pub const STOP: u8 = 9;
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

/// Takes frames out of a byte stream as it arrives.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max: usize,
}

impl Decoder {
    /// A decoder accepting frames of at most `max` bytes (type + body).
    pub fn new(max: usize) -> Self {
        Decoder {
            buf: BytesMut::new(),
            max,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` if more bytes are needed, or an
    /// error after which the stream must be dropped.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes(self.buf[..4].try_into().expect("4 bytes")) as usize;
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if len == 0 {
            return Err(FrameError::Empty);
        }
        if self.buf.len() < 4 + len {
            self.buf.reserve(4 + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(4);
        let body = self.buf.split_to(len).freeze();
        decode_body(body).map(Some)
    }

    /// Bytes received but not yet part of a complete frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// Reads fields off a frame body, never past its end.
struct Reader(Bytes);

impl Reader {
    fn need(&self, n: usize, field: &'static str) -> Result<(), FrameError> {
        if self.0.remaining() < n {
            Err(FrameError::Truncated(field))
        } else {
            Ok(())
        }
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, FrameError> {
        self.need(1, field)?;
        Ok(self.0.get_u8())
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, FrameError> {
        self.need(2, field)?;
        Ok(self.0.get_u16_le())
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, FrameError> {
        self.need(8, field)?;
        Ok(self.0.get_u64_le())
    }

    fn string(&mut self, field: &'static str) -> Result<String, FrameError> {
        let len = self.u16(field)? as usize;
        self.need(len, field)?;
        let raw = self.0.split_to(len);
        String::from_utf8(raw.to_vec()).map_err(|_| FrameError::Utf8(field))
    }

    fn bytes(&mut self, field: &'static str) -> Result<Bytes, FrameError> {
        self.need(4, field)?;
        let len = self.0.get_u32_le() as usize;
        self.need(len, field)?;
        Ok(self.0.split_to(len))
    }

    fn finish(self) -> Result<(), FrameError> {
        match self.0.remaining() {
            0 => Ok(()),
            n => Err(FrameError::Trailing(n)),
        }
    }
}

fn decode_body(body: Bytes) -> Result<Frame, FrameError> {
    let mut r = Reader(body);
    let frame = match r.u8("type")? {
        tag::HELLO => Frame::Hello {
            version: r.u16("version")?,
            token: r.string("token")?,
        },
        tag::WELCOME => Frame::Welcome {
            version: r.u16("version")?,
            node: r.string("node")?,
        },
        tag::SPAWN => {
            let req = r.u64("req")?;
            let plugin = r.string("plugin")?;
            let options = r.bytes("options")?;
            let options =
                String::from_utf8(options.to_vec()).map_err(|_| FrameError::Utf8("options"))?;
            Frame::Spawn {
                req,
                plugin,
                options,
            }
        }
        tag::SPAWNED => Frame::Spawned {
            req: r.u64("req")?,
            name: r.string("name")?,
        },
        tag::SEND => Frame::Send {
            to: r.string("to")?,
            payload: r.bytes("payload")?,
        },
        tag::REQUEST => Frame::Request {
            req: r.u64("req")?,
            hops: r.u8("hops")?,
            to: r.string("to")?,
            payload: r.bytes("payload")?,
        },
        tag::REPLY => Frame::Reply {
            req: r.u64("req")?,
            payload: r.bytes("payload")?,
        },
        tag::ERROR => Frame::Error {
            req: r.u64("req")?,
            code: r.u16("code")?,
            message: r.string("message")?,
        },
        tag::STOP => {
            let req = r.u64("req")?;
            let name = r.string("name")?;
            let kill = r.u8("kill")? != 0;
            Frame::Stop { req, name, kill }
        }
        other => return Err(FrameError::UnknownType(other)),
    };
    r.finish()?;
    Ok(frame)
}

#[cfg(test)]
#[path = "../../tests/all/fuzz_scale.rs"]
mod fuzz_scale;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn samples() -> Vec<Frame> {
        vec![
            Frame::Hello {
                version: PROTOCOL_VERSION,
                token: "t0k3n".into(),
            },
            Frame::Welcome {
                version: 1,
                node: "node-a".into(),
            },
            Frame::Spawn {
                req: 7,
                plugin: "echo".into(),
                options: r#"{"memory":"8 MiB"}"#.into(),
            },
            Frame::Spawned {
                req: 7,
                name: "echo-1".into(),
            },
            Frame::Send {
                to: "a".into(),
                payload: Bytes::from_static(b"hi"),
            },
            Frame::Request {
                req: u64::MAX,
                hops: 3,
                to: "b".into(),
                payload: Bytes::from(vec![0u8; 300]),
            },
            Frame::Reply {
                req: 1,
                payload: Bytes::new(),
            },
            Frame::Error {
                req: 0,
                code: 401,
                message: "wrong token".into(),
            },
            Frame::Stop {
                req: 3,
                name: "x".into(),
                kill: true,
            },
        ]
    }

    fn encode_all(frames: &[Frame]) -> BytesMut {
        let mut out = BytesMut::new();
        for f in frames {
            f.encode(&mut out).unwrap();
        }
        out
    }

    #[test]
    fn every_frame_round_trips_even_one_byte_at_a_time() {
        let frames = samples();
        let wire = encode_all(&frames);
        let mut dec = Decoder::new(DEFAULT_MAX_FRAME);
        let mut got = Vec::new();
        for byte in wire.iter() {
            dec.push(&[*byte]);
            while let Some(f) = dec.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn an_oversized_frame_is_refused_before_it_is_buffered() {
        let mut dec = Decoder::new(1024);
        dec.push(&(1_000_000u32).to_le_bytes());
        assert_eq!(
            dec.next_frame(),
            Err(FrameError::TooLarge {
                len: 1_000_000,
                max: 1024
            })
        );
    }

    #[test]
    fn malformed_bodies_are_named() {
        let cases: Vec<(Vec<u8>, FrameError)> = vec![
            (vec![0, 0, 0, 0], FrameError::Empty),
            (vec![1, 0, 0, 0, 99], FrameError::UnknownType(99)),
            (
                vec![2, 0, 0, 0, tag::HELLO, 1],
                FrameError::Truncated("version"),
            ),
            (
                vec![5, 0, 0, 0, tag::HELLO, 1, 0, 9, 0],
                FrameError::Truncated("token"),
            ),
            (
                vec![6, 0, 0, 0, tag::HELLO, 1, 0, 1, 0, 0xff],
                FrameError::Utf8("token"),
            ),
            (
                vec![6, 0, 0, 0, tag::HELLO, 1, 0, 0, 0, 7],
                FrameError::Trailing(1),
            ),
        ];
        for (bytes, want) in cases {
            let mut dec = Decoder::new(DEFAULT_MAX_FRAME);
            dec.push(&bytes);
            assert_eq!(dec.next_frame(), Err(want), "{bytes:?}");
        }
    }

    #[test]
    fn a_field_too_long_to_encode_is_an_error_not_a_corrupt_frame() {
        let f = Frame::Hello {
            version: 1,
            token: "x".repeat(70_000),
        };
        assert_eq!(
            f.encode(&mut BytesMut::new()),
            Err(FrameError::FieldTooLong("token"))
        );
        // Between good frames, a failed one leaves the buffer as it was.
        let before = samples();
        let mut out = encode_all(&before);
        let len = out.len();
        let long_error = Frame::Error {
            req: 9,
            code: 500,
            message: "e".repeat(100_000),
        };
        assert_eq!(
            long_error.encode(&mut out),
            Err(FrameError::FieldTooLong("message"))
        );
        assert_eq!(out.len(), len);
        let after = Frame::Reply {
            req: 10,
            payload: Bytes::from_static(b"fine"),
        };
        after.encode(&mut out).unwrap();
        let mut dec = Decoder::new(DEFAULT_MAX_FRAME);
        dec.push(&out);
        let mut got = Vec::new();
        while let Some(f) = dec.next_frame().unwrap() {
            got.push(f);
        }
        assert_eq!(got.len(), before.len() + 1);
        assert_eq!(got.last(), Some(&after));
    }

    #[test]
    fn an_error_frame_clamps_its_text_and_always_encodes() {
        let frame = Frame::error(4, 500, &"why ".repeat(100_000));
        let Frame::Error { message, .. } = &frame else {
            unreachable!()
        };
        assert!(message.len() <= MAX_ERROR_TEXT);
        assert!(message.ends_with("... (truncated)"), "{message}");
        let mut out = BytesMut::new();
        frame.encode(&mut out).unwrap();
        let mut dec = Decoder::new(DEFAULT_MAX_FRAME);
        dec.push(&out);
        assert_eq!(dec.next_frame().unwrap(), Some(frame));
    }

    use super::fuzz_scale::scaled;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(scaled(2000)))]

        /// Arbitrary bytes, cut at arbitrary points, never panic the decoder.
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096), cut in 0usize..4096) {
            let mut dec = Decoder::new(2048);
            let cut = cut.min(data.len());
            for chunk in [&data[..cut], &data[cut..]] {
                dec.push(chunk);
                while let Ok(Some(_)) = dec.next_frame() {}
            }
        }

        /// Any request frame survives encoding and decoding.
        #[test]
        fn requests_round_trip(req in any::<u64>(), hops in any::<u8>(), to in "[a-z0-9_.-]{1,64}", payload in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let frame = Frame::Request { req, hops, to, payload: Bytes::from(payload) };
            let mut out = BytesMut::new();
            frame.encode(&mut out).unwrap();
            let mut dec = Decoder::new(DEFAULT_MAX_FRAME);
            dec.push(&out);
            prop_assert_eq!(dec.next_frame().unwrap(), Some(frame));
        }
    }
}
