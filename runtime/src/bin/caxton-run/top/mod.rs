//! `caxton-run top ADDR`: a terminal observer of a node, redrawn about once
//! a second from observations taken over QUIC (see `caxton::node::Observation`).
//! The node keeps cumulative counters; rates and interval percentiles are
//! worked out here from two observations in a row.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use caxton::net::client::RemoteNode;
use caxton::node::Observation;
use clap::Args;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use super::{duration_arg, exit};

mod draw;

/// Watching a node.
#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    /// The node's QUIC address (what `serve` or `--observe` printed).
    addr: SocketAddr,

    /// The node's certificate fingerprint (printed by `serve`).
    #[arg(long, required_unless_present = "data_dir")]
    fingerprint: Option<String>,

    /// The operator token (sees every tenant and the node's totals) or a
    /// tenant's token (sees that tenant's agents only).
    #[arg(long, required_unless_present = "data_dir")]
    token: Option<String>,

    /// Read the fingerprint and the operator token from a served node's
    /// data dir (on the node's machine).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Show only this tenant's agents at first (the `t` key cycles).
    #[arg(long)]
    tenant: Option<String>,

    /// Time between observations.
    #[arg(long, default_value = "1s", value_parser = duration_arg)]
    interval: Duration,
}

/// Connects, then draws until `q`, Esc or Ctrl-C.
pub(crate) fn run(args: TopArgs) -> anyhow::Result<u8> {
    let (fingerprint, token) = credentials(&args)?;
    let (rt, client) = super::connect_client(args.addr, &fingerprint, &token)?;
    // A token that may not observe is refused before the screen changes.
    let first = rt
        .block_on(client.observe(None))
        .context("observing the node")?;
    let mut view = View::new(&args, client.name(), first);
    let mut source = Source {
        addr: args.addr,
        fingerprint,
        token,
        client,
    };
    let mut terminal = ratatui::init();
    let result = watch(&rt, &mut source, &mut terminal, &mut view, args.interval);
    ratatui::restore();
    source.client.close();
    result.map(|()| exit::OK)
}

/// Where observations come from; reconnected when the node goes away
/// (restarted, say) and comes back.
struct Source {
    addr: SocketAddr,
    fingerprint: String,
    token: String,
    client: RemoteNode,
}

impl Source {
    fn observe(&mut self, rt: &tokio::runtime::Runtime) -> anyhow::Result<Observation> {
        match rt.block_on(self.client.observe(None)) {
            Ok(seen) => Ok(seen),
            Err(e) => {
                let reconnect = tokio::time::timeout(
                    Duration::from_secs(2),
                    RemoteNode::connect(self.addr, &self.fingerprint, &self.token),
                );
                if let Ok(Ok(client)) = rt.block_on(reconnect) {
                    self.client = client;
                }
                Err(e.into())
            }
        }
    }
}

fn credentials(args: &TopArgs) -> anyhow::Result<(String, String)> {
    let Some(dir) = &args.data_dir else {
        // clap requires both without a data dir.
        return Ok((
            args.fingerprint.clone().unwrap_or_default(),
            args.token.clone().unwrap_or_default(),
        ));
    };
    let read = |name: &str| {
        let file = dir.join(name);
        std::fs::read(&file).with_context(|| {
            format!(
                "reading {} (is {} a served node's data dir?)",
                file.display(),
                dir.display()
            )
        })
    };
    let fingerprint = match &args.fingerprint {
        Some(f) => f.clone(),
        None => match std::fs::read_to_string(dir.join(super::serve::FINGERPRINT)) {
            Ok(text) => text.trim().to_string(),
            // A data dir of a node from before the file was written.
            Err(_) => caxton::net::tls::Identity::from_der(
                read("identity.cert.der")?,
                read("identity.key.der")?,
            )
            .fingerprint(),
        },
    };
    let token = match &args.token {
        Some(t) => t.clone(),
        None => String::from_utf8_lossy(&read(super::serve::OPERATOR_TOKEN)?)
            .trim()
            .to_string(),
    };
    Ok((fingerprint, token))
}

