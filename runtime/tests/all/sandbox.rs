//! The multi-tenant sandbox with real components: a tenant's data dir and
//! nothing else of the host, addressing across tenants only by grant, and
//! the hostile corpus contained case by case.

use std::path::Path;

use caxton::core::spawn::{SpawnOptions, SpawnSpec};
use caxton::core::tenant::Tenant;
use caxton::node::{AgentHandle, RequestError};
use serde_json::json;

use super::util::{TIMEOUT, TestNode, eventually, node, scratch};

fn spawn(t: &TestNode, plugin: &str, tenant: &str, name: &str, config: &str) -> AgentHandle {
    let options = SpawnSpec::parse(json!({"tenant": tenant, "name": name, "config": config}))
        .unwrap()
        .into();
    let plugin = t.node.plugin(plugin).unwrap();
    t.node.spawn_blocking(&plugin, options).unwrap()
}

fn ask(agent: &AgentHandle, command: &str) -> String {
    let reply = agent
        .request_blocking(command.as_bytes().to_vec(), TIMEOUT)
        .unwrap();
    String::from_utf8(reply).unwrap()
}

fn with_dir(dir: &Path) -> Tenant {
    Tenant {
        data_dir: Some(dir.to_path_buf()),
        ..Tenant::default()
    }
}

#[test]
fn an_agent_reads_and_writes_its_tenants_data_dir_and_nothing_else() {
    let root = scratch("data-dirs");
    let (a_dir, b_dir) = (root.join("a"), root.join("b"));
    std::fs::write(root.join("outside.txt"), "host secret").unwrap();
    let t = node();
    t.node.set_tenant("a", with_dir(&a_dir)).unwrap();
    t.node.set_tenant("b", with_dir(&b_dir)).unwrap();
    let a = spawn(&t, "hostile", "a", "probe", "");
    let b = spawn(&t, "hostile", "b", "probe", "");
    let none = spawn(&t, "hostile", "c", "probe", "");

    // Within its dir: write, read back, list; the file is really on the host.
    assert_eq!(ask(&a, "write /data/notes.txt hello"), "ok");
    assert_eq!(ask(&a, "read /data/notes.txt"), "hello");
    assert_eq!(ask(&a, "list /data"), "notes.txt");
    assert_eq!(
        std::fs::read_to_string(a_dir.join("notes.txt")).unwrap(),
        "hello"
    );
    // Another tenant's agent sees its own dir only; one without a dir sees none.
    assert_eq!(ask(&b, "list /data"), "");
    assert!(ask(&b, "read /data/notes.txt").starts_with("denied:"));
    assert!(ask(&none, "list /data").starts_with("denied:"));

    // Escapes: `..`, absolute paths, symlinks the host made, a symlink the
    // agent made. Each is denied, and nothing is written outside.
    std::os::unix::fs::symlink("../outside.txt", a_dir.join("up")).unwrap();
    std::os::unix::fs::symlink(root.join("outside.txt"), a_dir.join("abs")).unwrap();
    for escape in [
        "read /data/../outside.txt",
        "read /data/../../../../etc/passwd",
        "read /etc/passwd",
        "list /",
        "read /data/up",
        "read /data/abs",
        "write /data/../escaped.txt gotcha",
        "write /tmp/escaped.txt gotcha",
    ] {
        let reply = ask(&a, escape);
        assert!(reply.starts_with("denied:"), "`{escape}` gave `{reply}`");
    }
    let made = ask(&a, "symlink ../outside.txt /data/mine");
    let read = ask(&a, "read /data/mine");
    assert!(
        read.starts_with("denied:"),
        "symlink ({made}), then read: {read}"
    );
    assert!(!root.join("escaped.txt").exists());
    assert!(!Path::new("/tmp/escaped.txt").exists());

    // No environment, no arguments, no clocks, no sockets.
    assert_eq!(ask(&a, "env"), "0 vars, 0 args");
    assert_eq!(ask(&a, "clock"), "wall 0 ns, moved 0 ns");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reply = ask(&a, &format!("connect {addr}"));
    assert!(reply.starts_with("denied:"), "{reply}");
}

