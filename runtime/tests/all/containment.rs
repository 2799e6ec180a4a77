//! What a guest makes the host do is bounded: deadlines by the wall clock
//! whatever the batch, a caller's timeout even when the handler runs on its
//! thread, mailboxes by bytes, and one agent's long error never breaks a
//! QUIC connection. The `hostile` plugin (written without the SDK) attacks.

use std::time::{Duration, Instant};

use caxton::core::limits::AgentLimits;
use caxton::net::NetError;
use caxton::net::client::RemoteNode;
use caxton::net::server::{Server, ServerOptions};
use caxton::net::tls::Identity;
use caxton::node::{RequestError, SendError, Status};

use super::util::{TIMEOUT, assert_answers, eventually, node};

fn limits(deadline: Duration) -> AgentLimits {
    AgentLimits {
        deadline,
        memory: 16 << 20,
        ..AgentLimits::default()
    }
}

#[test]
fn a_runaway_handle_batch_gets_one_deadline_not_one_per_message() {
    let t = node();
    let deadline = Duration::from_millis(100);
    let agent = t.spawn("hostile", "batcher", limits(deadline));
    // Twenty messages queue up behind a pause, then go in with one
    // `handle-batch` call that never returns. A deadline per message would
    // let it run 21 x 100 ms.
    agent.send(b"pause 30".to_vec()).unwrap();
    for _ in 0..20 {
        agent.send(b"echo".to_vec()).unwrap();
    }
    let start = Instant::now();
    let err = agent
        .request_blocking(b"batch-loop".to_vec(), TIMEOUT)
        .unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(&err, RequestError::AgentFailed { failure, .. } if failure.label() == "deadline"),
        "{err}"
    );
    assert!(
        took < deadline * 10,
        "the batch ran {took:?}, past its {deadline:?} deadline"
    );
    eprintln!(
        "runaway handle-batch -> caller's error: {took:?} (deadline {deadline:?}, after a 30 ms pause)"
    );
}

#[test]
fn a_callers_timeout_holds_when_the_handler_runs_on_its_thread() {
    let t = node();
    // The handler spins up to its 5 s deadline; the caller waits 300 ms.
    let agent = t.spawn("hostile", "spinner", limits(Duration::from_secs(5)));
    let start = Instant::now();
    let err = agent
        .request_blocking(b"loop".to_vec(), Duration::from_millis(300))
        .unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, RequestError::Timeout { .. }), "{err}");
    assert!(
        took < Duration::from_secs(4),
        "the caller waited {took:?} for a 300 ms timeout"
    );
    // The handler went on off the caller's thread, until its deadline.
    eventually(|| matches!(agent.status(), Status::Failed(ref f) if f.label() == "deadline"));
}

#[test]
fn a_mailbox_is_bounded_by_bytes_as_well_as_messages() {
    let t = node();
    // 4 MiB of memory: a mailbox of 2 MiB. The agent is kept busy, so
    // messages queue: 1 MiB payloads fit twice at most, whatever `mailbox`.
    let small = AgentLimits {
        memory: 4 << 20,
        mailbox: 1000,
        deadline: Duration::from_secs(5),
        ..AgentLimits::default()
    };
    let agent = t.spawn("hostile", "busy", small);
    // Busy for 2 s: time enough for the sends below on a loaded machine.
    agent.send(b"pause 2000".to_vec()).unwrap();
    eventually(|| agent.queued() == 0);
    let big = vec![b'x'; 1 << 20];
    let mut accepted = 0;
    let err = loop {
        match agent.send(big.clone()) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 10, "ten 1 MiB messages queued for a 4 MiB agent");
    };
    assert!(
        matches!(err, SendError::MailboxFull { bytes, .. } if bytes == 2 << 20),
        "{err}"
    );
    assert!(agent.queued_bytes() <= 2 << 20, "{}", agent.queued_bytes());
    assert!(accepted >= 1, "not even one message was queued");
    // Once drained, it takes messages again.
    eventually(|| agent.queued() == 0);
    assert_answers(&t.echo("other"));
}

#[test]
fn a_long_error_arrives_truncated_and_the_connection_keeps_serving() {
    let t = node();
    let identity = Identity::generate().unwrap();
    let options = ServerOptions::new("127.0.0.1:0".parse().unwrap(), "tok", "acme");
    let server = Server::start(t.node.clone(), &identity, options).unwrap();
    let rt = t.node.runtime().clone();
    let client = rt
        .block_on(RemoteNode::connect(
            server.local_addr(),
            server.fingerprint(),
            "tok",
        ))
        .unwrap();
    rt.block_on(client.spawn("hostile", r#"{"name":"bad"}"#))
        .unwrap();
    rt.block_on(client.spawn("echo", r#"{"name":"good"}"#))
        .unwrap();

    // The long error, with requests to another agent in flight beside it
    // on the same connection.
    let (bad, good) = rt.block_on(async {
        let good: Vec<_> = (0..50)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    client
                        .request("good", format!("n{i}").into_bytes(), TIMEOUT)
                        .await
                })
            })
            .collect();
        let bad = client
            .request("bad", b"long-error 200000".to_vec(), TIMEOUT)
            .await;
        let mut replies = Vec::new();
        for g in good {
            replies.push(g.await.unwrap());
        }
        (bad, replies)
    });
    let err = bad.unwrap_err();
    let NetError::Remote(text) = &err else {
        panic!("{err}");
    };
    assert!(
        text.ends_with("... (truncated)"),
        "{}",
        &text[text.len() - 40..]
    );
    assert!(text.len() < 64 << 10, "{} bytes", text.len());
    for (i, reply) in good.into_iter().enumerate() {
        assert_eq!(reply.unwrap(), format!("n{i}").into_bytes());
    }

    // A client's own bad input whose error quotes it at length: the same.
    let huge_option = format!(r#"{{"memory":"{}"}}"#, "9".repeat(100_000));
    let err = rt.block_on(client.spawn("echo", &huge_option)).unwrap_err();
    assert!(err.to_string().ends_with("... (truncated)"), "{err}");

    // The connection still serves.
    let reply = rt
        .block_on(client.request("good", b"after".to_vec(), TIMEOUT))
        .unwrap();
    assert_eq!(reply, b"after");
}

#[test]
fn the_epoch_ticker_sleeps_while_no_guest_runs_and_wakes_for_a_runaway() {
    // An idle node has no periodic wake-ups: its epoch ticker parks. A
    // guest that then runs away still meets its deadline, because entering
    // guest code wakes the ticker.
    let t = node();
    let ticker = t.node.engine().ticker().clone();
    let agent = t.spawn("hostile", "sleeper", limits(Duration::from_millis(100)));
    eventually(|| ticker.is_parked());
    let err = agent
        .request_blocking(b"loop".to_vec(), TIMEOUT)
        .unwrap_err();
    assert!(err.to_string().contains("deadline"), "{err}");
    eventually(|| ticker.is_parked());
}
