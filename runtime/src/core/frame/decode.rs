//! Reading frames out of a byte stream: a length is checked against the
//! limit before anything is buffered, and every field against what is left.

use bytes::{Buf, Bytes, BytesMut};

use super::{Frame, FrameError, tag};

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
        tag::OBSERVE => Frame::Observe {
            req: r.u64("req")?,
            tenant: r.string("tenant")?,
        },
        tag::UPLOAD => Frame::Upload {
            req: r.u64("req")?,
            name: r.string("name")?,
            size: r.u64("size")?,
        },
        tag::LOAD => {
            let req = r.u64("req")?;
            let share = r.bytes("share")?;
            let share = String::from_utf8(share.to_vec()).map_err(|_| FrameError::Utf8("share"))?;
            Frame::Load { req, share }
        }
        other => return Err(FrameError::UnknownType(other)),
    };
    r.finish()?;
    Ok(frame)
}
