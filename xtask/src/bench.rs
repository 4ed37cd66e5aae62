//! `cargo xtask bench`: performance measured against a baseline run side by side.

use crate::arch::Arch;
use crate::builder;
use crate::image;
use crate::qemu::{self, Display, Machine, QemuOptions};
use anyhow::Result;
use std::path::Path;
use std::time::Duration;

/// The available benchmarks.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Which {
    /// Boot to `moteOS ready`, against a trivial UEFI app that prints and powers off.
    Boot,
    /// CPU use of an idle guest at its prompt (against a paused QEMU), and key-to-echo latency.
    Idle,
    /// 1 MiB HTTP download in the guest against `curl` on the host, same server, same run.
    Net,
    /// TLS handshake time in the guest (TCG) against the same client code built for the host.
    Tls,
    /// Time from Enter to the first reply text on screen against a mock LLM server, against
    /// `curl` on the host streaming the same request from the same server.
    Ttft,
    /// Tokens per second of the bundled local model inside the guest (TCG), release build.
    Guest,
    /// Key-to-echo latency of a USB keyboard beside PS/2 and virtio-input, and idle CPU with
    /// an xHCI controller and a USB keyboard attached, all in the same run.
    Input,
    /// Local inference on the host at each `--threads` count: each variant of the bundled model
    /// and a synthetic ~0.5B model per family against llama.cpp on the same file with the same
    /// threads, and against the memory-bandwidth bound.
    Infer,
    /// GGUF reader on the host: 80,000 tensor descriptions against ten times 8,000.
    Gguf,
    /// Saving settings and a 50-turn conversation in the guest beside a raw block write,
    /// and boot to ready with 100 saved conversations against none.
    Storage,
    /// Chat screen redraws on the host beside a plain frame copy, and key-to-screen latency
    /// in the guest beside the serial key-to-echo latency.
    Ui,
}

/// Runs a benchmark on each architecture.
pub fn run(which: Which, arches: &[Arch], runs: usize, threads: &[usize]) -> Result<()> {
    match which {
        Which::Boot => {
            for &arch in arches {
                boot(arch, runs.max(1))?;
            }
            Ok(())
        }
        Which::Idle => {
            for &arch in arches {
                idle(arch, runs.max(1))?;
            }
            Ok(())
        }
        Which::Tls => {
            let host = host_handshake_ms(runs.max(5))?;
            for &arch in arches {
                tls_guest(arch, runs.max(1), host)?;
            }
            Ok(())
        }
        Which::Guest => {
            for &arch in arches {
                guest_inference(arch)?;
                // The same question on two processors (the work pool splits the forward pass).
                crate::bench_arch::guest_smp(arch, &[2])?;
            }
            Ok(())
        }
        Which::Ttft => {
            for &arch in arches {
                ttft(arch, runs.max(3))?;
            }
            Ok(())
        }
        Which::Infer => crate::infer::bench(runs.max(1), threads),
        Which::Gguf => crate::bench_gguf::run(runs),
        Which::Storage => crate::bench_storage::run(arches, runs.max(1)),
        Which::Ui => crate::bench_ui::run(arches, runs),
        Which::Input => {
            for &arch in arches {
                crate::bench_usb::input(arch, runs.max(1))?;
            }
            Ok(())
        }
        Which::Net => {
            for &arch in arches {
                net(arch, qemu::Nic::VirtioNet, runs.max(1))?;
                if arch == Arch::X86_64 {
                    net(arch, qemu::Nic::E1000, runs.max(1))?;
                }
                crate::bench_usb::net_usb(arch, runs.max(1))?;
            }
            Ok(())
        }
    }
}

