//! Plain wasmtime, for comparison: the same component instantiated the way
//! any embedding must (a store, a WASI context, the `caxton:agent` host
//! functions doing nothing), with none of Caxton around it. What Caxton
//! adds to a spawn or a call is measured against this, in the same run
//! (`raw_storm()` in scripts, the criterion bench).

use wasmtime::Store;
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable, TypedFunc, Val};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::caxton::agent::types::{Kind, Message, Outgoing};
use super::engine::CaxtonEngine;
use super::plugin::Plugin;

/// The store data of the plain embedding: just WASI.
pub struct RawHost {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The payload of the guest's last reply (the one thing a caller may
    /// want back).
    reply: Option<Vec<u8>>,
}

impl RawHost {
    /// An empty WASI context (no files, no environment).
    pub fn new() -> Self {
        RawHost {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            reply: None,
        }
    }
}

impl Default for RawHost {
    fn default() -> Self {
        RawHost::new()
    }
}

impl WasiView for RawHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A linker with WASI and a do-nothing `caxton:agent/host` (replies succeed
/// and go nowhere): the least a host must provide to run the component.
pub fn raw_linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<RawHost>> {
    let mut linker = Linker::<RawHost>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    let mut host = linker.instance("caxton:agent/host@0.1.0")?;
    type Answer = (Result<(), String>,);
    host.func_wrap("send", |_, (_to, _msg): (String, Outgoing)| {
        Ok::<Answer, _>((Ok(()),))
    })?;
    host.func_wrap("reply", |mut cx, (_id, msg): (u64, Outgoing)| {
        cx.data_mut().reply = Some(msg.payload);
        Ok::<Answer, _>((Ok(()),))
    })?;
    host.func_wrap("forward", |_, (_id, _to, _msg): (u64, String, Outgoing)| {
        Ok::<Answer, _>((Ok(()),))
    })?;
    host.func_new("log", |_, _, _, _| Ok(()))?;
    host.func_new("state-set", |_, _, _, _| Ok(()))?;
    host.func_new("now", |_, _, _, results| {
        results[0] = Val::U64(0);
        Ok(())
    })?;
    host.func_new("self-id", |_, _, _, results| {
        results[0] = Val::String("raw".into());
        Ok(())
    })?;
    host.func_new("state-get", |_, _, _, results| {
        results[0] = Val::Option(None);
        Ok(())
    })?;
    Ok(linker)
}

/// A request message of `payload`, as the guest receives it.
pub fn request_message(payload: Vec<u8>) -> Message {
    Message {
        id: 1,
        sender: String::new(),
        conversation: None,
        kind: Kind::Request,
        payload,
    }
}

/// A plugin's component linked for the plain embedding.
pub struct RawAgent {
    pre: InstancePre<RawHost>,
}

impl std::fmt::Debug for RawAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawAgent")
    }
}

impl RawAgent {
    /// Links `plugin`'s component (already compiled) without Caxton.
    pub fn new(engine: &CaxtonEngine, plugin: &Plugin) -> wasmtime::Result<Self> {
        let component = plugin.pre().instance_pre().component();
        let pre = raw_linker(&engine.engine)?.instantiate_pre(component)?;
        Ok(RawAgent { pre })
    }

    /// What a spawn is without Caxton: a store, an instance and `init`
    /// (what an agent needs before its first message). Dropping the
    /// [`RawInstance`] frees its pool slot.
    pub fn spawn(&self) -> wasmtime::Result<RawInstance> {
        let mut store = Store::new(self.pre.engine(), RawHost::new());
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = self.pre.instantiate(&mut store)?;
        let init = instance.get_typed_func::<(&str,), (Result<(), String>,)>(&mut store, "init")?;
        init.call(&mut store, ("",))?
            .0
            .map_err(wasmtime::Error::msg)?;
        Ok(RawInstance { store, instance })
    }

    /// [`RawAgent::spawn`] made the way a host that can pre-empt its guests
    /// must make it: instantiation and `init` async, each on a fiber (as
    /// every agent spawn is). What this costs over `spawn` is wasmtime's
    /// async machinery, not Caxton's.
    pub async fn spawn_async(&self) -> wasmtime::Result<RawInstance> {
        let mut store = Store::new(self.pre.engine(), RawHost::new());
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = self.pre.instantiate_async(&mut store).await?;
        let init = instance.get_typed_func::<(&str,), (Result<(), String>,)>(&mut store, "init")?;
        init.call_async(&mut store, ("",))
            .await?
            .0
            .map_err(wasmtime::Error::msg)?;
        Ok(RawInstance { store, instance })
    }

    /// What a spawn-request-kill is without Caxton: [`RawAgent::spawn`],
    /// one `handle`, and the store dropped.
    pub fn spawn_call_drop(&self, payload: &[u8]) -> wasmtime::Result<()> {
        let RawInstance {
            mut store,
            instance,
        } = self.spawn()?;
        let handle =
            instance.get_typed_func::<(&Message,), (Result<(), String>,)>(&mut store, "handle")?;
        let msg = request_message(payload.to_vec());
        handle
            .call(&mut store, (&msg,))?
            .0
            .map_err(wasmtime::Error::msg)?;
        Ok(())
    }
}

/// A live instance of the plain embedding (its store holds the pool slot).
pub struct RawInstance {
    store: Store<RawHost>,
    instance: wasmtime::component::Instance,
}

impl std::fmt::Debug for RawInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawInstance")
    }
}

/// One instance of a built-in plugin in plain wasmtime on the engine's
/// [uninterrupted twin](CaxtonEngine::uninterrupted_twin): the guest's code
/// without the epoch checks that deadlines need. Nothing can stop it, so it
/// only ever runs the host's own plugins (`overhead.rhai`'s kernels).
pub struct Uninterrupted {
    store: Store<RawHost>,
    handle: TypedFunc<(Message,), (Result<(), String>,)>,
}

impl std::fmt::Debug for Uninterrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Uninterrupted")
    }
}

impl Uninterrupted {
    /// Compiles the built-in plugin `name` for the twin engine, instantiates
    /// it and runs its `init` with an empty config.
    pub fn builtin(engine: &CaxtonEngine, name: &str) -> wasmtime::Result<Self> {
        let bytes = super::builtin::bytes(name)
            .ok_or_else(|| wasmtime::Error::msg(format!("`{name}` is not a built-in plugin")))?;
        let twin = engine.uninterrupted_twin()?;
        let component = Component::new(&twin, bytes)?;
        let mut store = Store::new(&twin, RawHost::new());
        let instance = raw_linker(&twin)?.instantiate(&mut store, &component)?;
        let init = instance.get_typed_func::<(&str,), (Result<(), String>,)>(&mut store, "init")?;
        init.call(&mut store, ("",))?
            .0
            .map_err(wasmtime::Error::msg)?;
        let handle = instance.get_typed_func(&mut store, "handle")?;
        Ok(Uninterrupted { store, handle })
    }

    /// Hands the guest one request of `payload`; returns its reply's payload.
    pub fn request(&mut self, payload: Vec<u8>) -> wasmtime::Result<Vec<u8>> {
        self.store.data_mut().reply = None;
        self.handle
            .call(&mut self.store, (request_message(payload),))?
            .0
            .map_err(wasmtime::Error::msg)?;
        self.store
            .data_mut()
            .reply
            .take()
            .ok_or_else(|| wasmtime::Error::msg("the guest handled the request without replying"))
    }
}