fn watch(
    rt: &tokio::runtime::Runtime,
    source: &mut Source,
    terminal: &mut DefaultTerminal,
    view: &mut View,
    interval: Duration,
) -> anyhow::Result<()> {
    loop {
        terminal.draw(|f| view.draw(f))?;
        let next = Instant::now() + interval;
        while let Some(left) = next.checked_duration_since(Instant::now()) {
            if !event::poll(left)? {
                break;
            }
            let Event::Key(key) = event::read()? else {
                continue;
            };
            if key.kind != KeyEventKind::Press {
                continue;
            }
            match key.code {
                KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    return Ok(());
                }
                KeyCode::Char('s') => view.sort = view.sort.next(),
                KeyCode::Char('r') => view.descending = !view.descending,
                KeyCode::Char('t') => view.next_tenant(),
                _ => continue,
            }
            terminal.draw(|f| view.draw(f))?;
        }
        match source.observe(rt) {
            Ok(seen) => view.update(seen),
            Err(e) => view.error = Some(format!("{e:#}")),
        }
    }
}

/// What the table is sorted by (`s` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Mailbox,
    Rate,
    Memory,
    Restarts,
    Name,
}

impl SortKey {
    fn next(self) -> SortKey {
        match self {
            SortKey::Mailbox => SortKey::Rate,
            SortKey::Rate => SortKey::Memory,
            SortKey::Memory => SortKey::Restarts,
            SortKey::Restarts => SortKey::Name,
            SortKey::Name => SortKey::Mailbox,
        }
    }

    fn label(self) -> &'static str {
        match self {
            SortKey::Mailbox => "mailbox",
            SortKey::Rate => "handled/s",
            SortKey::Memory => "memory",
            SortKey::Restarts => "restarts",
            SortKey::Name => "name",
        }
    }
}

/// The screen's state: the last two observations and the user's choices.
struct View {
    addr: SocketAddr,
    node: String,
    prev: Option<Observation>,
    now: Observation,
    sort: SortKey,
    descending: bool,
    /// Only this tenant's agents (`None`: all the token may see).
    tenant: Option<String>,
    error: Option<String>,
}

impl View {
    fn new(args: &TopArgs, node: &str, first: Observation) -> View {
        View {
            addr: args.addr,
            node: node.to_string(),
            prev: None,
            now: first,
            sort: SortKey::Mailbox,
            descending: true,
            tenant: args.tenant.clone(),
            error: None,
        }
    }

    fn update(&mut self, seen: Observation) {
        self.prev = Some(std::mem::replace(&mut self.now, seen));
        self.error = None;
    }

    /// Seconds between the two observations, if there are two.
    fn dt(&self) -> Option<f64> {
        let prev = self.prev.as_ref()?;
        let ms = self.now.at_unix_ms.checked_sub(prev.at_unix_ms)?;
        (ms > 0).then_some(ms as f64 / 1e3)
    }

    /// Cycles the tenant filter: all, then each tenant seen, in order.
    fn next_tenant(&mut self) {
        let mut tenants: Vec<&str> = self.now.agents.iter().map(|a| a.tenant.as_str()).collect();
        tenants.sort_unstable();
        tenants.dedup();
        self.tenant = match &self.tenant {
            None => tenants.first().map(|t| t.to_string()),
            Some(t) => tenants
                .iter()
                .position(|x| x == t)
                .and_then(|i| tenants.get(i + 1))
                .map(|t| t.to_string()),
        };
    }

    /// Handled per second of each agent over the last interval.
    fn rates(&self) -> HashMap<(&str, &str), f64> {
        let (Some(prev), Some(dt)) = (&self.prev, self.dt()) else {
            return HashMap::new();
        };
        let before: HashMap<(&str, &str), u64> = prev
            .agents
            .iter()
            .map(|a| ((a.tenant.as_str(), a.name.as_str()), a.handled))
            .collect();
        self.now
            .agents
            .iter()
            .filter_map(|a| {
                let key = (a.tenant.as_str(), a.name.as_str());
                let then = before.get(&key)?;
                Some((key, a.handled.saturating_sub(*then) as f64 / dt))
            })
            .collect()
    }
}