fn time_to(arch: Arch, disk: &Path, marker: &str) -> Result<Duration> {
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join("disk.img");
    std::fs::copy(disk, &copy)?;
    let mut m = Machine::launch(&QemuOptions {
        arch,
        disk: copy,
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
        nic: qemu::Nic::VirtioNet,
    })?;
    m.wait_for(marker, Duration::from_secs(120))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn boot(arch: Arch, runs: usize) -> Result<()> {
    let (efi, floor_efi) = builder::compile(arch, true)?;
    let dir = tempfile::tempdir()?;
    let images = [("floor", &floor_efi), ("moteos", &efi)].map(|(name, efi)| {
        let esp = dir.path().join(format!("esp-{name}"));
        let disk = dir.path().join(format!("{name}.img"));
        builder::layout_esp(&esp, arch, efi, &[]).and_then(|()| image::write_disk_image(&esp, &disk)).map(|_| disk)
    });
    let [floor_img, os_img] = images;
    let (floor_img, os_img) = (floor_img?, os_img?);
    let mut floor = Vec::new();
    let mut os = Vec::new();
    // Alternate the two so drift in machine load affects both alike.
    for i in 0..runs {
        floor.push(time_to(arch, &floor_img, "moteOS floor ready")?);
        os.push(time_to(arch, &os_img, "moteOS ready")?);
        println!(
            "  {arch} run {}/{runs}: floor {:.2} s, moteOS {:.2} s",
            i + 1,
            floor[i].as_secs_f64(),
            os[i].as_secs_f64()
        );
    }
    let (f, o) = (median(floor), median(os));
    let own = o.saturating_sub(f);
    let size = std::fs::metadata(&efi).map(|m| m.len()).unwrap_or(0);
    println!(
        "bench boot {arch}: firmware floor {:.2} s, moteOS ready {:.2} s, moteOS's own time {:.3} s (ratio {:.2}x the floor; target < 0.5 s); BOOT{}.EFI {} KiB (target < 2048 KiB)",
        f.as_secs_f64(),
        o.as_secs_f64(),
        own.as_secs_f64(),
        o.as_secs_f64() / f.as_secs_f64().max(1e-9),
        if arch == Arch::X86_64 { "X64" } else { "AA64" },
        size / 1024
    );
    crate::bench_arch::boot_smp(arch, runs, &efi)
}

/// CPU seconds (user + system) QEMU has used so far, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    Ok(ticks as f64 / hz)
}

pub(crate) fn cpu_share_over(m: &Machine, window: Duration) -> Result<f64> {
    let before = cpu_seconds(m.pid())?;
    std::thread::sleep(window);
    let after = cpu_seconds(m.pid())?;
    Ok((after - before) / window.as_secs_f64() * 100.0)
}

