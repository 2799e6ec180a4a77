//! Config files, quotas and the rate bucket.

use std::time::Duration;

use super::*;
use crate::core::limits::AgentLimits;

#[test]
fn a_config_parses_and_rejects_unknown_keys() {
    let t = parse_config(
        "[tenants.acme]\nmax_agents = 3\nmemory = \"16MiB\"\ndeadline = \"50ms\"\nrate = 2.5\n\n[tenants.other]\n",
    )
    .unwrap();
    let acme = &t["acme"].quotas;
    assert_eq!(acme.max_agents, Some(3));
    assert_eq!(acme.memory, Some(16 << 20));
    assert_eq!(acme.deadline, Some(Duration::from_millis(50)));
    assert_eq!(acme.rate, Some(2.5));
    assert_eq!(t["other"], Tenant::default());

    let err = parse_config("[tenants.acme]\nmax_agent = 3\n").unwrap_err();
    assert!(err.0.contains("unknown field `max_agent`"), "{err}");
    assert!(err.0.contains("grants"), "{err}");
    let err = parse_config("[tenant.acme]\n").unwrap_err();
    assert!(err.0.contains("unknown key `tenant`"), "{err}");
    let err = parse_config("[tenants.acme]\nmemory = \"lots\"\n").unwrap_err();
    assert!(err.0.contains("quota option `memory`"), "{err}");
    assert!(parse_config("tenants = [").unwrap_err().0.contains("TOML"));
}

#[test]
fn a_config_gives_data_dirs_and_one_way_grants() {
    let t = parse_config(
        "[tenants.a]\ndata_dir = \"/srv/a\"\ngrants = [\"b\"]\n[tenants.b]\ngrants = []\n",
    )
    .unwrap();
    assert_eq!(t["a"].data_dir, Some(PathBuf::from("/srv/a")));
    assert!(t["a"].may_send_to("a", "b"));
    assert!(!t["b"].may_send_to("b", "a"));
    assert!(t["b"].may_send_to("b", "b"));
    let err = parse_config("[tenants.a]\ngrants = [\"../x\"]\n").unwrap_err();
    assert!(err.0.contains("`grants`"), "{err}");
    let err = parse_config("[tenants.a]\ngrants = 3\n").unwrap_err();
    assert!(err.0.contains("list of tenant names"), "{err}");
    let err = parse_config("[tenants.a]\ndata_dir = 3\n").unwrap_err();
    assert!(err.0.contains("`data_dir`"), "{err}");
}

#[test]
fn a_config_gives_tenants_tokens_that_are_long_and_distinct() {
    let c = parse_node_config(
        "[tenants.a]\n[tokens]\na = \"0123456789abcdef\"\nb = \"fedcba9876543210\"\n",
    )
    .unwrap();
    assert_eq!(c.tokens["a"], "0123456789abcdef");
    assert_eq!(c.tokens["b"], "fedcba9876543210");
    assert!(c.tenants.contains_key("a"));
    let err = parse_node_config("[tokens]\na = \"short\"\n").unwrap_err();
    assert!(err.0.contains("at least 16 characters"), "{err}");
    let err = parse_node_config("[tokens]\na = \"0123456789abcdef\"\nb = \"0123456789abcdef\"\n")
        .unwrap_err();
    assert!(err.0.contains("the same token as `a`"), "{err}");
    let err = parse_node_config("[tokens]\na = 3\n").unwrap_err();
    assert!(err.0.contains("must be a string"), "{err}");
    let err = parse_node_config("[tokens]\n\"../x\" = \"0123456789abcdef\"\n").unwrap_err();
    assert!(err.0.contains("[tokens]"), "{err}");
}

#[test]
fn a_tenant_is_normal_priority_unless_it_says_background() {
    let t = parse_config("[tenants.a]\n[tenants.b]\npriority = \"background\"\n").unwrap();
    assert_eq!(t["a"].priority, Priority::Normal);
    assert_eq!(t["b"].priority, Priority::Background);
    let err = parse_config("[tenants.a]\npriority = \"high\"\n").unwrap_err();
    assert!(err.0.contains("`normal` or `background`"), "{err}");
    let err = parse_config("[tenants.a]\npriority = 1\n").unwrap_err();
    assert!(err.0.contains("`priority`"), "{err}");
}

#[test]
fn quotas_default_and_bound_agent_limits() {
    let q = Quotas {
        memory: Some(16 << 20),
        mailbox: Some(8),
        fuel: Some(1000),
        ..Quotas::default()
    };
    let mut limits = AgentLimits::default();
    q.fit("t", &mut limits, &[]).unwrap();
    assert_eq!(
        (limits.memory, limits.mailbox, limits.fuel),
        (16 << 20, 8, Some(1000))
    );

    let mut limits = AgentLimits {
        memory: 32 << 20,
        ..AgentLimits::default()
    };
    let err = q.fit("t", &mut limits, &["memory"]).unwrap_err();
    assert_eq!(err.quota, "memory");
    assert!(
        err.to_string().contains("32 MiB") && err.to_string().contains("16 MiB"),
        "{err}"
    );
}

#[test]
fn tenant_wide_quotas_count_agents_and_memory() {
    let q = Quotas {
        max_agents: Some(2),
        total_memory: Some(10 << 20),
        ..Quotas::default()
    };
    q.admit("t", 1, || 4 << 20, 4 << 20).unwrap();
    assert_eq!(q.admit("t", 2, || 0, 1).unwrap_err().quota, "max_agents");
    assert_eq!(
        q.admit("t", 1, || 8 << 20, 4 << 20).unwrap_err().quota,
        "total_memory"
    );
}

#[test]
fn the_rate_bucket_refills_with_time() {
    let s = Duration::from_secs_f64;
    let mut b = RateBucket::new(10.0, s(0.0));
    assert_eq!((0..20).filter(|_| b.take(s(0.0))).count(), 10);
    assert!(!b.take(s(0.05)));
    assert!(b.take(s(0.1)));
    // Never more than a second's worth saved up.
    assert_eq!((0..50).filter(|_| b.take(s(100.0))).count(), 10);
}
