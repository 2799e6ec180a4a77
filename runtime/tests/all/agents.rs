//! Agents doing their normal work.

use caxton::core::limits::AgentLimits;
use caxton::node::{RequestError, SendError, Status};

use super::util::{TIMEOUT, assert_answers, eventually, node};

#[test]
fn echo_answers_requests_with_their_payload() {
    let t = node();
    let echo = t.echo("echo");
    assert_eq!(
        echo.request_blocking(b"hello".to_vec(), TIMEOUT).unwrap(),
        b"hello"
    );
    let big = vec![7u8; 256 << 10];
    assert_eq!(echo.request_blocking(big.clone(), TIMEOUT).unwrap(), big);
    for i in 0..200u32 {
        let payload = i.to_le_bytes().to_vec();
        assert_eq!(
            echo.request_blocking(payload.clone(), TIMEOUT).unwrap(),
            payload
        );
    }
    assert_eq!(echo.handled(), 202);
    assert_eq!(echo.status(), Status::Running);
}

#[test]
fn requests_from_the_runtime_work_and_batches_keep_order() {
    let t = node();
    let echo = t.echo("echo");
    let node = t.node.clone();
    let replies = t.node.runtime().block_on(async move {
        let mut waits = Vec::new();
        for i in 0..500u32 {
            let echo = echo.clone();
            waits.push(tokio::spawn(async move {
                echo.request(i.to_le_bytes().to_vec(), TIMEOUT).await
            }));
        }
        let mut out = Vec::new();
        for w in waits {
            out.push(w.await.unwrap().unwrap());
        }
        drop(node);
        out
    });
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(reply, &(i as u32).to_le_bytes());
    }
}

#[test]
fn counter_keeps_its_count_in_state() {
    let t = node();
    let counter = t.spawn("counter", "counter", AgentLimits::default());
    for _ in 0..5 {
        counter.send(b"inc".to_vec()).unwrap();
    }
    // The mailbox is FIFO: the request is handled after the five sends.
    let count = counter.request_blocking(b"get".to_vec(), TIMEOUT).unwrap();
    assert_eq!(count, b"5");
    let count = counter.request_blocking(b"inc".to_vec(), TIMEOUT).unwrap();
    assert_eq!(count, b"6");
}

#[test]
fn compute_runs_the_same_kernel_as_the_host() {
    let t = node();
    let compute = t.spawn("compute", "compute", AgentLimits::default());
    // sieve 2000000 reaches i > 65535, where i * i overflows a 32-bit
    // usize: that once made the WASM answer differ from the native one.
    for command in ["sieve 10000", "sieve 2000000", "matmul 16", "fib 90"] {
        let reply = compute
            .request_blocking(command.as_bytes().to_vec(), TIMEOUT)
            .unwrap();
        let native = caxton_kernels::run(command).unwrap();
        assert_eq!(
            String::from_utf8(reply).unwrap(),
            native.to_string(),
            "{command}"
        );
    }
}

#[test]
fn names_are_unique_and_stop_frees_them() {
    let t = node();
    let echo = t.echo("same");
    let plugin = t.node.plugin("echo").unwrap();
    let options = caxton::node::SpawnOptions {
        name: Some("same".into()),
        ..Default::default()
    };
    let err = t.node.spawn_blocking(&plugin, options.clone()).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    echo.stop();
    assert_eq!(echo.status(), Status::Stopped);
    let again = t.node.spawn_blocking(&plugin, options).unwrap();
    assert_answers(&again);
    let err = echo.request_blocking(b"x".to_vec(), TIMEOUT).unwrap_err();
    assert!(
        matches!(err, RequestError::Send(SendError::NotRunning { .. })),
        "{err}"
    );
}

