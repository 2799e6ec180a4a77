//! What the benchmarks in `benches/` share: one engine and node, the echo
//! component linked both for Caxton and for plain wasmtime, and the way a
//! raw embedding drives its async calls.

use std::future::Future;
use std::time::{Duration, Instant};

use caxton::host::bindings::caxton::agent::types::Message;
use caxton::host::raw::{RawAgent, RawHost, raw_linker};
use caxton::host::{CaxtonEngine, EngineOptions, Plugin};
use caxton::node::Node;
use wasmtime::Store;
use wasmtime::component::{Component, InstancePre, TypedFunc};

/// Caxton and plain wasmtime side by side, on the same engine.
pub struct Fixture {
    /// Kept alive for the node.
    pub runtime: tokio::runtime::Runtime,
    pub engine: CaxtonEngine,
    pub node: Node,
    /// The built-in echo plugin, as Caxton loads it.
    pub plugin: Plugin,
    /// The same component linked for the plain embedding.
    pub pre: InstancePre<RawHost>,
    /// [`Fixture::pre`] with `init`: what a raw spawn of an agent is.
    pub raw_agent: RawAgent,
}

impl Fixture {
    /// An engine with `max_agents` pool slots, a node on a multi-thread
    /// runtime, and echo for both.
    pub fn new(max_agents: u32) -> Fixture {
        Fixture::with(EngineOptions {
            max_agents,
            ..EngineOptions::default()
        })
    }

    /// [`Fixture::new`] with an engine of `options`.
    pub fn with(options: EngineOptions) -> Fixture {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let engine = CaxtonEngine::new(options).expect("an engine");
        let node = Node::new(engine.clone(), runtime.handle().clone());
        let plugin = node.plugin("echo").expect("the echo plugin");
        let wasmtime = engine.wasmtime();
        let bytes = caxton::host::builtin::bytes("echo").expect("echo is built in");
        let component = Component::new(wasmtime, bytes).expect("echo compiles");
        let pre = raw_linker(wasmtime)
            .and_then(|l| l.instantiate_pre(&component))
            .expect("echo links");
        let raw_agent = RawAgent::new(&engine, &plugin).expect("echo links for a raw spawn");
        Fixture {
            runtime,
            engine,
            node,
            plugin,
            pre,
            raw_agent,
        }
    }
}

/// Polls `fut` to completion with a waker that does nothing: for a raw
/// embedding's async calls, which never yield (their epoch deadline is
/// never reached), the cheapest way to drive them.
pub fn poll_once<F: Future>(fut: F) -> F::Output {
    let fut = std::pin::pin!(fut);
    match fut.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => unreachable!("a raw instance's call does not yield"),
    }
}

/// The time `n` spawns took, each instance kept until `keep` of them exist
/// (so each lands in a pool slot no live instance holds: a fresh slot),
/// then released, untimed, by `clear` (which must empty the list).
pub fn fresh_spawns<T>(
    n: u64,
    keep: usize,
    mut spawn: impl FnMut() -> T,
    mut clear: impl FnMut(&mut Vec<T>),
) -> Duration {
    let mut timed = Duration::ZERO;
    let mut kept = Vec::with_capacity(keep);
    for _ in 0..n {
        let start = Instant::now();
        let it = spawn();
        timed += start.elapsed();
        kept.push(it);
        if kept.len() == keep {
            clear(&mut kept);
        }
    }
    clear(&mut kept);
    timed
}

/// A store for the plain embedding, whose guests never reach an epoch
/// deadline (plain wasmtime has no deadlines to keep).
pub fn raw_store(engine: &wasmtime::Engine) -> Store<RawHost> {
    let mut store = Store::new(engine, RawHost::new());
    store.set_epoch_deadline(u64::MAX / 2);
    store
}

/// A component's typed `handle` export.
pub type Handle<'a> = TypedFunc<(&'a Message,), (Result<(), String>,)>;

/// Echo's `handle`, the plain way: `pre` instantiated in its own store,
/// `init` run, and the typed export to call with a message.
pub fn raw_echo<'a>(pre: &InstancePre<RawHost>) -> (Store<RawHost>, Handle<'a>) {
    let mut store = raw_store(pre.engine());
    let instance = pre.instantiate(&mut store).expect("echo instantiates");
    instance
        .get_typed_func::<(&str,), (Result<(), String>,)>(&mut store, "init")
        .and_then(|init| init.call(&mut store, ("",)))
        .expect("init runs")
        .0
        .expect("init succeeds");
    let handle = instance
        .get_typed_func(&mut store, "handle")
        .expect("echo exports handle");
    (store, handle)
}