#[test]
fn a_data_dir_that_cannot_be_made_is_a_clear_error() {
    let root = scratch("bad-data-dir");
    let file = root.join("a-file");
    std::fs::write(&file, "").unwrap();
    let t = node();
    let err = t
        .node
        .set_tenant("a", with_dir(&file.join("sub")))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("tenant `a`") && text.contains("data dir"),
        "{text}"
    );
}

#[test]
fn sends_across_tenants_need_a_grant_and_grants_go_one_way() {
    let t = node();
    // Same names in both tenants: names are scoped per tenant.
    let a_echo = spawn(&t, "echo", "a", "echo", "");
    let b_echo = spawn(&t, "echo", "b", "echo", "");
    let b_counter = spawn(&t, "counter", "b", "counter", "");
    let a_to_b = spawn(&t, "relay", "a", "to-b", "b/echo");
    let a_to_b_counter = spawn(&t, "relay", "a", "to-b-counter", "b/counter");
    let a_local = spawn(&t, "relay", "a", "local", "echo");
    let b_to_a = spawn(&t, "relay", "b", "to-a", "a/echo");

    // No grant: the relay's forward fails at the call (the relay hands
    // the error on as its failure), naming both tenants; nothing delivered.
    let err = a_to_b
        .request_blocking(b"hi".to_vec(), TIMEOUT)
        .unwrap_err();
    let RequestError::Handler { reason, .. } = &err else {
        panic!("expected the relay's failure, got {err}");
    };
    assert!(
        reason.contains("tenant `a` has no grant for tenant `b`"),
        "{reason}"
    );
    assert!(reason.contains("grants = [\"b\"]"), "{reason}");
    a_to_b_counter.send(b"add 5".to_vec()).unwrap();
    eventually(|| a_to_b_counter.handled() == 1);
    assert_eq!(b_counter.handled(), 0);
    // A plain name stays in the sender's tenant.
    assert_eq!(
        a_local.request_blocking(b"mine".to_vec(), TIMEOUT).unwrap(),
        b"mine"
    );
    assert_eq!((a_echo.handled(), b_echo.handled()), (1, 0));

    // Grant a -> b (taken at spawn: the relays are spawned again).
    t.node
        .set_tenant(
            "a",
            Tenant {
                grants: ["b".to_string()].into(),
                ..Tenant::default()
            },
        )
        .unwrap();
    for old in [&a_to_b, &a_to_b_counter] {
        t.node.kill(old);
    }
    let a_to_b = spawn(&t, "relay", "a", "to-b-2", "b/echo");
    let a_to_b_counter = spawn(&t, "relay", "a", "to-b-counter-2", "b/counter");
    assert_eq!(
        a_to_b.request_blocking(b"over".to_vec(), TIMEOUT).unwrap(),
        b"over"
    );
    assert_eq!(b_echo.handled(), 1);
    a_to_b_counter.send(b"add 5".to_vec()).unwrap();
    eventually(|| b_counter.handled() == 1);
    // The grant is one way: b still cannot reach a.
    let err = b_to_a
        .request_blocking(b"back".to_vec(), TIMEOUT)
        .unwrap_err();
    assert!(
        matches!(&err, RequestError::Handler { reason, .. } if reason.contains("no grant")),
        "{err}"
    );
}

#[test]
fn every_case_of_the_hostile_corpus_is_contained() {
    let root = scratch("corpus");
    let t = node();
    t.node
        .set_tenant("noisy", with_dir(&root.join("noisy")))
        .unwrap();
    let bystander = spawn(&t, "echo", "victim", "bystander", "");
    let outcomes: Vec<_> = caxton::sandbox::CASES
        .iter()
        .map(|case| caxton::sandbox::run(&t.node, "noisy", case, &bystander))
        .collect();
    for o in &outcomes {
        eprintln!("{:32} {:5} {}", o.case, o.contained, o.observed);
    }
    let escaped: Vec<_> = outcomes.iter().filter(|o| !o.contained).collect();
    assert!(escaped.is_empty(), "not contained: {escaped:#?}");
    // Every offending agent is gone; the bystander is the only one left.
    let names: Vec<String> = t
        .node
        .agents()
        .iter()
        .map(|a| a.name().to_string())
        .collect();
    assert_eq!(names, ["bystander"]);
}

