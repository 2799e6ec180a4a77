//! Drawing `top`'s screen: the node's totals above, the agents' table below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table};

use caxton::measure::stats::{human_bytes, human_ns, human_rate};
use caxton::node::AgentRow;

use super::{SortKey, View};

impl View {
    pub(super) fn draw(&self, f: &mut Frame<'_>) {
        let [head, table, foot] = Layout::vertical([
            Constraint::Length(5),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(f.area());
        f.render_widget(Paragraph::new(self.totals()), head);
        self.draw_table(f, table);
        let tenant = self.tenant.as_deref().unwrap_or("all");
        let order = if self.descending { "desc" } else { "asc" };
        let foot_text = match &self.error {
            Some(e) => format!("error: {e} (retrying)   q quit"),
            None => format!(
                "q quit   s sort: {} ({order})   r reverse   t tenant: {tenant}",
                self.sort.label()
            ),
        };
        f.render_widget(
            Paragraph::new(foot_text).style(Style::new().add_modifier(Modifier::REVERSED)),
            foot,
        );
    }

    fn totals(&self) -> Vec<Line<'static>> {
        let seen = &self.now;
        let scope = match &seen.tenant {
            Some(t) => format!("tenant `{t}`"),
            None => "operator view".to_string(),
        };
        let statuses: Vec<String> = seen
            .by_status
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        let mut lines = vec![
            Line::from(format!(
                "caxton top: node `{}` at {}, {scope}",
                self.node, self.addr
            )),
            Line::from(format!(
                "agents {}: {}",
                seen.agents_total,
                if statuses.is_empty() {
                    "none".to_string()
                } else {
                    statuses.join(", ")
                }
            )),
        ];
        let rate = |now: u64, then: Option<u64>| match (then, self.dt()) {
            (Some(then), Some(dt)) => human_rate(now.saturating_sub(then) as f64 / dt),
            _ => "-".to_string(),
        };
        let Some(node) = &seen.node else {
            let then = self.prev.as_ref().map(|p| p.handled);
            lines.push(Line::from(format!(
                "handled {}   (node totals need the operator token)",
                rate(seen.handled, then)
            )));
            return lines;
        };
        let before = self.prev.as_ref().and_then(|p| p.node.as_ref());
        let cpu = match (node.cpu_s, before.and_then(|b| b.cpu_s), self.dt()) {
            (Some(now), Some(then), Some(dt)) => {
                format!("{:.0}% of a core", (now - then).max(0.0) / dt * 100.0)
            }
            _ => "-".to_string(),
        };
        let latency = match seen.request_quantiles_since(self.prev.as_ref(), &[0.5, 0.99]) {
            Some(q) if q.len() == 2 => format!(
                "p50 {}  p99 {}",
                human_ns(q[0] as f64),
                human_ns(q[1] as f64)
            ),
            _ => "none in the interval".to_string(),
        };
        lines.push(Line::from(format!(
            "messages in {}  out {}   requests {latency}",
            rate(node.messages_in, before.map(|b| b.messages_in)),
            rate(node.messages_out, before.map(|b| b.messages_out)),
        )));
        let transport = match &node.transport {
            Some(t) => format!(
                "connections {} ({} accepted)   auth failures {}",
                t.connections, t.accepted, t.auth_failures
            ),
            None => "no listener".to_string(),
        };
        let failures: Vec<String> = node
            .failures
            .iter()
            .map(|(why, n)| format!("{why} {n}"))
            .collect();
        lines.push(Line::from(format!(
            "CPU {cpu}   RSS {}   {transport}   failures: {}",
            node.rss_bytes.map_or("-".to_string(), human_bytes),
            if failures.is_empty() {
                "none".to_string()
            } else {
                failures.join(", ")
            }
        )));
        lines
    }

    fn draw_table(&self, f: &mut Frame<'_>, area: ratatui::layout::Rect) {
        let rates = self.rates();
        let rate_of = |a: &AgentRow| rates.get(&(a.tenant.as_str(), a.name.as_str())).copied();
        let mut rows: Vec<&AgentRow> = self
            .now
            .agents
            .iter()
            .filter(|a| self.tenant.as_deref().is_none_or(|t| a.tenant == t))
            .collect();
        rows.sort_by(|a, b| {
            let order = match self.sort {
                SortKey::Mailbox => a.queued.cmp(&b.queued),
                SortKey::Rate => rate_of(a)
                    .unwrap_or(0.0)
                    .total_cmp(&rate_of(b).unwrap_or(0.0)),
                SortKey::Memory => a.memory.cmp(&b.memory),
                SortKey::Restarts => a.restarts.cmp(&b.restarts),
                SortKey::Name => (&a.tenant, &a.name).cmp(&(&b.tenant, &b.name)),
            };
            let order = if self.descending {
                order.reverse()
            } else {
                order
            };
            order.then_with(|| (&a.tenant, &a.name).cmp(&(&b.tenant, &b.name)))
        });
        let shown = rows.len();
        let header = [
            ("TENANT", None),
            ("NAME", Some(SortKey::Name)),
            ("PLUGIN", None),
            ("STATUS", None),
            ("MAILBOX", Some(SortKey::Mailbox)),
            ("HANDLED/S", Some(SortKey::Rate)),
            ("MEMORY / LIMIT", Some(SortKey::Memory)),
            ("RESTARTS", Some(SortKey::Restarts)),
            ("LAST FAILURE", None),
        ]
        .map(|(title, key)| {
            if key == Some(self.sort) {
                format!("{title}{}", if self.descending { "▼" } else { "▲" })
            } else {
                title.to_string()
            }
        });
        let body = rows.into_iter().map(|a| {
            Row::new(vec![
                a.tenant.clone(),
                a.name.clone(),
                a.plugin.clone(),
                a.status.clone(),
                a.queued.to_string(),
                rate_of(a).map_or("-".to_string(), |r| format!("{r:.0}")),
                format!(
                    "{} / {}",
                    human_bytes(a.memory),
                    human_bytes(a.memory_limit)
                ),
                a.restarts.to_string(),
                a.last_failure.clone().unwrap_or_default(),
            ])
        });
        let widths = [
            Constraint::Length(10),
            Constraint::Length(16),
            Constraint::Length(10),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(11),
            Constraint::Length(22),
            Constraint::Length(10),
            Constraint::Min(12),
        ];
        let more = self.now.agents_total.saturating_sub(self.now.agents.len());
        let title = if more > 0 {
            format!(" agents: {shown} shown, {more} more not sent ")
        } else {
            format!(" agents: {shown} shown ")
        };
        let table = Table::new(body, widths)
            .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
            .block(Block::bordered().title(title));
        f.render_widget(table, area);
    }
}
