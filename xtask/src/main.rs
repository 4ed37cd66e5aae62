//! `cargo xtask`: the one entry point for building, running, testing and
//! benchmarking moteOS.

mod arch;
mod bench;
mod bench_arch;
mod bench_gguf;
mod bench_storage;
mod bench_ui;
mod bench_usb;
mod builder;
mod deny;
mod e2e;
mod e2e_arch;
mod e2e_harden;
mod e2e_persist;
mod e2e_storage;
mod e2e_ui;
mod e2e_usb;
mod e2e_wizard;
mod fuzz;
mod gguf_craft;
mod image;
mod infer;
mod mock_llm;
mod model;
mod parity;
mod qemu;
mod servers;
mod setup;

use anyhow::{Context, Result, bail};
use arch::Arch;
use builder::BuildOptions;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Build, run, test and benchmark moteOS")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Install what a fresh machine lacks (QEMU, UEFI firmware).
    Setup,
    /// Build the UEFI binary, the ESP folder and the bootable disk image.
    Build {
        /// Target architecture.
        #[arg(long, value_enum, default_value = "x86_64")]
        arch: Arch,
        /// Optimised build.
        #[arg(long)]
        release: bool,
        /// Copy this file onto the ESP as \moteos\config.toml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Copy this file onto the ESP as \moteos\model.gguf.
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Build and boot moteOS in QEMU.
    Run {
        /// Target architecture.
        #[arg(long, value_enum, default_value = "x86_64")]
        arch: Arch,
        /// Optimised build.
        #[arg(long)]
        release: bool,
        /// No window even if a display is available (the serial console stays on the terminal).
        #[arg(long)]
        headless: bool,
        /// Copy this file onto the ESP as \moteos\config.toml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Copy this file onto the ESP as \moteos\model.gguf.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Guest memory in MiB.
        #[arg(long, default_value_t = qemu::DEFAULT_MEMORY_MIB)]
        memory: u32,
    },
    /// Run every test: host unit tests, then the QEMU end-to-end suite on both architectures.
    Test {
        /// Only the host unit tests.
        #[arg(long, conflicts_with = "e2e_only")]
        host_only: bool,
        /// Only the QEMU end-to-end tests.
        #[arg(long)]
        e2e_only: bool,
        /// Restrict the end-to-end tests to one architecture.
        #[arg(long, value_enum)]
        arch: Option<Arch>,
        /// Only end-to-end tests whose name contains this.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Fuzz every parser of untrusted input for a bounded time (installs cargo-fuzz if needed).
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Stop each target after this many executions (the time limit still applies).
        #[arg(long)]
        runs: Option<u64>,
        /// Only this target (see fuzz/Cargo.toml).
        #[arg(long)]
        target: Option<String>,
    },
    /// Fetch the bundled model into target/models/ (checksum-verified, cached).
    Model {
        /// Also write re-quantised variants (Q8_0, and Q4_K where rows allow) next to it.
        #[arg(long)]
        quantize: bool,
        /// Rewrite the variants even if present.
        #[arg(long)]
        force: bool,
    },
    /// Regenerate the synthetic model of each family, run llama.cpp on them (built from PyPI's
    /// llama-cpp-python source package) and compare moteOS with it.
    Parity,
    /// Run the local inference engine on the host (release build) and print tokens/s.
    Infer {
        /// GGUF model file.
        #[arg(long)]
        model: PathBuf,
        /// Continue this text as is (no chat template).
        #[arg(long, conflicts_with = "chat", required_unless_present = "chat")]
        prompt: Option<String>,
        /// Ask this as one user turn through the model's chat template.
        #[arg(long)]
        chat: Option<String>,
        /// Tokens to generate at most.
        #[arg(short = 'n', default_value_t = 256)]
        n: usize,
        /// Always take the most likely token.
        #[arg(long)]
        greedy: bool,
        /// Sampling temperature.
        #[arg(long)]
        temperature: Option<f32>,
        /// Threads the forward pass is split over (results are identical to one thread).
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Benchmarks; `boot` measures boot-to-ready against the firmware floor.
    Bench {
        /// Which benchmark.
        #[arg(value_enum, default_value = "boot")]
        which: bench::Which,
        /// Restrict to one architecture.
        #[arg(long, value_enum)]
        arch: Option<Arch>,
        /// Runs per measurement (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// `infer` only: thread counts to measure, comma-separated (e.g. `1,2`).
        #[arg(long, value_delimiter = ',', default_value = "1")]
        threads: Vec<usize>,
    },
}

/// Crates whose unit tests run on the host.
const HOST_TESTED: &[&str] =
    &["app", "client", "config", "hal", "http", "inference", "llm", "net", "storage", "tls", "tui", "usb", "xtask"];

fn main() -> std::process::ExitCode {
    match dispatch(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the context chain without anyhow's backtrace noise.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Cmd::Setup => setup::run(),
        Cmd::Build { arch, release, config, model } => {
            builder::build(&BuildOptions { arch, release, config, model }).map(|_| ())
        }
        Cmd::Run { arch, release, headless, config, model, memory } => {
            setup::run()?;
            // Without a cloud provider the newcomer still gets answers: the bundled model.
            let model = match model {
                Some(model) => Some(model),
                None if answers_locally(config.as_deref())? => Some(model::ensure()?),
                None => None,
            };
            let image = builder::build(&BuildOptions { arch, release, config, model })?;
            run(arch, &image, headless, memory)
        }
        Cmd::Test { host_only, e2e_only, arch, filter } => {
            setup::run()?;
            // The inference tests and the offline end-to-end tests read the bundled model.
            model::ensure()?;
            if !e2e_only {
                lint()?;
                deny::check()?;
                host_tests()?;
                fuzz::run(fuzz::Budget { seconds: fuzz::SECONDS_IN_TEST, runs: None }, None)?;
            }
            if !host_only {
                let arches: Vec<Arch> = arch.map(|a| vec![a]).unwrap_or_else(|| Arch::ALL.to_vec());
                e2e::run(&arches, filter.as_deref())?;
            }
            Ok(())
        }
        Cmd::Fuzz { seconds, runs, target } => fuzz::run(fuzz::Budget { seconds, runs }, target.as_deref()),
        Cmd::Model { quantize, force } => {
            model::ensure()?;
            if quantize {
                model::quantize(force)?;
            }
            Ok(())
        }
        Cmd::Parity => parity::parity(),
        Cmd::Infer { model, prompt, chat, n, greedy, temperature, threads } => {
            let mut args = Vec::new();
            match (prompt, chat) {
                (Some(p), _) => args.extend(["--prompt".to_string(), p]),
                (None, Some(c)) => args.extend(["--chat".to_string(), c]),
                (None, None) => bail!("--prompt or --chat is required"),
            }
            args.extend(["-n".to_string(), n.to_string(), "--threads".to_string(), threads.to_string()]);
            if greedy {
                args.push("--greedy".into());
            }
            if let Some(t) = temperature {
                args.extend(["--temperature".to_string(), t.to_string()]);
            }
            infer::run(&model, &args)
        }
        Cmd::Bench { which, arch, runs, threads } => {
            setup::run()?;
            let arches: Vec<Arch> = arch.map(|a| vec![a]).unwrap_or_else(|| Arch::ALL.to_vec());
            bench::run(which, &arches, runs, &threads)
        }
    }
}

/// Whether the OS will answer with its local model: no configuration, or one whose
/// active provider is `local` (a broken file counts as none: the OS falls back too).
fn answers_locally(config: Option<&std::path::Path>) -> Result<bool> {
    let Some(path) = config else { return Ok(true) };
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(match config::parse_bytes(&bytes) {
        Ok(parsed) => parsed.provider.active == config::ProviderId::Local,
        Err(_) => true,
    })
}

/// Clippy with warnings denied: host crates, then each UEFI crate on each architecture.
fn lint() -> Result<()> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(builder::root()).args(["clippy", "--quiet", "--all-targets"]);
    for krate in HOST_TESTED {
        cmd.args(["--package", krate]);
    }
    cmd.args(["--", "-D", "warnings"]);
    if !cmd.status().context("running cargo clippy")?.success() {
        bail!("clippy found problems in the host crates");
    }
    for arch in Arch::ALL {
        builder::clippy_uefi(arch)?;
    }
    println!("lint: clippy clean on host crates and both UEFI targets");
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn host_tests() -> Result<()> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(builder::root()).arg("test");
    for krate in HOST_TESTED {
        cmd.args(["--package", krate]);
    }
    let status = cmd.status().context("running cargo test")?;
    if !status.success() {
        bail!("host unit tests failed");
    }
    Ok(())
}

fn run(arch: Arch, image: &std::path::Path, headless: bool, memory_mib: u32) -> Result<()> {
    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let display = if headless || !has_display { qemu::Display::Headless } else { qemu::Display::Window };
    let dir = tempfile::Builder::new().prefix("moteos-run-").tempdir()?;
    // Boot a copy so the firmware's writes never touch the image meant for a USB stick.
    let disk = dir.path().join("disk.img");
    std::fs::copy(image, &disk).context("copying the disk image")?;
    let vars = qemu::fresh_vars(arch, dir.path())?;
    let opts = qemu::QemuOptions { arch, disk, memory_mib, display, nic: qemu::Nic::VirtioNet };
    let mut cmd = qemu::base_command(&opts, &vars);
    // mon:stdio multiplexes the serial console and the QEMU monitor (Ctrl-A X quits).
    cmd.args(["-serial", "mon:stdio"]);
    println!("booting moteOS on {arch} (Ctrl-A X quits)");
    let status = cmd.status().with_context(|| format!("starting {}", arch.qemu_binary()))?;
    if !status.success() {
        bail!("QEMU exited with {status}");
    }
    Ok(())
}