fn idle(arch: Arch, runs: usize) -> Result<()> {
    let (efi, _) = builder::compile(arch, true)?;
    let dir = tempfile::tempdir()?;
    let esp = dir.path().join("esp");
    let disk = dir.path().join("moteos.img");
    builder::layout_esp(&esp, arch, &efi, &[])?;
    image::write_disk_image(&esp, &disk)?;
    let window = Duration::from_secs(10);

    let mut m = Machine::launch(&QemuOptions {
        arch,
        disk: disk.clone(),
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
        nic: qemu::Nic::VirtioNet,
    })?;
    m.wait_for("moteOS ready", Duration::from_secs(120))?;
    std::thread::sleep(Duration::from_secs(2));
    let idle = cpu_share_over(&m, window)?;

    // Key-to-echo latency over the serial console: a letter and Enter in, the submitted
    // line echoed back (keys themselves are logged at trace level only). The empty ESP
    // opens the setup wizard, closed first with Esc.
    crate::e2e::close_wizard(&mut m)?;
    let mut latencies = Vec::new();
    for i in 0..runs.max(5) {
        let c = (b'a' + (i % 26) as u8) as char;
        let marker = format!("you: {c}\n");
        let seen_before = m.serial_text().matches(&marker).count();
        let sent = std::time::Instant::now();
        m.send_serial(&[c as u8, b'\r'])?;
        while m.serial_text().matches(&marker).count() == seen_before {
            if sent.elapsed() > Duration::from_secs(10) {
                anyhow::bail!("no echo for {c:?}");
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        latencies.push(sent.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    m.kill();

    // Baseline: the same QEMU with its CPU paused (-S): the emulator's own overhead.
    let floor_dir = tempfile::tempdir()?;
    let vars = qemu::fresh_vars(arch, floor_dir.path())?;
    let opts = QemuOptions {
        arch,
        disk,
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
        nic: qemu::Nic::VirtioNet,
    };
    let mut paused = qemu::base_command(&opts, &vars)
        .args(["-S", "-serial", "none"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()?;
    std::thread::sleep(Duration::from_secs(2));
    let before = cpu_seconds(paused.id())?;
    std::thread::sleep(window);
    let paused_share = (cpu_seconds(paused.id())? - before) / window.as_secs_f64() * 100.0;
    let _ = paused.kill();
    let _ = paused.wait();

    let latency = median(latencies);
    println!(
        "bench idle {arch}: idle guest {idle:.2} % of a host core over {}s (target < 5 %), paused-QEMU floor {paused_share:.2} %; serial key-to-echo latency (letter + Enter to the echoed line) median {:.1} ms",
        window.as_secs(),
        latency.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// Milliseconds in a guest `fetch: done:` line: (total, first byte).
pub(crate) fn fetch_times(line: &str) -> Option<(f64, f64)> {
    let total = line.split(", ").find(|p| p.ends_with(" ms") || p.contains(" ms ("))?;
    let total: f64 = total.split(' ').next()?.parse().ok()?;
    let first = line.rsplit("first byte after ").next()?.trim_end_matches(" ms").trim().parse().ok()?;
    Some((total, first))
}

/// (total, time to first byte) for one host `curl` download, in ms.
fn curl_times(url: &str) -> Result<(f64, f64)> {
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{time_total} %{time_starttransfer}", url])
        .output()
        .map_err(|e| anyhow::anyhow!("running curl (the host baseline) failed: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace().map(|p| p.parse::<f64>().unwrap_or(f64::NAN) * 1000.0);
    Ok((parts.next().unwrap_or(f64::NAN), parts.next().unwrap_or(f64::NAN)))
}

fn median_f(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn net(arch: Arch, nic: qemu::Nic, runs: usize) -> Result<()> {
    let servers = crate::servers::shared()?;
    let port = servers.http.port;
    let (efi, _) = builder::compile(arch, true)?;
    let dir = tempfile::tempdir()?;
    let esp = dir.path().join("esp");
    let disk = dir.path().join("moteos.img");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, crate::servers::NETWORK_TEST_CONFIG)?;
    let options = dir.path().join("boot-options");
    let url = format!("http://{}:{port}/blob-cl", crate::servers::TEST_HOST);
    std::fs::write(&options, (0..runs).map(|_| format!("test-fetch={url}\n")).collect::<String>())?;
    builder::layout_esp(&esp, arch, &efi, &[("config.toml", &config), ("boot-options", &options)])?;
    image::write_disk_image(&esp, &disk)?;
    let mut m = Machine::launch(&QemuOptions {
        arch,
        disk,
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
        nic,
    })?;
    let prefix = format!("fetch: done: {url}:");
    m.wait_for("moteOS ready", Duration::from_secs(120))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while m.serial_text().matches(&prefix).count() < runs {
        if std::time::Instant::now() > deadline {
            anyhow::bail!("the guest finished only {} of {runs} downloads", m.serial_text().matches(&prefix).count());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let text = m.serial_text();
    let guest: Vec<(f64, f64)> = text.lines().filter(|l| l.contains(&prefix)).filter_map(fetch_times).collect();
    m.kill();
    let host: Vec<(f64, f64)> =
        (0..runs).map(|_| curl_times(&format!("http://127.0.0.1:{port}/blob-cl"))).collect::<Result<_>>()?;
    let (g_total, g_first) =
        (median_f(guest.iter().map(|t| t.0).collect()), median_f(guest.iter().map(|t| t.1).collect()));
    let (h_total, h_first) =
        (median_f(host.iter().map(|t| t.0).collect()), median_f(host.iter().map(|t| t.1).collect()));
    let mib = crate::servers::BLOB_LEN as f64 / (1024.0 * 1024.0);
    println!(
        "bench net {arch} {nic:?}: 1 MiB in the guest {g_total:.0} ms ({:.1} MiB/s), host curl {h_total:.1} ms ({:.0} MiB/s), ratio {:.1}x; request to first byte: guest {g_first:.0} ms, host {h_first:.2} ms (median of {runs})",
        mib / (g_total / 1000.0),
        mib / (h_total / 1000.0),
        g_total / h_total,
    );
    Ok(())
}

/// Median handshake time of the kernel's TLS client (`tls` crate, rustcrypto)
/// against an in-process rustls server, on the host.
fn host_handshake_ms(runs: usize) -> Result<f64> {
    struct HostClock;
    impl tls::WallClock for HostClock {
        fn unix_seconds(&self) -> Option<u64> {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs())
        }
    }
    let pki = crate::servers::TestPki::new()?;
    let (chain, key) = pki.server_cert(crate::servers::CertKind::Good)?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let server_config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(rustls::ALL_VERSIONS)?
            .with_no_client_auth()
            .with_single_cert(chain, key)?,
    );
    let mut trust = tls::TrustStore::with_webpki_roots();
    trust.add_pem(pki.ca_pem.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let client_config =
        tls::client_config(&trust, std::sync::Arc::new(HostClock)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = std::time::Instant::now();
        let mut client = tls::TlsSession::new(std::sync::Arc::clone(&client_config), crate::servers::TEST_HOST)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut server = rustls::ServerConnection::new(std::sync::Arc::clone(&server_config))?;
        for _ in 0..20 {
            let out = client.take_outgoing();
            if !out.is_empty() {
                server.read_tls(&mut out.as_slice())?;
                server.process_new_packets()?;
            }
            let mut back = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut back)?;
            }
            client.feed(&back);
            client.process().map_err(|e| anyhow::anyhow!("{e}"))?;
            if !client.is_handshaking() && !server.is_handshaking() {
                break;
            }
        }
        anyhow::ensure!(!client.is_handshaking(), "the host handshake did not complete");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median_f(times))
}

fn tls_guest(arch: Arch, runs: usize, host_ms: f64) -> Result<()> {
    crate::servers::shared()?;
    let servers = crate::servers::shared_tls()?;
    let (efi, _) = builder::compile(arch, true)?;
    let dir = tempfile::tempdir()?;
    let esp = dir.path().join("esp");
    let disk = dir.path().join("moteos.img");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("{}\n[tls]\nextra_ca_file = \"/moteos/ca.pem\"\n", crate::servers::NETWORK_TEST_CONFIG),
    )?;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &servers.pki.ca_pem)?;
    let options = dir.path().join("boot-options");
    let url = format!("https://{}:{}/blob-cl", crate::servers::TEST_HOST, servers.good.port);
    std::fs::write(&options, (0..runs).map(|_| format!("test-fetch={url}\n")).collect::<String>())?;
    builder::layout_esp(&esp, arch, &efi, &[("config.toml", &config), ("ca.pem", &ca), ("boot-options", &options)])?;
    image::write_disk_image(&esp, &disk)?;
    let m = Machine::launch(&QemuOptions {
        arch,
        disk,
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
        nic: qemu::Nic::VirtioNet,
    })?;
    let done = format!("fetch: done: {url}:");
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while m.serial_text().matches(&done).count() < runs {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the guest did not finish its HTTPS downloads");
        anyhow::ensure!(!m.serial_text().contains("fetch: failed"), "an HTTPS download failed:\n{}", m.serial_tail(5));
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = m.serial_text();
    let guest: Vec<f64> = text
        .lines()
        .filter_map(|l| l.split("; handshake ").nth(1))
        .filter_map(|t| t.trim_end_matches(" ms").trim().parse().ok())
        .collect();
    let version = text
        .lines()
        .find_map(|l| l.split("client: TLS ").nth(1))
        .unwrap_or("?")
        .split(" with")
        .next()
        .unwrap_or("?")
        .to_string();
    let guest_ms = median_f(guest);
    println!(
        "bench tls {arch}: {version} handshake in the guest {guest_ms:.0} ms (TCG, release build), same client code on the host {host_ms:.2} ms, ratio {:.0}x (median of {runs})",
        guest_ms / host_ms
    );
    Ok(())
}

/// Milliseconds after `marker` in every line of `text` that has it.
fn numbers_after(text: &str, marker: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| l.split(marker).nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Time to the first reply text from `curl` on the host: the request the guest sends,
/// streamed (`-N`), timed from spawning curl to the first `text_delta` on its output.
fn curl_first_text_ms(port: u16, body: &str) -> Result<f64> {
    use std::io::Read;
    let started = std::time::Instant::now();
    let mut child = std::process::Command::new("curl")
        .args(["-sN", "-X", "POST", &format!("http://127.0.0.1:{port}/v1/messages")])
        .args(["-H", &format!("x-api-key: {}", crate::mock_llm::MOCK_KEY)])
        .args(["-H", "anthropic-version: 2023-06-01", "-H", "content-type: application/json", "-d", body])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("running curl (the host baseline) failed: {e}"))?;
    let mut out = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no curl output"))?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let mut first = None;
    loop {
        let n = out.read(&mut buf)?;
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        if first.is_none() && seen.windows(10).any(|w| w == b"text_delta") {
            first = Some(started.elapsed());
        }
    }
    let _ = child.wait();
    first.map(|d| d.as_secs_f64() * 1000.0).ok_or_else(|| anyhow::anyhow!("curl saw no reply text"))
}

fn ttft(arch: Arch, runs: usize) -> Result<()> {
    let mock = crate::mock_llm::MockLlm::start(crate::mock_llm::Dialect::Anthropic, None)?;
    let (efi, _) = builder::compile(arch, true)?;
    let dir = tempfile::tempdir()?;
    let esp = dir.path().join("esp");
    let disk = dir.path().join("moteos.img");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[provider]\nactive = \"anthropic\"\n[providers.anthropic]\napi_key = \"{}\"\nmodel = \"claude-mock\"\nbase_url = \"http://10.0.2.2:{}\"\n",
            crate::mock_llm::MOCK_KEY,
            mock.port
        ),
    )?;
    builder::layout_esp(&esp, arch, &efi, &[("config.toml", &config)])?;
    image::write_disk_image(&esp, &disk)?;
    let mut m = Machine::launch(&QemuOptions {
        arch,
        disk,
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
        nic: qemu::Nic::VirtioNet,
    })?;
    m.wait_for("moteOS ready", Duration::from_secs(120))?;
    // Wait for DHCP so the first question does not also time the lease.
    m.wait_for("network: configured", Duration::from_secs(60))?;
    for i in 0..runs {
        m.send_serial(format!("benchmark question {i}\r").as_bytes())?;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while m.serial_text().matches("chat: reply complete").count() <= i {
            anyhow::ensure!(std::time::Instant::now() < deadline, "reply {i} did not complete in the guest");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let text = m.serial_text();
    // A reply that streams without end (a piece every 4 ms): the longest time keys and the
    // screen waited for a turn of the main loop while it poured in (target 20 ms).
    // The questions above logged their own figures: take the line written after this one.
    let logged_before = text.len();
    m.send_serial(b"trigger-endless go\r")?;
    m.wait_for("w300 ", Duration::from_secs(60))?;
    m.send_serial(b"\x03")?;
    let prefix = "main loop: longest turn while the reply streamed";
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let turns = loop {
        let now = m.serial_text();
        let later = now.get(logged_before..).unwrap_or("");
        if let Some(line) = later.find(prefix).and_then(|at| later[at..].split_once('\n')).map(|(line, _)| line) {
            break line.to_string();
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "the endless reply's turn figures were not logged");
        std::thread::sleep(Duration::from_millis(50));
    };
    let longest_us = turns
        .split("streamed ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    let count = turns.split(" over ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or("?");
    let mean_us = turns
        .split("mean ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    let parts = turns.split("that turn: ").nth(1).and_then(|rest| rest.strip_suffix(')')).unwrap_or("?");
    m.kill();
    // The short replies to the questions above, each from its first frame on.
    let questions = numbers_after(&text, "longest turn while the reply streamed ");
    let questions_ms = questions.iter().copied().fold(f64::NAN, f64::max) / 1000.0;
    println!(
        "bench ttft {arch}: endless stream until Ctrl+C: longest main-loop turn {:.1} ms over {count} turns, mean {:.1} ms \
         (target: every turn < 20 ms); the longest turn was {parts}; the {} short replies before it: longest turn \
         {questions_ms:.1} ms",
        longest_us / 1000.0,
        mean_us / 1000.0,
        questions.len()
    );
    let shown = numbers_after(&text, "(on screen after ");
    let decoded = numbers_after(&text, "tokens, first text after ");
    // A reply that arrives and ends within one turn of the main loop is logged before the
    // frame that shows it ("on screen after ?"): such runs have no screen timing.
    anyhow::ensure!(!shown.is_empty(), "no run has a screen timing");
    // The request body the guest sent, replayed by curl.
    let body = crate::mock_llm::recorded_body(&mock, 0)?;
    let host: Vec<f64> = (0..runs).map(|_| curl_first_text_ms(mock.port, &body)).collect::<Result<_>>()?;
    let with_screen = shown.len();
    let (g_screen, g_text, h) = (median_f(shown), median_f(decoded), median_f(host));
    println!(
        "bench ttft {arch}: Enter to first text on screen {g_screen:.0} ms (decoded {g_text:.0} ms) in the guest, host curl {h:.1} ms to the first text_delta (includes starting curl), ratio {:.1}x (median of {} runs with a screen timing of {runs}; the mock waits 4 ms per piece)",
        g_screen / h,
        with_screen
    );
    Ok(())
}

/// The local model answering one question in a release guest with no network: prompt and
/// generation tokens per second as the kernel reports them.
fn guest_inference(arch: Arch) -> Result<()> {
    let model = crate::model::ensure()?;
    let (efi, _) = builder::compile(arch, true)?;
    let dir = tempfile::tempdir()?;
    let esp = dir.path().join("esp");
    let disk = dir.path().join("moteos.img");
    builder::layout_esp(&esp, arch, &efi, &[("model.gguf", &model)])?;
    image::write_disk_image(&esp, &disk)?;
    let mut m = Machine::launch(&QemuOptions {
        arch,
        disk,
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
        nic: qemu::Nic::None,
    })?;
    m.wait_for("moteOS ready", Duration::from_secs(180))?;
    m.send_serial(b"Write one sentence about the sea.\r")?;
    let line = m.wait_for_line("chat: local model: ", Duration::from_secs(900))?;
    m.kill();
    println!(
        "bench guest {arch}: {} (release build, TCG, one core)",
        line.trim_start_matches("chat: local model: ").trim()
    );
    Ok(())
}
