//! Supply chain: `cargo deny check licenses bans sources` on both workspaces (the project's
//! and `fuzz/`), offline, with the policy in `deny.toml`.
//!
//! The advisory check is left out: its database is fetched from a git host these machines
//! cannot reach. The tool is built from the registry (pinned; about four minutes on two
//! cores): the only prebuilt binary reachable here, a PyPI wheel of 0.14.2, panics on the
//! package ids of current `cargo metadata`.

use crate::builder;
use anyhow::{Context, Result, bail};
use std::process::Command;

/// The cargo-deny release the policy file is written for.
const VERSION: &str = "0.20.2";

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(builder::root());
    cmd
}

/// Installs the pinned cargo-deny when it is missing or another version.
fn ensure_installed() -> Result<()> {
    let version = cargo().args(["deny", "--version"]).output().ok().filter(|o| o.status.success());
    let have = version.is_some_and(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().nth(1) == Some(VERSION));
    if !have {
        println!("deny: installing cargo-deny {VERSION}");
        let status = cargo()
            .args(["install", "cargo-deny", "--locked", "--version", VERSION])
            .status()
            .context("installing cargo-deny")?;
        if !status.success() {
            bail!("installing cargo-deny {VERSION} failed");
        }
    }
    Ok(())
}

/// Checks licences, bans and sources of every crate either workspace pulls in.
pub fn check() -> Result<()> {
    ensure_installed()?;
    for manifest in ["Cargo.toml", "fuzz/Cargo.toml"] {
        let status = cargo()
            .args(["deny", "--offline", "--log-level", "error", "--manifest-path", manifest])
            .args(["check", "--hide-inclusion-graph", "licenses", "bans", "sources"])
            .status()
            .context("running cargo deny")?;
        if !status.success() {
            bail!("cargo deny found a problem in the dependencies of {manifest} (see deny.toml)");
        }
    }
    println!("deny: licences, bans and sources clean in both workspaces (advisories need the network)");
    Ok(())
}
