//! Tenants and quotas with real components: every quota refuses with a
//! typed error naming it, and other tenants are untouched.

use caxton::core::spawn::SpawnSpec;
use caxton::core::tenant::Quotas;
use caxton::node::{AgentHandle, RequestError, SendError, SpawnError};

use super::util::{TIMEOUT, TestNode, caxton_run, node, scratch};

/// Options as a script gives them: whole numbers as integers.
fn options(pairs: &[(&str, &str)]) -> serde_json::Value {
    let value = |v: &str| v.parse::<i64>().map_or_else(|_| v.into(), Into::into);
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), value(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn quotas(pairs: &[(&str, &str)]) -> Quotas {
    Quotas::parse(options(pairs)).unwrap()
}

fn spawn(t: &TestNode, tenant: &str, extra: &[(&str, &str)]) -> Result<AgentHandle, SpawnError> {
    let mut pairs = vec![("tenant", tenant)];
    pairs.extend(extra);
    let options = SpawnSpec::parse(options(&pairs)).unwrap().into();
    let plugin = t.node.plugin("echo").unwrap();
    t.node.spawn_blocking(&plugin, options)
}

fn quota_of(err: &SpawnError) -> &'static str {
    match err {
        SpawnError::Quota(q) => q.quota,
        other => panic!("expected a quota error, got {other}"),
    }
}

#[test]
fn spawn_quotas_refuse_by_name_and_spare_other_tenants() {
    let t = node();
    t.node
        .set_tenant("acme", quotas(&[("max_agents", "2"), ("memory", "16MiB")]))
        .unwrap();
    let a = spawn(&t, "acme", &[]).unwrap();
    spawn(&t, "acme", &[("memory", "8MiB")]).unwrap();
    let err = spawn(&t, "acme", &[]).unwrap_err();
    assert_eq!(quota_of(&err), "max_agents");
    assert!(err.to_string().contains("tenant `acme`"), "{err}");
    // Asking for more than the per-agent quota is refused, by name.
    t.node.kill(&a);
    let err = spawn(&t, "acme", &[("memory", "32MiB")]).unwrap_err();
    assert_eq!(quota_of(&err), "memory");
    assert!(
        err.to_string().contains("32 MiB") && err.to_string().contains("16 MiB"),
        "{err}"
    );
    // Asking for nothing gets the quota: a 16 MiB agent that really runs.
    let b = spawn(&t, "acme", &[]).unwrap();
    assert_eq!(b.request_blocking(b"hi".to_vec(), TIMEOUT).unwrap(), b"hi");
    // Another tenant has no such quotas.
    for _ in 0..5 {
        spawn(&t, "other", &[("memory", "32MiB")]).unwrap();
    }
}

#[test]
fn total_memory_counts_the_limits_of_live_agents() {
    let t = node();
    t.node
        .set_tenant("big", quotas(&[("total_memory", "40MiB")]))
        .unwrap();
    let a = spawn(&t, "big", &[("memory", "16MiB")]).unwrap();
    spawn(&t, "big", &[("memory", "16MiB")]).unwrap();
    let err = spawn(&t, "big", &[("memory", "16MiB")]).unwrap_err();
    assert_eq!(quota_of(&err), "total_memory");
    spawn(&t, "big", &[("memory", "8MiB")]).unwrap();
    // A killed agent gives its share back.
    t.node.kill(&a);
    spawn(&t, "big", &[("memory", "8MiB")]).unwrap();
}

#[test]
fn per_agent_limits_cannot_exceed_the_quota() {
    let t = node();
    t.node
        .set_tenant(
            "small",
            quotas(&[
                ("deadline", "50ms"),
                ("mailbox", "4"),
                ("max_message", "1KiB"),
            ]),
        )
        .unwrap();
    for (key, value) in [
        ("deadline", "1s"),
        ("mailbox", "100"),
        ("max_message", "1MiB"),
    ] {
        let err = spawn(&t, "small", &[(key, value)]).unwrap_err();
        assert_eq!(quota_of(&err), key);
    }
    // The quota became the agent's limit: a 2 KiB message is refused.
    let a = spawn(&t, "small", &[]).unwrap();
    let err = a.request_blocking(vec![b'x'; 2048], TIMEOUT).unwrap_err();
    assert!(
        matches!(
            err,
            RequestError::Send(SendError::TooLarge { limit: 1024, .. })
        ),
        "{err}"
    );
    assert_eq!(
        a.request_blocking(vec![b'x'; 1000], TIMEOUT).unwrap().len(),
        1000
    );
}

#[test]
fn the_message_rate_is_a_quota_with_a_typed_error() {
    let t = node();
    t.node
        .set_tenant("slow", quotas(&[("rate", "20")]))
        .unwrap();
    let a = spawn(&t, "slow", &[]).unwrap();
    let b = t.echo("fast");
    let mut refused = 0;
    for _ in 0..100 {
        match a.send(b"x".to_vec()) {
            Ok(()) => {}
            Err(SendError::Quota(q)) => {
                assert_eq!(q.quota, "rate");
                refused += 1;
            }
            Err(other) => panic!("{other}"),
        }
    }
    // A bucket of one second's worth: 20 pass, the rest are refused.
    assert!((75..=80).contains(&refused), "{refused} refused");
    // Another tenant's agent is not slowed.
    for _ in 0..100 {
        b.send(b"x".to_vec()).unwrap();
    }
}

#[test]
fn a_config_file_and_a_script_define_tenants() {
    let dir = scratch("tenants");
    let config = dir.join("node.toml");
    std::fs::write(&config, "[tenants.acme]\nmax_agents = 1\n").unwrap();
    let script = dir.join("t.rhai");
    std::fs::write(
        &script,
        r#"
spawn("echo", #{ tenant: "acme" });
let refused = "";
try { spawn("echo", #{ tenant: "acme" }); } catch (e) { refused = `${e}`; }
print(`CONFIG: ${refused}`);
tenant("beta", #{ memory: "16MiB", rate: 1000 });
try { spawn("echo", #{ tenant: "beta", memory: "64MiB" }); } catch (e) { print(`SCRIPT: ${e}`); }
"#,
    )
    .unwrap();
    let run = |config_file: &std::path::Path| {
        caxton_run(&dir, &script, &["--config", config_file.to_str().unwrap()])
    };
    let out = run(&config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("CONFIG:") && stdout.contains("`max_agents` quota"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SCRIPT:") && stdout.contains("`memory` quota"),
        "{stdout}"
    );

    // A typo in the config stops the start, naming the key.
    std::fs::write(&config, "[tenants.acme]\nmax_agent = 1\n").unwrap();
    let out = run(&config);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown field `max_agent`"), "{stderr}");
}