#[test]
fn a_full_mailbox_is_backpressure_not_growth() {
    let t = node();
    let limits = AgentLimits {
        mailbox: 3,
        deadline: std::time::Duration::from_secs(30),
        ..AgentLimits::default()
    };
    let crasher = t.spawn("crasher", "busy", limits);
    crasher.send(b"loop".to_vec()).unwrap();
    eventually(|| crasher.queued() == 0);
    for _ in 0..3 {
        crasher.send(b"ok".to_vec()).unwrap();
    }
    let err = crasher.send(b"ok".to_vec()).unwrap_err();
    assert!(
        matches!(err, SendError::MailboxFull { capacity: 3, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("mailbox of `busy` is full"),
        "{err}"
    );
    crasher.kill();
}

#[test]
fn oversized_messages_are_refused_at_the_mailbox() {
    let t = node();
    let limits = AgentLimits {
        max_message: 1024,
        ..AgentLimits::default()
    };
    let echo = t.spawn("echo", "small", limits);
    let err = echo.send(vec![0; 1025]).unwrap_err();
    assert!(
        matches!(
            err,
            SendError::TooLarge {
                size: 1025,
                limit: 1024,
                ..
            }
        ),
        "{err}"
    );
    assert_answers(&echo);
}

#[test]
fn ten_thousand_messages_all_arrive() {
    let t = node();
    let counter = t.spawn(
        "counter",
        "c",
        AgentLimits {
            mailbox: 20_000,
            ..AgentLimits::default()
        },
    );
    for _ in 0..10_000 {
        counter.send(b"inc".to_vec()).unwrap();
    }
    let count = counter.request_blocking(b"get".to_vec(), TIMEOUT).unwrap();
    assert_eq!(count, b"10000");
}

#[test]
fn relays_route_sends_and_forward_requests_to_the_last_hop() {
    let t = node();
    let counter = t.spawn("counter", "counter", AgentLimits::default());
    let plugin = t.node.plugin("relay").unwrap();
    let relay = |name: &str, next: &str| {
        let options = caxton::node::SpawnOptions {
            name: Some(name.into()),
            config: next.into(),
            ..Default::default()
        };
        t.node.spawn_blocking(&plugin, options).unwrap()
    };
    let _r1 = relay("r1", "counter");
    let r0 = relay("r0", "r1");
    // r0 -> r1 -> counter; the counter's reply goes straight to this caller.
    assert_eq!(r0.request_blocking(b"inc".to_vec(), TIMEOUT).unwrap(), b"1");
    // Informs travel the same path as sends between agents.
    for _ in 0..10 {
        r0.send(b"inc".to_vec()).unwrap();
    }
    eventually(|| counter.handled() == 11);
    assert_eq!(
        counter.request_blocking(b"get".to_vec(), TIMEOUT).unwrap(),
        b"11"
    );
    assert_eq!(t.node.undeliverable(), 0);
}

#[test]
fn sends_to_nobody_are_counted_and_forwards_to_nobody_fail_the_request() {
    let t = node();
    let plugin = t.node.plugin("relay").unwrap();
    let options = caxton::node::SpawnOptions {
        name: Some("lost".into()),
        config: "nobody".into(),
        ..Default::default()
    };
    let relay = t.node.spawn_blocking(&plugin, options).unwrap();
    relay.send(b"hello?".to_vec()).unwrap();
    eventually(|| t.node.undeliverable() == 1);
    let err = relay
        .request_blocking(b"hello?".to_vec(), TIMEOUT)
        .unwrap_err();
    assert!(
        matches!(&err, RequestError::Send(SendError::NoSuchAgent(n)) if n == "nobody"),
        "{err}"
    );
    assert_eq!(relay.status(), Status::Running);
}

/// A blocking request to an idle agent is handled on the caller's thread
/// (`node/direct.rs`); every kind of answer must come back that way as it
/// does through a mailbox: none, the handler's failure, a forward that
/// ends at the hop limit, and a reply after all of those.
#[test]
fn blocking_requests_get_every_kind_of_answer() {
    let t = node();
    let agent = t.spawn("hostile", "hostile", AgentLimits::default());
    let err = agent
        .request_blocking(b"pause 0".to_vec(), TIMEOUT)
        .unwrap_err();
    assert!(
        matches!(&err, RequestError::NoReply(n) if n == "hostile"),
        "{err}"
    );
    let err = agent
        .request_blocking(b"nonsense".to_vec(), TIMEOUT)
        .unwrap_err();
    assert!(
        matches!(&err, RequestError::Handler { reason, .. } if reason.contains("unknown command")),
        "{err}"
    );
    let err = agent
        .request_blocking(b"forward-self".to_vec(), TIMEOUT)
        .unwrap_err();
    assert!(
        matches!(&err, RequestError::Send(SendError::HopLimit { .. })),
        "{err}"
    );
    assert_eq!(
        agent
            .request_blocking(b"echo hi".to_vec(), TIMEOUT)
            .unwrap(),
        b"echo hi"
    );
    assert_eq!(agent.status(), Status::Running);
}
