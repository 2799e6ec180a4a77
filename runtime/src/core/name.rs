//! Agent names: how scripts and agents address each other.

/// A name that cannot be used for an agent or tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a valid name: {why} (use 1-128 of A-Z a-z 0-9 _ - .)")]
pub struct NameError {
    /// The rejected name.
    pub name: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// Checks an agent or tenant name: 1 to 128 characters of `[A-Za-z0-9_.-]`,
/// not `.` or `..` (a name may become a path, e.g. under a data dir).
/// `@` is reserved for `name@node` addresses, `/` for tenant scoping.
pub fn check(name: &str) -> Result<(), NameError> {
    let fail = |why| {
        Err(NameError {
            // Clamped: a name may be a hostile guest's megabyte of text.
            name: super::budget::clamp_to(name, 160).into_owned(),
            why,
        })
    };
    if name.is_empty() {
        return fail("it is empty");
    }
    if name.len() > 128 {
        return fail("it is longer than 128 bytes");
    }
    if name == "." || name == ".." {
        return fail("`.` and `..` name directories, not agents");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return fail("it has a character outside the allowed set");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check("echo-1").is_ok());
        assert!(check("a.b_c").is_ok());
        assert!(check("").is_err());
        assert!(check("x@node").is_err());
        assert!(check("../etc").is_err());
        assert!(check(".").is_err());
        assert!(check("..").is_err());
        assert!(check("...").is_ok());
        assert!(check(&"a".repeat(129)).is_err());
    }
}
