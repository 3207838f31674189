//! Builds every guest component the tests use from source, for
//! wasm32-wasip2, and writes one constant per component with its path.
//!
//! A test that names a guest that does not exist fails to compile.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Guest workspaces built here, relative to this crate.
const WORKSPACES: &[(&str, &str)] = &[
    ("../guests", "guests"),
    ("../../plugins", "plugins"),
    ("../../examples/greet", "examples"),
];
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let repo = manifest_dir.join("../..");
    for watched in ["sdk", "wit", "tests/guests", "plugins", "examples"] {
        println!("cargo:rerun-if-changed={}", repo.join(watched).display());
    }

    let mut constants = String::new();
    for (dir, prefix) in WORKSPACES {
        let workspace = manifest_dir.join(dir);
        let target_dir = repo.join("target").join(format!("{prefix}-wasm"));
        for (name, path) in build(&workspace, &target_dir) {
            let constant = format!("{prefix}_{name}").to_uppercase().replace('-', "_");
            constants.push_str(&format!(
                "/// The `{name}` component from `{prefix}/`.\npub const {constant}: &str = {:?};\n",
                path.display().to_string()
            ));
        }
    }
    std::fs::write(out_dir.join("components.rs"), constants).expect("write components.rs");
}

/// Builds one workspace and returns each member's name and component path.
fn build(workspace: &Path, target_dir: &Path) -> Vec<(String, PathBuf)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        // The outer build's flags and wrappers (clippy, coverage) are for the
        // host, not for guests.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("run cargo for the guest components");
    assert!(
        status.success(),
        "building the guests in {} failed",
        workspace.display()
    );

    let manifest = std::fs::read_to_string(workspace.join("Cargo.toml")).expect("read manifest");
    members(&manifest)
        .into_iter()
        .map(|member| {
            let member = if member == "." {
                package_name(&manifest)
            } else {
                member
            };
            let file = format!("{}.wasm", member.replace('-', "_"));
            let path = target_dir.join(TARGET).join("release").join(file);
            assert!(path.exists(), "{} was not built", path.display());
            (member, path)
        })
        .collect()
}

/// The `members = [...]` list of a workspace manifest (one line, as ours
/// are); `.` stands for the package at the workspace root.
fn members(manifest: &str) -> Vec<String> {
    let line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("workspace has members");
    let list = line
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .expect("members list")
        .0;
    list.split(',')
        .map(|m| m.trim().trim_matches('"').to_owned())
        .filter(|m| !m.is_empty())
        .collect()
}

/// The `name = "..."` of the `[package]` in a manifest.
fn package_name(manifest: &str) -> String {
    manifest
        .lines()
        .skip_while(|l| l.trim() != "[package]")
        .find_map(|l| l.trim().strip_prefix("name = "))
        .map(|name| name.trim_matches('"').to_owned())
        .expect("package name")
}