#[test]
fn a_workers_quota_keeps_a_tenants_agents_to_that_many_threads() {
    // Two agents that each spin for their whole deadline. The test runtime
    // has two workers: without a quota they spin side by side; with
    // `workers = 1` one waits for the other, so both are done no sooner
    // than two deadlines. (A lower bound: a slow machine cannot fail it.)
    let t = node();
    let quota = Tenant::parse(json!({"workers": 1})).unwrap();
    t.node.set_tenant("narrow", quota).unwrap();
    let deadline = std::time::Duration::from_millis(300);
    let spinners: Vec<AgentHandle> = (0..2)
        .map(|i| {
            let options = SpawnSpec::parse(
                json!({"tenant": "narrow", "name": format!("spin-{i}"), "deadline": "300ms"}),
            )
            .unwrap()
            .into();
            let plugin = t.node.plugin("crasher").unwrap();
            t.node.spawn_blocking(&plugin, options).unwrap()
        })
        .collect();
    let bystander = spawn(&t, "echo", "wide", "bystander", "");
    let start = std::time::Instant::now();
    let (results, answered) = t.node.runtime().block_on(async {
        // Spawned, so both requests are in flight at once.
        let calls: Vec<_> = spinners
            .iter()
            .map(|s| {
                let s = s.clone();
                tokio::spawn(async move { s.request(b"loop".to_vec(), TIMEOUT).await })
            })
            .collect();
        let answered = bystander.request(b"hi".to_vec(), TIMEOUT).await;
        let mut results = Vec::new();
        for c in calls {
            results.push(c.await.unwrap());
        }
        (results, answered)
    });
    let took = start.elapsed();
    for r in &results {
        assert!(
            matches!(r, Err(RequestError::AgentFailed { failure, .. }) if failure.label() == "deadline"),
            "{r:?}"
        );
    }
    assert_eq!(answered.unwrap(), b"hi");
    assert!(
        took >= deadline * 2,
        "both spun within {took:?}: side by side"
    );
}

/// CPU time the calling thread has used (user + system), from procfs.
#[cfg(target_os = "linux")]
fn this_threads_cpu() -> std::time::Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // Fields 14 and 15 of stat(5), counted from the state (field 3).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on every Linux the kernel ABI allows.
    std::time::Duration::from_millis(ticks * 10)
}

#[cfg(target_os = "linux")]
#[test]
fn a_background_tenants_agents_run_only_on_idle_class_threads() {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
    };
    let idle_class = || {
        thread_schedule_policy().unwrap()
            == ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
    };
    let t = node();
    let background = Tenant::parse(json!({"priority": "background"})).unwrap();
    t.node.set_tenant("batch", background).unwrap();
    let deadline = std::time::Duration::from_millis(300);
    let spawn_into = |tenant: &str, plugin: &str| {
        let options = SpawnSpec::parse(json!({"tenant": tenant, "deadline": "300ms"}))
            .unwrap()
            .into();
        let plugin = t.node.plugin(plugin).unwrap();
        t.node.spawn_blocking(&plugin, options).unwrap()
    };
    let mut survivors = Vec::new();
    for tenant in ["batch", "interactive"] {
        let background = tenant == "batch";

        // A blocking request runs an idle normal agent's handler inline,
        // on the caller's thread: that thread pays the spin. A background
        // agent's never runs there, whatever the caller's priority. (A
        // fresh agent is idle when its spawn returns.)
        let spinner = spawn_into(tenant, "crasher");
        let before = this_threads_cpu();
        let spun = spinner.request_blocking(b"loop".to_vec(), TIMEOUT);
        let used = this_threads_cpu() - before;
        assert!(
            matches!(&spun, Err(RequestError::AgentFailed { failure, .. }) if failure.label() == "deadline"),
            "{spun:?}"
        );
        // The deadline counts the wall clock, so on a busy machine the
        // spinning thread gets only its share of a core meanwhile: the two
        // cases are told apart at a tenth of the deadline (procfs counts
        // CPU time in 10 ms ticks).
        if background {
            assert!(
                used < deadline / 10,
                "{tenant}: the caller spun for {used:?}"
            );
        } else {
            assert!(
                used >= deadline / 10,
                "{tenant}: the caller spun only {used:?}"
            );
        }

        // The thread that handled a message answers its callback.
        let echo = spawn_into(tenant, "echo");
        let (tx, rx) = std::sync::mpsc::channel();
        t.node.request_with(&echo, b"ok".to_vec(), move |reply| {
            let name = std::thread::current().name().map(String::from);
            tx.send((reply, name, idle_class())).unwrap();
        });
        let (reply, thread, idle) = rx.recv_timeout(TIMEOUT).unwrap();
        assert!(reply.is_ok(), "{tenant}: {reply:?}");
        assert_eq!(idle, background, "{tenant}: handled on {thread:?}");
        assert_eq!(
            thread.as_deref() == Some("caxton-background"),
            background,
            "{tenant}: handled on {thread:?}"
        );
        survivors.extend([spinner, echo]);
    }

    // Killed or stopped while idle, a background agent's instance is
    // dropped on its pool; the agent is gone either way and the node goes on.
    let echo = || {
        let options = SpawnSpec::parse(json!({"tenant": "batch"})).unwrap().into();
        let agent = t
            .node
            .spawn_blocking(&t.node.plugin("echo").unwrap(), options)
            .unwrap();
        assert_eq!(
            agent.request_blocking(b"hi".to_vec(), TIMEOUT).unwrap(),
            b"hi"
        );
        agent
    };
    let killed = echo();
    killed.kill();
    assert!(killed.request_blocking(b"hi".to_vec(), TIMEOUT).is_err());
    let stopped = echo();
    stopped.stop();
    assert!(stopped.request_blocking(b"hi".to_vec(), TIMEOUT).is_err());
    // The killed and stopped agents are gone; the others are left.
    let mut left: Vec<String> = t
        .node
        .agents()
        .iter()
        .map(|a| a.name().to_string())
        .collect();
    let mut expected: Vec<String> = survivors.iter().map(|a| a.name().to_string()).collect();
    left.sort();
    expected.sort();
    assert_eq!(left, expected);
}

