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
    /// The agent never starts: instantiation or `init` fails with this label.
    StartFails(&'static str),
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
    /// The agent replies, and the reply contains this text (what the host
    /// told it).
    Says(&'static str),
    /// The request fails, and the error contains this text.
    Error(&'static str),
    /// The agent's log lines over its rate are dropped (and counted).
    LogCut,
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
    /// The `init` config it is spawned with.
    pub config: &'static str,
    /// The request that makes it misbehave (`<batch>`: a batch of
    /// messages ending in `batch-loop`, handed over with one call).
    pub payload: &'static str,
    /// How it must end.
    pub expect: Expect,
    /// How long the agent is left to go on after its answer (a flood that
    /// keeps itself going), before it is killed.
    pub linger_ms: u64,
    /// Whether a second, busy agent of the tenant is there to flood:
    /// `<sink>` in the payload names it.
    pub sink: bool,
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
        config: "",
        payload,
        expect,
        linger_ms: 0,
        sink: false,
    }
}

/// A case of the `hostile` plugin, written without the SDK.
const fn hostile(name: &'static str, payload: &'static str, expect: Expect) -> Case {
    case(name, "hostile", payload, expect)
}

/// A case that misbehaves in `init`.
const fn in_init(name: &'static str, config: &'static str, expect: Expect) -> Case {
    Case {
        config,
        ..case(name, "hostile", "echo", expect)
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
    in_init("loop in init", "loop", Expect::StartFails("deadline")),
    in_init("sleep in init", "sleep", Expect::StartFails("deadline")),
    in_init(
        "host-call loop in init",
        "host-loop",
        Expect::StartFails("deadline"),
    ),
    hostile(
        "loop inside handle-batch",
        "<batch>",
        Expect::Fails("deadline"),
    ),
    hostile("host-call loop", "host-loop", Expect::Fails("deadline")),
    hostile(
        "1 MiB sends in one call",
        "send-big",
        Expect::Refused("over its budget"),
    ),
    Case {
        linger_ms: 300,
        ..hostile("send amplification", "amplify", Expect::Sees("amplifying"))
    },
    Case {
        linger_ms: 1000,
        sink: true,
        ..hostile(
            "flood a busy agent's mailbox",
            "flood-to <sink>",
            Expect::Sees("flooding"),
        )
    },
    hostile(
        "state key flood",
        "state-keys 1000",
        Expect::Fails("budget"),
    ),
    hostile("state value flood", "state-big", Expect::Fails("budget")),
    hostile(
        "state delete flood",
        "state-deletes",
        Expect::Fails("budget"),
    ),
    hostile("log flood", "log-flood 5000", Expect::LogCut),
    hostile(
        "forward loop",
        "forward-self",
        Expect::Error("forwarding loop"),
    ),
    hostile(
        "malformed address",
        "spoof ../etc",
        Expect::Says("refused: address"),
    ),
    hostile(
        "`..` as a name",
        "spoof ..",
        Expect::Says("not a valid name"),
    ),
    hostile(
        "1 MiB address",
        "spoof-long 1048576",
        Expect::Says("not a valid name"),
    ),
    hostile(
        "another tenant without a grant",
        "spoof victim/bystander",
        Expect::Says("has no grant for tenant `victim`"),
    ),
    hostile(
        "unknown peer node",
        "spoof x@nowhere",
        Expect::Says("no peer node named `nowhere`"),
    ),
    hostile(
        "100 KB error string",
        "long-error 100000",
        Expect::Error("... (truncated)"),
    ),
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
    /// Whether it did not end as expected because its deadline cut it
    /// first (the bystander answered). Contained too, but its own reason
    /// went unchecked: on a busy node a background tenant's threads may
    /// wait for a core past the deadline, which counts the wall clock.
    pub cut: bool,
    /// What happened, as the node or the agent said it.
    pub observed: String,
    /// How long the case took, from spawn to the bystander's answer.
    pub took: Duration,
    /// How far the host's resident memory rose above where it was before
    /// the case, at its peak (Linux: `VmHWM` after a reset of it), if known.
    /// Only meaningful when nothing else runs in the process meanwhile.
    pub rss_growth: Option<u64>,
    /// What the growth must stay under for a spawned agent: base + 2x its
    /// limits (see [`rss_bound`]); `None` for cases that load no agent.
    pub rss_bound: Option<u64>,
}

impl Outcome {
    /// Whether the peak growth stayed under the bound (true where either is
    /// unknown).
    pub fn within_bound(&self) -> bool {
        match (self.rss_growth, self.rss_bound) {
            (Some(growth), Some(bound)) => growth <= bound,
            _ => true,
        }
    }
}

/// The limits a case runs under, those an operator would give an
/// untrusted tenant: 16 MiB of memory (room for the 4 MiB output that is
/// refused for its size), and a short deadline for a case that the
/// deadline must cut (so it is cut quickly), a long one for a case that
/// must end in another way (so a busy machine, or a background tenant's
/// threads waiting for a core, never cut it first: the deadline counts
/// the wall clock).
fn limits(case: &Case) -> AgentLimits {
    let cut = matches!(
        case.expect,
        Expect::Fails("deadline") | Expect::StartFails("deadline")
    );
    AgentLimits {
        deadline: Duration::from_millis(if cut { 100 } else { 2000 }),
        memory: 16 << 20,
        ..AgentLimits::default()
    }
}

/// Fixed host memory one case may add besides its agent's limits: the
/// instance's own structures, its stacks, the node's bookkeeping and the
/// allocator's slack.
pub const RSS_BASE: u64 = 24 << 20;

/// The most host memory an agent with `limits` may make the host use:
/// [`RSS_BASE`] + 2 x (its memory + its largest message): its own linear
/// memory, and what the host holds for it (a memory's worth, split
/// between a call, its mailbox and its state; see `core::budget`), plus a
/// message in flight each way.
pub fn rss_bound(limits: &AgentLimits) -> u64 {
    RSS_BASE + 2 * (limits.memory + limits.max_message as u64)
}

/// Runs `case` in `tenant` on `node`, then asks `bystander` (an echo agent
/// of another tenant) for an answer. Blocking: call it off the runtime.
pub fn run(node: &Node, tenant: &str, case: &Case, bystander: &AgentHandle) -> Outcome {
    // Compile the plugin first: compiling is not the agent's doing.
    let _ = node.plugin(case.plugin);
    let start = Instant::now();
    let rss_before = crate::measure::resources::reset_peak_rss();
    let (matched, cut, observed) = attempt(node, tenant, case);
    let rss_growth = rss_before
        .zip(crate::measure::resources::peak_rss())
        .map(|(before, peak)| peak.saturating_sub(before));
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
        cut: cut && !matched && answered,
        observed,
        took: start.elapsed(),
        rss_growth,
        rss_bound: (case.expect != Expect::NotLoaded).then(|| rss_bound(&limits(case))),
    }
}

/// Runs the case; returns whether it ended as expected, whether the
/// deadline cut it, and what was seen.
fn attempt(node: &Node, tenant: &str, case: &Case) -> (bool, bool, String) {
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
        Err(e) => return (case.expect == Expect::NotLoaded, false, e.to_string()),
    };
    let options = SpawnOptions {
        tenant: Some(tenant.to_string()),
        limits: limits(case),
        config: case.config.to_string(),
        ..SpawnOptions::default()
    };
    let agent = match node.spawn_blocking(&plugin, options) {
        Ok(a) => a,
        Err(SpawnError::Start { failure, .. }) => {
            let matched = match case.expect {
                Expect::NotLoaded => true,
                Expect::StartFails(label) => failure.label() == label,
                _ => false,
            };
            return (matched, failure.label() == "deadline", failure.to_string());
        }
        Err(e) => return (false, false, format!("could not spawn: {e}")),
    };
    let timeout = Duration::from_secs(30);
    // A second agent of the tenant, kept busy, for the case to flood.
    let sink = case.sink.then(|| {
        let options = SpawnOptions {
            tenant: Some(tenant.to_string()),
            limits: limits(case),
            ..SpawnOptions::default()
        };
        let sink = node.spawn_blocking(&plugin, options);
        if let Ok(sink) = &sink {
            let _ = sink.send(format!("pause {}", case.linger_ms + 200).into_bytes());
        }
        sink
    });
    let payload = match &sink {
        Some(Ok(sink)) => case.payload.replace("<sink>", sink.name()),
        Some(Err(e)) => return (false, false, format!("could not spawn the sink: {e}")),
        None => case.payload.to_string(),
    };
    let result = match payload.as_str() {
        "<2 MiB>" => agent.request_blocking(vec![b'x'; 2 << 20], timeout),
        "<batch>" => {
            // Keep the agent busy while three messages and the runaway
            // one queue up; they then go in with one `handle-batch` call.
            let queued = agent
                .send(b"pause 30".to_vec())
                .and_then(|()| (0..3).try_for_each(|_| agent.send(b"echo".to_vec())));
            match queued {
                Ok(()) => agent.request_blocking(b"batch-loop".to_vec(), timeout),
                Err(e) => Err(RequestError::Send(e)),
            }
        }
        p => agent.request_blocking(p.as_bytes().to_vec(), timeout),
    };
    std::thread::sleep(Duration::from_millis(case.linger_ms));
    let log_dropped = agent.log_dropped();
    agent.kill();
    if let Some(Ok(sink)) = sink {
        sink.kill();
    }
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
        (Ok(reply), Expect::Says(text)) => String::from_utf8_lossy(reply).contains(text),
        (Err(e), Expect::Error(text)) => e.to_string().contains(text),
        (Ok(_), Expect::LogCut) => log_dropped > 0,
        (Err(RequestError::Send(SendError::TooLarge { .. })), Expect::TooLarge) => true,
        _ => false,
    };
    let cut = matches!(&result, Err(RequestError::AgentFailed { failure, .. }) if failure.label() == "deadline");
    let observed = match result {
        Ok(reply) => {
            let text = String::from_utf8_lossy(&reply);
            let text = format!("replied `{}`", text.chars().take(200).collect::<String>());
            if case.expect == Expect::LogCut {
                format!("{text}; {log_dropped} log lines dropped over its rate")
            } else {
                text
            }
        }
        Err(e) => {
            let text = e.to_string();
            // An error that is itself the attack (a 100 KB reason) is shown
            // by its size, not in full.
            if text.len() > 300 {
                let head: String = text.chars().take(200).collect();
                format!("{head}... ({} bytes in all)", text.len())
            } else {
                text
            }
        }
    };
    (matched, cut, observed)
}
