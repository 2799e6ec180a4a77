//! `spawn(...)` as a script function.
//!
//! `spawn` is a reserved keyword in Rhai, so it cannot be registered as a
//! plain function; it is registered as custom syntax that reads exactly like
//! a call with one to three arguments: `spawn(plugin)`,
//! `spawn(plugin, #{...})`, or `spawn(node, plugin, #{...})` for a remote
//! node, where `plugin` is a `Plugin` or a plugin name.

use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, LexError, Position};

use super::{Fallible, fail};
use crate::host::Plugin;
use crate::node::PluginRef;

/// Spawns from the evaluated arguments.
pub(crate) type SpawnFn = dyn Fn(Vec<Dynamic>) -> Fallible<Dynamic> + Send + Sync;

const MAX_ARGS: usize = 3;

pub(crate) fn register(engine: &mut Engine, spawn: std::sync::Arc<SpawnFn>) {
    engine.register_custom_syntax_with_state_raw(
        "spawn",
        |symbols: &[ImmutableString], look_ahead: &str, _state: &mut Dynamic| {
            let n = symbols.len();
            let args = (n - 1) / 2;
            let next = match n {
                1 => "(",
                // After `(` or `,`: an argument, unless `)` just closed the call.
                _ if n.is_multiple_of(2) && symbols[n - 1] == ")" => return Ok(None),
                _ if n.is_multiple_of(2) => "$expr$",
                // After an argument: `)` or, if room is left, `,`.
                _ if look_ahead == ")" => ")",
                _ if look_ahead == "," && args < MAX_ARGS => ",",
                _ => {
                    let err = LexError::ImproperSymbol(
                        look_ahead.to_string(),
                        "spawn takes one to three arguments: spawn(plugin), spawn(plugin, #{ ... }) or spawn(node, plugin, #{ ... })".into(),
                    );
                    return Err(err.into_err(Position::NONE));
                }
            };
            Ok(Some(next.into()))
        },
        false,
        move |context, inputs, _state| {
            // Errors of a custom syntax carry no position; use the call's.
            let at = inputs[0].position();
            let with_position = |mut e: Box<EvalAltResult>| {
                if e.position().is_none() {
                    e.set_position(at);
                }
                e
            };
            let mut args = Vec::with_capacity(inputs.len());
            for expr in inputs {
                args.push(context.eval_expression_tree(expr)?);
            }
            spawn(args).map_err(with_position)
        },
    );
}

/// The option map argument, or an error naming what was given.
pub(crate) fn options_arg(value: Option<Dynamic>) -> Fallible<rhai::Map> {
    let Some(value) = value else {
        return Ok(rhai::Map::new());
    };
    let type_name = value.type_name();
    value.try_cast::<rhai::Map>().ok_or_else(|| {
        fail(format!(
            "spawn: the options must be a map #{{...}}, got {type_name}"
        ))
    })
}

/// A plugin argument: a `Plugin` value, or a name (a built-in, or a
/// component file for the script's own node).
pub(crate) fn plugin_arg(value: Dynamic) -> Fallible<PluginRef> {
    let type_name = value.type_name();
    if let Some(p) = value.clone().try_cast::<Plugin>() {
        return Ok(PluginRef::Loaded(p));
    }
    if let Some(u) = value.clone().try_cast::<crate::node::Uploaded>() {
        return Ok(PluginRef::Name(u.name));
    }
    value.into_string().map(PluginRef::Name).map_err(|_| {
        Box::new(EvalAltResult::ErrorMismatchDataType(
            "Plugin or plugin name".into(),
            type_name.into(),
            Position::NONE,
        ))
    })
}