#[test]
fn no_hostile_case_makes_the_host_grow_past_its_bound() {
    // In a process of its own (the real binary): tests running beside it
    // in this one would move the resident size.
    let dir = scratch("corpus-rss");
    std::fs::write(
        dir.join("rss.rhai"),
        r#"
        tenant("noisy", #{});
        let b = spawn(plugin("echo"), #{ tenant: "victim", name: "bystander" });
        for c in hostile("noisy", b) {
            print(`case|${c.name}|${c.contained}|${c.rss_mib}|${c.rss_bound_mib}|${c.within_bound}|${c.observed}`);
        }
        "#,
    )
    .unwrap();
    let out = super::util::caxton_run(&dir, "rss.rhai", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", super::util::stderr(&out));
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("case|"))
        .map(|l| l.split('|').collect())
        .collect();
    assert_eq!(rows.len(), caxton::sandbox::CASES.len(), "{stdout}");
    let linux = caxton::measure::resources::reset_peak_rss().is_some();
    for row in &rows {
        let [name, contained, growth, bound, within, observed] = row[..] else {
            panic!("{row:?}");
        };
        eprintln!("{name:32} growth {growth:>8} MiB, bound {bound} MiB");
        assert_eq!(contained, "true", "{name}: {observed}");
        assert_eq!(
            within, "true",
            "{name}: grew {growth} MiB, bound {bound} MiB"
        );
        if linux {
            assert!(growth.parse::<f64>().is_ok(), "{name}: no growth figure");
        }
    }
}

#[test]
fn state_is_bounded_by_key_count_as_well_as_bytes() {
    // 64 MiB of memory leaves 16 MiB for state: room for more than 65,536
    // short keys, so the key count is what stops this flood.
    let t = node();
    let options = SpawnOptions {
        limits: caxton::core::limits::AgentLimits {
            memory: 64 << 20,
            deadline: std::time::Duration::from_secs(20),
            ..Default::default()
        },
        ..SpawnOptions::default()
    };
    let plugin = t.node.plugin("hostile").unwrap();
    let agent = t.node.spawn_blocking(&plugin, options).unwrap();
    let err = agent
        .request_blocking(b"state-keys".to_vec(), std::time::Duration::from_secs(60))
        .unwrap_err();
    let RequestError::AgentFailed { failure, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(failure.label(), "budget", "{failure}");
    assert!(
        failure.to_string().contains("65537 keys") && failure.to_string().contains("65536 keys"),
        "{failure}"
    );
}
