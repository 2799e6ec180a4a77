//! Misbehaving agents fail alone, with a typed reason; the host and the
//! other agents carry on.

use std::time::Duration;

use caxton::core::failure::Failure;
use caxton::core::limits::AgentLimits;
use caxton::node::{AgentHandle, RequestError, Status};

use caxton::host::EngineOptions;

use super::util::{TIMEOUT, TestNode, assert_answers, cache_dir, eventually, node, node_with};

/// Sends `command` to a fresh crasher and returns how it failed.
fn crash(t: &TestNode, command: &str, limits: AgentLimits) -> (AgentHandle, Failure) {
    let crasher = t.spawn("crasher", &format!("crasher-{command}"), limits);
    let err = crasher
        .request_blocking(command.as_bytes().to_vec(), TIMEOUT)
        .unwrap_err();
    let RequestError::AgentFailed { failure, .. } = err else {
        panic!("`{command}` should fail the agent, got: {err}");
    };
    assert_eq!(crasher.status(), Status::Failed(failure.clone()));
    (crasher, failure)
}

#[test]
fn hog_over_its_memory_limit_fails_with_the_memory_reason() {
    let t = node();
    let bystander = t.echo("bystander");
    let limits = AgentLimits {
        memory: 4 << 20,
        ..AgentLimits::default()
    };
    let hog = t.spawn("hog", "hog", limits);
    let held = hog
        .request_blocking(b"alloc 1048576".to_vec(), TIMEOUT)
        .unwrap();
    assert_eq!(held, b"1048576");
    let err = hog
        .request_blocking(b"alloc 8388608".to_vec(), TIMEOUT)
        .unwrap_err();
    let RequestError::AgentFailed { failure, .. } = &err else {
        panic!("expected a failure, got {err}");
    };
    assert!(
        matches!(failure, Failure::MemoryLimit { limit, requested } if *limit == 4 << 20 && *requested > 4 << 20),
        "{failure:?}"
    );
    assert!(err.to_string().contains("memory limit exceeded"), "{err}");
    assert_eq!(failure.label(), "memory");
    assert_answers(&bystander);
}

#[test]
fn an_infinite_loop_is_cut_by_the_deadline() {
    let t = node();
    let bystander = t.echo("bystander");
    let limits = AgentLimits {
        deadline: Duration::from_millis(50),
        ..AgentLimits::default()
    };
    let (_, failure) = crash(&t, "loop", limits);
    assert_eq!(
        failure,
        Failure::Deadline {
            limit: Duration::from_millis(50)
        }
    );
    assert_answers(&bystander);
}

#[test]
fn a_bystander_keeps_answering_while_an_agent_spins() {
    let t = node();
    let bystander = t.echo("bystander");
    let limits = AgentLimits {
        deadline: Duration::from_secs(60),
        ..AgentLimits::default()
    };
    // Two spinners: one per worker thread of the test runtime. Without
    // epoch yields they would hold both workers until their deadline.
    let spinners: Vec<_> = (0..2)
        .map(|i| {
            let s = t.spawn("crasher", &format!("spinner-{i}"), limits.clone());
            s.send(b"loop".to_vec()).unwrap();
            s
        })
        .collect();
    eventually(|| spinners.iter().all(|s| s.queued() == 0));
    let node = t.node.clone();
    let answered = t.node.runtime().block_on(async {
        let mut ok = 0;
        for _ in 0..20 {
            if bystander.request(b"hi".to_vec(), TIMEOUT).await.is_ok() {
                ok += 1;
            }
        }
        drop(node);
        ok
    });
    assert_eq!(answered, 20);
    for s in &spinners {
        s.kill();
        assert_eq!(s.status(), Status::Failed(Failure::Killed));
    }
}

#[test]
fn a_trap_is_contained() {
    let t = node();
    let bystander = t.echo("bystander");
    let (_, failure) = crash(&t, "trap", AgentLimits::default());
    let Failure::Trap { trap, .. } = &failure else {
        panic!("{failure:?}")
    };
    assert!(trap.contains("unreachable"), "{trap}");
    assert_answers(&bystander);
}

#[test]
fn a_panic_is_contained_and_its_message_reported() {
    let t = node();
    let bystander = t.echo("bystander");
    let (_, failure) = crash(&t, "panic", AgentLimits::default());
    let Failure::Trap { detail, .. } = &failure else {
        panic!("{failure:?}")
    };
    let detail = detail.as_deref().unwrap_or_default();
    assert!(detail.contains("crasher was asked to panic"), "{detail}");
    assert_answers(&bystander);
}

#[test]
fn a_stack_overflow_is_contained() {
    let t = node();
    let bystander = t.echo("bystander");
    let (_, failure) = crash(&t, "overflow", AgentLimits::default());
    assert_eq!(failure, Failure::StackOverflow);
    assert_answers(&bystander);
}

#[test]
fn exhausting_the_guest_shadow_stack_is_contained() {
    let t = node();
    let bystander = t.echo("bystander");
    let (_, failure) = crash(&t, "deep-frames", AgentLimits::default());
    let Failure::Trap { trap, .. } = &failure else {
        panic!("{failure:?}")
    };
    assert!(trap.contains("out of bounds memory access"), "{trap}");
    assert!(trap.contains("shadow stack"), "{trap}");
    assert_answers(&bystander);
}

#[test]
fn a_handled_error_keeps_the_agent_alive() {
    let t = node();
    let crasher = t.spawn("crasher", "c", AgentLimits::default());
    let err = crasher
        .request_blocking(b"err".to_vec(), TIMEOUT)
        .unwrap_err();
    assert!(
        matches!(&err, RequestError::Handler { reason, .. } if reason.contains("asked to fail")),
        "{err}"
    );
    assert_eq!(
        crasher.request_blocking(b"ok".to_vec(), TIMEOUT).unwrap(),
        b"ok"
    );
    assert_eq!(crasher.status(), Status::Running);
}

#[test]
fn queued_requests_of_a_failed_agent_get_errors_not_hangs() {
    let t = node();
    let crasher = t.spawn("crasher", "c", AgentLimits::default());
    crasher.send(b"trap".to_vec()).unwrap();
    let err = crasher
        .request_blocking(b"ok".to_vec(), TIMEOUT)
        .unwrap_err();
    assert!(
        matches!(
            err,
            RequestError::AgentFailed { .. } | RequestError::Send(_)
        ),
        "{err}"
    );
}

#[test]
fn kill_interrupts_a_running_handler() {
    // A node with a single instance slot: the next spawn can only succeed
    // once the spinning handler was really interrupted and its instance
    // (and pool slot) dropped. Its deadline (60 s) is far beyond the wait.
    let t = node_with(EngineOptions {
        max_agents: 1,
        max_memory: 64 << 20,
        cache_dir: cache_dir(),
        ..EngineOptions::default()
    });
    let limits = AgentLimits {
        deadline: Duration::from_secs(60),
        memory: 16 << 20,
        ..AgentLimits::default()
    };
    let crasher = t.spawn("crasher", "spin", limits);
    crasher.send(b"loop".to_vec()).unwrap();
    eventually(|| crasher.queued() == 0);
    crasher.kill();
    assert_eq!(crasher.status(), Status::Failed(Failure::Killed));
    let echo = t.node.plugin("echo").unwrap();
    let mut after = None;
    eventually(|| {
        after = t.node.spawn_blocking(&echo, Default::default()).ok();
        after.is_some()
    });
    assert_answers(&after.unwrap());
}
