//! Agents written in JavaScript and Python (plugins/js, plugins/python):
//! they answer, keep state, and are held to the same limits as Rust ones.
//! Each test skips, saying why, where the language's toolchain is missing.

use std::time::Duration;

use caxton::core::failure::Failure;
use caxton::core::limits::AgentLimits;
use caxton::host::Plugin;
use caxton::node::{RequestError, SpawnOptions};

use super::languages_util::{Lang, component};
use super::util::{TIMEOUT, assert_answers, node};

const LANGS: [Lang; 2] = [Lang::Js, Lang::Python];

fn load(t: &super::util::TestNode, lang: Lang, name: &str) -> Option<Plugin> {
    let path = component(lang, name)?;
    Some(
        t.node
            .plugin(path.to_str().unwrap())
            .unwrap_or_else(|e| panic!("{lang:?} {name}: {e}")),
    )
}

fn ask(agent: &caxton::node::AgentHandle, text: &str) -> Result<String, RequestError> {
    agent
        .request_blocking(text.as_bytes().to_vec(), TIMEOUT)
        .map(|r| String::from_utf8(r).unwrap())
}

#[test]
fn js_and_python_agents_answer_compute_and_keep_state() {
    let t = node();
    for lang in LANGS {
        let (Some(echo), Some(compute)) = (load(&t, lang, "echo"), load(&t, lang, "compute"))
        else {
            continue;
        };
        let echo = t
            .node
            .spawn_blocking(&echo, SpawnOptions::default())
            .unwrap();
        assert_eq!(ask(&echo, "hello").unwrap(), "hello", "{lang:?}");
        // A batch (sends queued behind a request) goes through the SDK's
        // handle-batch: every request of it is answered.
        let waiting: Vec<_> = (0..20)
            .map(|i| {
                let echo = echo.clone();
                std::thread::spawn(move || ask(&echo, &format!("m{i}")).unwrap())
            })
            .collect();
        for (i, w) in waiting.into_iter().enumerate() {
            assert_eq!(w.join().unwrap(), format!("m{i}"), "{lang:?}");
        }

        let compute = t
            .node
            .spawn_blocking(&compute, SpawnOptions::default())
            .unwrap();
        let native = caxton_kernels::run("sieve 100000").unwrap();
        assert_eq!(
            ask(&compute, "sieve 100000").unwrap(),
            native.to_string(),
            "{lang:?}"
        );
        assert_eq!(ask(&compute, "count").unwrap(), "1", "{lang:?}");
        assert_eq!(ask(&compute, "count").unwrap(), "2", "{lang:?}");
        // An exception is the handler's error: the agent lives on.
        match ask(&compute, "bogus") {
            Err(RequestError::Handler { reason, .. }) => {
                assert!(reason.contains("unknown command"), "{lang:?}: {reason}")
            }
            other => panic!("{lang:?}: {other:?}"),
        }
        assert_eq!(ask(&compute, "count").unwrap(), "3", "{lang:?}");
    }
}

#[test]
fn js_and_python_agents_are_contained_like_rust_ones() {
    let t = node();
    let bystander = t.echo("bystander");
    for lang in LANGS {
        let Some(hostile) = load(&t, lang, "hostile") else {
            continue;
        };
        let spawn_with = |deadline: Duration| {
            let options = SpawnOptions {
                limits: AgentLimits {
                    deadline,
                    memory: 64 << 20,
                    ..AgentLimits::default()
                },
                ..SpawnOptions::default()
            };
            t.node.spawn_blocking(&hostile, options).unwrap()
        };
        let spawn = || spawn_with(Duration::from_millis(300));
        let agent = spawn();
        assert_eq!(ask(&agent, "ok").unwrap(), "ok", "{lang:?}");
        match ask(&agent, "throw") {
            Err(RequestError::Handler { .. }) => {}
            other => panic!("{lang:?} throw: {other:?}"),
        }
        assert_eq!(
            ask(&agent, "ok").unwrap(),
            "ok",
            "{lang:?}: alive after a throw"
        );

        match ask(&spawn(), "loop") {
            Err(RequestError::AgentFailed {
                failure: Failure::Deadline { .. },
                ..
            }) => {}
            other => panic!("{lang:?} loop: {other:?}"),
        }
        // Growing to 64 MiB takes an interpreter a while on a busy
        // machine: a deadline that cannot come first, so the memory limit
        // is what stops it.
        match ask(&spawn_with(Duration::from_secs(15)), "alloc") {
            Err(RequestError::AgentFailed {
                failure: Failure::MemoryLimit { limit, .. },
                ..
            }) => assert_eq!(limit, 64 << 20),
            other => panic!("{lang:?} alloc: {other:?}"),
        }
        if let Lang::Python = lang {
            match ask(&spawn(), "exit") {
                Err(RequestError::AgentFailed {
                    failure: Failure::Trap { .. },
                    ..
                }) => {}
                other => panic!("{lang:?} exit: {other:?}"),
            }
        }
        assert_answers(&bystander);
    }
}
