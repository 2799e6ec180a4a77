//! Round trips, malformed bodies, and arbitrary bytes against the decoder.

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
        Frame::Observe {
            req: 4,
            tenant: "acme".into(),
        },
        Frame::Upload {
            req: 5,
            name: "my_agent".into(),
            size: 1 << 20,
        },
        Frame::Load {
            req: 6,
            share: r#"{"targets":["e"],"options":{"rate":100}}"#.into(),
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
