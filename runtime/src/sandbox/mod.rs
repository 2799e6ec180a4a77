//! The hostile corpus: the ways an untrusted plugin can misbehave, each run
//! against a real node to show it is contained. A case is contained when the
//! offending agent (or component) fails with the reason the case names, or
//! its attempt is refused, and an agent of another tenant still answers
//! afterwards. The corpus runs from tests and from `hostile()` in scripts
//! (`scripts/multitenant.rhai`), so the figure a user sees is the one CI
//! checks.
//!
//! `cases`: the corpus, case by case; this file runs a case and says how it
//! went.

use std::time::{Duration, Instant};

use crate::core::limits::AgentLimits;
use crate::node::{AgentHandle, Node, RequestError, SendError, SpawnError, SpawnOptions};

mod cases;

pub use cases::{CASES, Case, Expect, LANGUAGE_CASES};

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

/// The corpus this node can run: every built-in case, and the language
/// cases whose component loads here (a language whose agents are not
/// built, or a run outside the repository, leaves its cases out, with a
/// warning that says how to build them).
pub fn cases_here(node: &Node) -> Vec<&'static Case> {
    let mut cases: Vec<&'static Case> = CASES.iter().collect();
    let mut missing = std::collections::BTreeSet::new();
    for case in LANGUAGE_CASES {
        if missing.contains(case.plugin) {
            continue;
        }
        match node.plugin(case.plugin) {
            Ok(_) => cases.push(case),
            Err(e) => {
                tracing::warn!(
                    "hostile corpus: leaving out the cases of {}: {e} (build them: \
                     cd plugins/js && npm ci && npm run build; \
                     cd plugins/python && pip install -r requirements.txt && python3 build.py)",
                    case.plugin
                );
                missing.insert(case.plugin);
            }
        }
    }
    cases
}

/// A valid component that imports and exports nothing: of another world
/// than `caxton:agent` (the header of the component binary format alone).
const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

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
        "empty-component" => {
            crate::host::Plugin::from_bytes(node.engine(), "empty-component", EMPTY_COMPONENT)
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
