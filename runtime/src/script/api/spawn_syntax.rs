//! `spawn(...)` as a script function.
//!
//! `spawn` is a reserved keyword in Rhai, so it cannot be registered as a
//! plain function; it is registered as custom syntax that reads exactly like
//! a call with one or two arguments: `spawn(plugin)` or
//! `spawn(plugin, #{...})`, where `plugin` is a `Plugin` or a plugin name.

use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, LexError, Map, Position};

use super::{Fallible, fail};
use crate::host::Plugin;
use crate::node::AgentHandle;

/// Spawns from a plugin (or name) and an option map.
pub(crate) type SpawnFn = dyn Fn(Dynamic, Map) -> Fallible<AgentHandle> + Send + Sync;

pub(crate) fn register(engine: &mut Engine, spawn: std::sync::Arc<SpawnFn>) {
    engine.register_custom_syntax_with_state_raw(
        "spawn",
        |symbols: &[ImmutableString], look_ahead: &str, _state: &mut Dynamic| {
            let next = match symbols.len() {
                1 => "(",
                2 => "$expr$",
                3 | 5 if look_ahead == ")" => ")",
                3 if look_ahead == "," => ",",
                4 if symbols[3] == ")" => return Ok(None),
                4 => "$expr$",
                6 => return Ok(None),
                _ => {
                    let err = LexError::ImproperSymbol(
                        look_ahead.to_string(),
                        "spawn takes one or two arguments: spawn(plugin) or spawn(plugin, #{ ... })".into(),
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
            let target = context.eval_expression_tree(&inputs[0])?;
            let options = match inputs.get(1) {
                Some(expr) => {
                    let value = context.eval_expression_tree(expr)?;
                    let type_name = value.type_name();
                    value
                        .try_cast::<Map>()
                        .ok_or_else(|| fail(format!("spawn: the options must be a map #{{...}}, got {type_name}")))
                        .map_err(with_position)?
                }
                None => Map::new(),
            };
            spawn(target, options).map(Dynamic::from).map_err(with_position)
        },
    );
}

/// Turns the first argument into a plugin: a `Plugin` value, or a name/path.
pub(crate) fn plugin_arg(
    value: Dynamic,
    resolve: impl FnOnce(&str) -> Fallible<Plugin>,
) -> Fallible<Plugin> {
    if value.is::<Plugin>() {
        return Ok(value.cast::<Plugin>());
    }
    if value.is_string() {
        return resolve(&value.into_string().unwrap_or_default());
    }
    Err(Box::new(EvalAltResult::ErrorMismatchDataType(
        "Plugin or plugin name".into(),
        value.type_name().into(),
        Position::NONE,
    )))
}
