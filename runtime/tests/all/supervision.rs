//! Supervision: restarts, retries, dead letters, state that survives.

use std::time::Duration;

use caxton::core::failure::Failure;
use caxton::core::limits::AgentLimits;
use caxton::core::supervision::{RestartMode, RestartPolicy};
use caxton::node::{AgentHandle, RequestError, SpawnOptions, Status};

use super::util::{TIMEOUT, TestNode, eventually, node};

fn supervised(
    t: &TestNode,
    name: &str,
    restart: RestartPolicy,
    limits: AgentLimits,
) -> AgentHandle {
    let plugin = t.node.plugin("crasher").unwrap();
    let options = SpawnOptions {
        name: Some(name.into()),
        limits,
        restart,
        ..SpawnOptions::default()
    };
    t.node.spawn_blocking(&plugin, options).unwrap()
}

fn on_failure(max_retries: u32) -> RestartPolicy {
    RestartPolicy {
        mode: RestartMode::OnFailure,
        max_retries,
        max_restarts: 1000,
        backoff: Duration::ZERO,
        ..RestartPolicy::default()
    }
}

fn ask(agent: &AgentHandle, command: &str) -> Result<String, RequestError> {
    agent
        .request_blocking(command.as_bytes().to_vec(), TIMEOUT)
        .map(|b| String::from_utf8(b).unwrap())
}

#[test]
fn a_crash_loses_none_of_the_messages_queued_behind_it() {
    let t = node();
    let limits = AgentLimits {
        mailbox: 1000,
        ..AgentLimits::default()
    };
    let agent = supervised(&t, "c", on_failure(0), limits);
    // Queued from one thread: FIFO. The trap lands mid-batch, so its batch
    // is redelivered one by one and only the trap is dead-lettered.
    for i in 0..401 {
        let command: &[u8] = if i == 200 { b"trap" } else { b"count" };
        agent.send(command.to_vec()).unwrap();
    }
    assert_eq!(ask(&agent, "get").unwrap(), "400");
    assert!(agent.restarts() >= 1);
    assert_eq!(agent.status(), Status::Running);
    let dead = t.node.dead_letters();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].payload, b"trap");
    assert!(matches!(dead[0].reason, Failure::Trap { .. }));
    let recovery = t.node.recovery_stats();
    assert!(
        recovery
            .iter()
            .any(|s| s.name == "recovery (trap)" && s.count >= 1),
        "{recovery:?}"
    );
}

#[test]
fn a_poison_message_is_dead_lettered_after_its_retries() {
    let t = node();
    let agent = supervised(&t, "p", on_failure(2), AgentLimits::default());
    let err = ask(&agent, "trap").unwrap_err();
    assert!(matches!(err, RequestError::AgentFailed { .. }), "{err}");
    assert_eq!(
        agent.restarts(),
        3,
        "one delivery and two retries, each a crash"
    );
    let dead = t.node.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].agent, "p");
    // The agent serves again.
    assert_eq!(ask(&agent, "ok").unwrap(), "ok");
    assert!(matches!(agent.last_failure(), Some(Failure::Trap { .. })));
}

#[test]
fn state_survives_a_trap_but_the_trapping_handler_writes_nothing() {
    let t = node();
    let agent = supervised(&t, "s", on_failure(0), AgentLimits::default());
    for _ in 0..3 {
        ask(&agent, "count").unwrap();
    }
    assert!(ask(&agent, "count-then-trap").is_err());
    assert_eq!(ask(&agent, "get").unwrap(), "3");
    assert_eq!(ask(&agent, "count").unwrap(), "4");
}

#[test]
fn too_many_restarts_mark_the_agent_failed_and_say_why() {
    let t = node();
    let policy = RestartPolicy {
        max_restarts: 2,
        max_retries: 10,
        ..on_failure(10)
    };
    let agent = supervised(&t, "f", policy, AgentLimits::default());
    let err = ask(&agent, "trap").unwrap_err();
    let RequestError::AgentFailed { failure, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        matches!(failure, Failure::GaveUp { restarts: 2, .. }),
        "{failure:?}"
    );
    assert!(
        agent
            .status()
            .to_string()
            .contains("gave up after 2 restarts"),
        "{}",
        agent.status()
    );
    assert!(ask(&agent, "ok").is_err());
}

#[test]
fn a_deadline_failure_restarts_and_serves_again() {
    let t = node();
    let limits = AgentLimits {
        deadline: Duration::from_millis(20),
        ..AgentLimits::default()
    };
    let agent = supervised(&t, "d", on_failure(0), limits);
    let err = ask(&agent, "loop").unwrap_err();
    assert!(
        matches!(
            &err,
            RequestError::AgentFailed {
                failure: Failure::Deadline { .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(ask(&agent, "ok").unwrap(), "ok");
    eventually(|| {
        t.node
            .recovery_stats()
            .iter()
            .any(|s| s.name == "recovery (deadline)")
    });
}

#[test]
fn without_a_policy_a_failure_is_final() {
    let t = node();
    let agent = supervised(&t, "n", RestartPolicy::default(), AgentLimits::default());
    assert!(ask(&agent, "trap").is_err());
    assert!(matches!(
        agent.status(),
        Status::Failed(Failure::Trap { .. })
    ));
    assert_eq!(agent.restarts(), 0);
    assert!(t.node.dead_letters().is_empty());
}

#[test]
fn a_supervised_agent_can_still_be_killed() {
    let t = node();
    let limits = AgentLimits {
        deadline: Duration::from_secs(60),
        ..AgentLimits::default()
    };
    let agent = supervised(&t, "k", on_failure(5), limits);
    agent.send(b"loop".to_vec()).unwrap();
    eventually(|| agent.queued() == 0);
    agent.kill();
    assert_eq!(agent.status(), Status::Failed(Failure::Killed));
    assert_eq!(agent.restarts(), 0);
}

/// A blocking request that crashes an idle agent is handled on the
/// caller's thread, and so is the supervisor's part that needs no waiting
/// (a first failure restarts at once). A restart's backoff (from the
/// second failure in a row) is waited out on the runtime: the failure
/// comes back at once, and the next request is served once the restart is
/// done.
#[test]
fn a_crash_on_the_callers_thread_restarts_after_its_backoff_on_the_runtime() {
    let t = node();
    let policy = RestartPolicy {
        backoff: Duration::from_millis(20),
        ..on_failure(0)
    };
    let agent = supervised(&t, "b", policy, AgentLimits::default());
    for round in 1..=3 {
        for _ in 0..2 {
            let err = ask(&agent, "trap").unwrap_err();
            assert!(matches!(err, RequestError::AgentFailed { .. }), "{err}");
        }
        assert_eq!(ask(&agent, "ok").unwrap(), "ok");
        assert_eq!(agent.restarts(), 2 * round);
    }
    assert_eq!(t.node.dead_letters().len(), 6);
}
