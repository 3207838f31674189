//! Reading a text argument that may come from a file or stdin (`-`).

use std::path::Path;

/// The text of a file, or of stdin for `-`.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// An `--input` value, or the text of `--input-file` when given.
pub(crate) fn input_text(input: &str, input_file: Option<&Path>) -> Result<String, String> {
    match input_file {
        None => Ok(input.to_string()),
        Some(path) => read_text(path),
    }
}
