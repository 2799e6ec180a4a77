//! The corpus: each way to misbehave, and how it must end.

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
    /// The guest's WASI operation is denied (its reply starts `denied:`).
    Denied,
    /// The guest sees nothing (its reply equals this text).
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
        "hostile",
        "read /etc/passwd",
        Expect::Denied,
    ),
    case("list the host root", "hostile", "list /", Expect::Denied),
    case(
        "escape the data dir with ..",
        "hostile",
        "read /data/../etc/passwd",
        Expect::Denied,
    ),
    case(
        "open a socket",
        "hostile",
        "connect 127.0.0.1:22",
        Expect::Denied,
    ),
    case(
        "read the environment",
        "hostile",
        "env",
        Expect::Sees("0 vars, 0 args"),
    ),
    case("invalid component", "garbage", "", Expect::NotLoaded),
    case(
        "component of the wrong world",
        "empty-component",
        "",
        Expect::NotLoaded,
    ),
];

/// The same attacks from agents written in JavaScript and Python (built
/// into `plugins/js/dist` and `plugins/python/dist` by their toolchains;
/// paths from the repository's root): their interpreters must not change
/// what holds. [`super::cases_here`] leaves out those not built.
pub const LANGUAGE_CASES: &[Case] = &[
    case(
        "JavaScript: infinite loop",
        JS_HOSTILE,
        "loop",
        Expect::Fails("deadline"),
    ),
    case(
        "JavaScript: unbounded allocation",
        JS_HOSTILE,
        "alloc",
        Expect::Fails("memory"),
    ),
    case(
        "JavaScript: an exception",
        JS_HOSTILE,
        "throw",
        Expect::Error("thrown on purpose"),
    ),
    case(
        "Python: infinite loop",
        PY_HOSTILE,
        "loop",
        Expect::Fails("deadline"),
    ),
    case(
        "Python: unbounded allocation",
        PY_HOSTILE,
        "alloc",
        Expect::Fails("memory"),
    ),
    case(
        "Python: an exception",
        PY_HOSTILE,
        "throw",
        Expect::Error("raised on purpose"),
    ),
    case(
        "Python: exits the process",
        PY_HOSTILE,
        "exit",
        Expect::Fails("trap"),
    ),
];

const JS_HOSTILE: &str = "plugins/js/dist/hostile.wasm";
const PY_HOSTILE: &str = "plugins/python/dist/hostile.wasm";
