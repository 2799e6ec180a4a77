//! Script errors that point at the line: `file:line:col`, the source line
//! and a caret under the column.

use std::fmt;

use rhai::{EvalAltResult, ParseError, Position};

use super::limits::{ScriptLimits, WALL_CLOCK_TOKEN};

/// A script that failed to compile or run.
#[derive(Debug, Clone)]
pub struct ScriptError {
    /// The script's path as given.
    pub path: String,
    /// 1-based line, if known.
    pub line: Option<usize>,
    /// 1-based column, if known.
    pub column: Option<usize>,
    /// What went wrong.
    pub message: String,
    /// The source line, for the caret display.
    pub source_line: Option<String>,
    /// Whether it failed to compile (else: at run time).
    pub phase: Phase,
}

/// When a script failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading or compiling.
    Compile,
    /// Running.
    Run,
}

impl std::error::Error for ScriptError {}

impl ScriptError {
    fn at(path: &str, source: &str, pos: Position, message: String, phase: Phase) -> Self {
        let line = pos.line();
        ScriptError {
            path: path.to_string(),
            line,
            column: pos.position(),
            source_line: line
                .and_then(|l| source.lines().nth(l - 1))
                .map(str::to_string),
            message,
            phase,
        }
    }

    /// A compile error.
    pub fn parse(path: &str, source: &str, err: &ParseError) -> Self {
        Self::at(
            path,
            source,
            err.position(),
            err.err_type().to_string(),
            Phase::Compile,
        )
    }

    /// A run-time error, with the limit named when a sandbox limit hit.
    pub fn eval(path: &str, source: &str, err: &EvalAltResult, limits: &ScriptLimits) -> Self {
        let inner = innermost(err);
        let message = match inner {
            EvalAltResult::ErrorTerminated(token, _) if token.to_string() == WALL_CLOCK_TOKEN => {
                format!(
                    "the script ran longer than its wall-clock limit of {:?} (raise it with --timeout)",
                    limits.wall_clock
                )
            }
            EvalAltResult::ErrorTooManyOperations(_) => format!(
                "the script exceeded its limit of {} operations (an endless loop?); \
                 hot loops belong in `measure`/native functions",
                limits.max_operations
            ),
            EvalAltResult::ErrorStackOverflow(_) => format!(
                "the script exceeded its call-depth limit of {} (runaway recursion?)",
                limits.max_call_depth
            ),
            EvalAltResult::ErrorDataTooLarge(what, _) => format!(
                "{what} exceeded the script's size limit (strings {} bytes, arrays {} items, maps {} entries)",
                limits.max_string, limits.max_array, limits.max_map
            ),
            EvalAltResult::ErrorRuntime(value, _) => value.to_string(),
            other => other.to_string(),
        };
        let context = call_chain(err);
        let message = if context.is_empty() {
            message
        } else {
            format!("{message}{context}")
        };
        Self::at(path, source, position(err), message, Phase::Run)
    }

    /// A script file that could not be read.
    pub fn io(path: &str, err: &std::io::Error) -> Self {
        ScriptError {
            path: path.to_string(),
            line: None,
            column: None,
            message: format!("cannot read the script: {err}"),
            source_line: None,
            phase: Phase::Compile,
        }
    }
}

/// Unwraps "in function call" layers to the error that started it.
fn innermost(err: &EvalAltResult) -> &EvalAltResult {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => innermost(inner),
        other => other,
    }
}

/// " (in function `f`, called from line N)" for errors inside script functions.
fn call_chain(err: &EvalAltResult) -> String {
    let mut out = String::new();
    let mut cur = err;
    while let EvalAltResult::ErrorInFunctionCall(name, _, inner, pos) = cur {
        if !name.is_empty() && !name.starts_with("anon$") {
            out.push_str(&format!(
                "\n  in function `{name}` called at line {}",
                pos.line().unwrap_or(0)
            ));
        }
        cur = inner;
    }
    out
}

/// The most specific position: inside the innermost function, if known.
fn position(err: &EvalAltResult) -> Position {
    let inner = innermost(err).position();
    if inner.is_none() {
        err.position()
    } else {
        inner
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Compile => "syntax error",
            Phase::Run => "script error",
        };
        writeln!(f, "{phase}: {}", self.message)?;
        match (self.line, self.column) {
            (Some(line), col) => {
                let col = col.unwrap_or(1);
                writeln!(f, "  --> {}:{line}:{col}", self.path)?;
                if let Some(src) = &self.source_line {
                    let gutter = " ".repeat(line.to_string().len());
                    writeln!(f, "{gutter} |")?;
                    writeln!(f, "{line} | {src}")?;
                    write!(f, "{gutter} | {}^", " ".repeat(col.saturating_sub(1)))?;
                }
                Ok(())
            }
            (None, _) => write!(f, "  --> {}", self.path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_caret_under_the_column() {
        let src = "let a = 1;\nlet b = oops(a);\n";
        let err = ScriptError {
            path: "x.rhai".into(),
            line: Some(2),
            column: Some(9),
            message: "function not found: oops".into(),
            source_line: src.lines().nth(1).map(str::to_string),
            phase: Phase::Run,
        };
        let text = err.to_string();
        assert!(text.contains("--> x.rhai:2:9"), "{text}");
        assert!(text.contains("2 | let b = oops(a);"), "{text}");
        assert!(text.ends_with("  |         ^"), "{text:?}");
    }
}
