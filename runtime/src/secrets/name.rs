//! What a secret may be called and how big it may be.
//!
//! Names are plain identifiers (they show up in redacted output as
//! `[secret:<name>]`, in logs and in the API), so they can never contain
//! `]`, whitespace or anything that needs quoting. Values are opaque bytes;
//! only their size is limited here.

/// Longest secret name, in characters (all ASCII, so also bytes).
pub const MAX_NAME_LEN: usize = 128;

/// Largest secret value, in bytes: room for certificates and key files,
/// small enough that every secret of a run fits in memory at once.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// Checks a secret name: 1 to [`MAX_NAME_LEN`] ASCII letters, digits, `-`,
/// `_`, `.` or `/`, starting with a letter or digit (`db/password`,
/// `pagerduty.token`).
pub fn validate_name(name: &str) -> Result<(), String> {
    const RULE: &str = "secret names use ASCII letters, digits, `-`, `_`, `.` and `/`, \
                        and start with a letter or digit";
    let Some(first) = name.chars().next() else {
        return Err("a secret name must not be empty".into());
    };
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "secret name is {} bytes long; the limit is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "secret name `{}` starts with `{}`; {RULE}",
            name.escape_default(),
            first.escape_default()
        ));
    }
    if let Some((at, bad)) = name
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
    {
        return Err(format!(
            "secret name `{}` has `{}` at byte {at}; {RULE}",
            name.escape_default(),
            bad.escape_default()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_in_the_alphabet() {
        for name in [
            "a",
            "Z",
            "7",
            "db/password",
            "pagerduty.token",
            "a-b_c.d/e",
            "1password",
        ] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
        assert_eq!(validate_name(&"x".repeat(MAX_NAME_LEN)), Ok(()));
    }

    #[test]
    fn refuses_names_outside_it_with_a_reason() {
        for (name, expected) in [
            ("", "must not be empty"),
            ("-a", "starts with `-`"),
            ("/a", "starts with `/`"),
            (".env", "starts with `.`"),
            ("a b", "has ` ` at byte 1"),
            ("a]b", "has `]` at byte 1"),
            ("a\nb", "`a\\nb` has `\\n` at byte 1"),
            ("clé", "has `\\u{e9}` at byte 2"),
            ("é", "starts with `\\u{e9}`"),
        ] {
            let message = validate_name(name).expect_err(name);
            assert!(message.contains(expected), "{name:?}: {message}");
        }
        let long = "x".repeat(MAX_NAME_LEN + 1);
        let message = validate_name(&long).expect_err("too long");
        assert!(
            message.contains("129 bytes long; the limit is 128"),
            "{message}"
        );
    }
}
