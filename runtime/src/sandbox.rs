//! The hostile corpus: the ways an untrusted plugin can misbehave, each run
//! against a real node to show it is contained. A case is contained when the
//! offending agent (or component) fails with the reason the case names, or
//! its attempt is refused, and an agent of another tenant still answers
//! afterwards. The corpus runs from tests and from `hostile()` in scripts
//! (`scripts/multitenant.rhai`), so the figure a user sees is the one CI
//! checks.

use std::time::{Duration, Instant};

use crate::core::limits::AgentLimits;
use crate::node::{AgentHandle, Node, RequestError, SendError, SpawnError, SpawnOptions};

/// What a contained case ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The agent fails with this failure label (`memory`, `deadline`, ...).
    Fails(&'static str),
    /// The handler's call is refused by the host; the agent lives on and
    /// reports an error containing this text.
    Refused(&'static str),
    /// The agent's sends are cut off: by the host's cap on messages per
    /// call or its budget for the call (the reply or refusal names it) or,
    /// if it reaches the deadline first, by the deadline.
    Bounded,
    /// The probe's operation is denied by WASI (its reply starts `denied:`).
    Denied,
    /// The probe sees nothing (its reply equals this text).
    Sees(&'static str),
    /// The host refuses the message before it reaches the agent.
    TooLarge,
    /// The component is refused at load.
    NotLoaded,
}

/// One way to misbehave.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// A short name for reports.
    pub name: &'static str,
    /// The built-in plugin that misbehaves, or the bytes' kind for a load case.
    pub plugin: &'static str,
    /// The request that makes it misbehave.
    pub payload: &'static str,
    /// How it must end.
    pub expect: Expect,
}

const fn case(
    name: &'static str,
    plugin: &'static str,
    payload: &'static str,
    expect: Expect,
) -> Case {
    Case {
        name,
        plugin,
        payload,
        expect,
    }
}

/// The corpus. `garbage` is not a plugin: it stands for random bytes given
/// as a component.
pub const CASES: &[Case] = &[
    case("memory bomb", "crasher", "bomb", Expect::Fails("memory")),
    case(
        "infinite loop",
        "crasher",
        "loop",
        Expect::Fails("deadline"),
    ),
    case(
        "stack overflow",
        "crasher",
        "overflow",
        Expect::Fails("stack-overflow"),
    ),
    case(
        "shadow-stack exhaustion",
        "crasher",
        "deep-frames",
        Expect::Fails("trap"),
    ),
    case("trap", "crasher", "trap", Expect::Fails("trap")),
    case("panic", "crasher", "panic", Expect::Fails("trap")),
    case(
        "sleep in a host call",
        "crasher",
        "sleep",
        Expect::Fails("deadline"),
    ),
    case(
        "huge output message",
        "crasher",
        "huge-output",
        Expect::Refused("message limit"),
    ),
    case("flood of sends", "crasher", "flood", Expect::Bounded),
    case("oversized message in", "echo", "<2 MiB>", Expect::TooLarge),
    case(
        "open a host file",
        "probe",
        "read /etc/passwd",
        Expect::Denied,
    ),
    case("list the host root", "probe", "list /", Expect::Denied),
    case(
        "escape the data dir with ..",
        "probe",
        "read /data/../etc/passwd",
        Expect::Denied,
    ),
    case(
        "open a socket",
        "probe",
        "connect 127.0.0.1:22",
        Expect::Denied,
    ),
    case(
        "read the environment",
        "probe",
        "env",
        Expect::Sees("0 vars, 0 args"),
    ),
    case("invalid component", "garbage", "", Expect::NotLoaded),
    case(
        "component of the wrong world",
        "not-an-agent",
        "",
        Expect::NotLoaded,
    ),
];

/// How one case went.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The case's name.
    pub case: &'static str,
    /// Whether it ended as expected and the bystander still answered.
    pub contained: bool,
    /// What happened, as the node or the agent said it.
    pub observed: String,
    /// How long the case took, from spawn to the bystander's answer.
    pub took: Duration,
}

/// The limits the corpus runs under, those an operator would give an
/// untrusted tenant: a short deadline, so a loop is cut quickly, and 16 MiB
/// of memory, room for the 4 MiB output that is refused for its size.
fn limits() -> AgentLimits {
    AgentLimits {
        deadline: Duration::from_millis(100),
        memory: 16 << 20,
        ..AgentLimits::default()
    }
}

/// Runs `case` in `tenant` on `node`, then asks `bystander` (an echo agent
/// of another tenant) for an answer. Blocking: call it off the runtime.
pub fn run(node: &Node, tenant: &str, case: &Case, bystander: &AgentHandle) -> Outcome {
    let start = Instant::now();
    let (matched, observed) = attempt(node, tenant, case);
    let answered = bystander
        .request_blocking(b"still here?".to_vec(), Duration::from_secs(20))
        .is_ok_and(|r| r == b"still here?");
    let observed = if answered {
        observed
    } else {
        format!("{observed}; the bystander did not answer")
    };
    Outcome {
        case: case.name,
        contained: matched && answered,
        observed,
        took: start.elapsed(),
    }
}

/// Runs the case; returns whether it ended as expected and what was seen.
fn attempt(node: &Node, tenant: &str, case: &Case) -> (bool, String) {
    let plugin = match case.plugin {
        "garbage" => {
            let bytes: Vec<u8> = (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            crate::host::Plugin::from_bytes(node.engine(), "garbage", &bytes)
        }
        name => node.plugin(name),
    };
    let plugin = match plugin {
        Ok(p) => p,
        Err(e) => return (case.expect == Expect::NotLoaded, e.to_string()),
    };
    let options = SpawnOptions {
        tenant: Some(tenant.to_string()),
        limits: limits(),
        ..SpawnOptions::default()
    };
    let agent = match node.spawn_blocking(&plugin, options) {
        Ok(a) => a,
        Err(SpawnError::Start { failure, .. }) => {
            return (case.expect == Expect::NotLoaded, failure.to_string());
        }
        Err(e) => return (false, format!("could not spawn: {e}")),
    };
    let payload = match case.payload {
        "<2 MiB>" => vec![b'x'; 2 << 20],
        p => p.as_bytes().to_vec(),
    };
    let result = agent.request_blocking(payload, Duration::from_secs(30));
    agent.kill();
    let matched = match (&result, case.expect) {
        (Err(RequestError::AgentFailed { failure, .. }), Expect::Fails(label)) => {
            failure.label() == label
        }
        (Err(RequestError::Handler { reason, .. }), Expect::Refused(text)) => reason.contains(text),
        (Ok(reply), Expect::Refused(text)) => String::from_utf8_lossy(reply).contains(text),
        (Err(RequestError::Handler { reason, .. }), Expect::Bounded) => {
            reason.contains("65536") || reason.contains("over its budget")
        }
        (Ok(reply), Expect::Bounded) => reply == b"65536",
        (Err(RequestError::AgentFailed { failure, .. }), Expect::Bounded) => {
            failure.label() == "deadline"
        }
        (Ok(reply), Expect::Denied) => reply.starts_with(b"denied:"),
        (Ok(reply), Expect::Sees(text)) => reply == text.as_bytes(),
        (Err(RequestError::Send(SendError::TooLarge { .. })), Expect::TooLarge) => true,
        _ => false,
    };
    let observed = match result {
        Ok(reply) => {
            let text = String::from_utf8_lossy(&reply);
            format!("replied `{}`", text.chars().take(200).collect::<String>())
        }
        Err(e) => e.to_string(),
    };
    (matched, observed)
}
