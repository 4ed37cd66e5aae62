//! End-to-end cases for hardening (issue 14): hostile model files, hostile servers and
//! secrets. Registered in `e2e::cases()`.

use crate::e2e::{BOOT_TIMEOUT, Ctx, EspEntry, ScreenStats, bundled_model, chat_config, header, keep_screenshot};
use crate::gguf_craft;
use crate::mock_llm::{self, Dialect, MOCK_KEY, MockLlm};
use crate::qemu::{Display, Machine, Nic};
use crate::servers;
use anyhow::{Context, Result, anyhow, bail, ensure};
use std::time::Duration;

/// Boots with `model` as `\moteos\model.gguf` and no network: the loader's refusal must be on
/// serial (containing `reason`) and on screen, and typed input must still work afterwards.
fn hostile_model(
    ctx: &Ctx,
    slot: &mut Option<Machine>,
    name: &str,
    model: Vec<u8>,
    memory_mib: u32,
    reason: &str,
) -> Result<()> {
    let entries = [EspEntry::File("model.gguf", model)];
    let m = slot.insert(ctx.boot_full(&entries, Display::Headless, Nic::None, memory_mib)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    let line = m
        .wait_for_line("chat: the local model \\moteos\\model.gguf cannot be ", Duration::from_secs(30))
        .context("the hostile model was not reported")?;
    ensure!(line.contains(reason), "the report does not give the reason ({reason:?}): {line}");
    println!("    {}", line.trim());
    std::thread::sleep(Duration::from_millis(500));
    let shot = ctx.screenshot_path(name);
    m.screendump(&shot)?;
    keep_screenshot(&shot, &format!("{}-{name}", ctx.arch));
    ensure!(ScreenStats::of(&shot)?.reddish_fraction > 0.0003, "the refusal is not shown on screen");
    // Nothing else is set up: the setup wizard opened with the model's problem on top.
    m.wait_for("wizard: opened because the local model", Duration::from_secs(5))?;
    crate::e2e::close_wizard(m)?;
    m.send_serial(b"still here?\r")?;
    m.wait_for("you: still here?", Duration::from_secs(20)).context("input stopped after the hostile model")?;
    ensure!(!m.serial_text().contains("moteOS panic"), "the kernel panicked");
    Ok(())
}

/// The bundled model with `attention.key_length` = 2^62: heads × head size overflows.
pub fn hostile_model_head_size(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let model = std::fs::read(bundled_model()?)?;
    let hostile =
        gguf_craft::with_metadata(&model, "llama.attention.key_length", gguf_craft::U64, &(1u64 << 62).to_le_bytes())?;
    hostile_model(ctx, slot, "hostile-head-size", hostile, crate::qemu::DEFAULT_MEMORY_MIB, "key_length")
}

/// Metadata arrays nested 100,000 deep (the reader used to recurse once per level).
pub fn hostile_model_deep_nesting(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let hostile = gguf_craft::deeply_nested(100_000);
    hostile_model(ctx, slot, "hostile-nesting", hostile, crate::qemu::DEFAULT_MEMORY_MIB, "nested more than")
}

/// 64 MiB claiming 2^32 - 1 tensors on a 640 MiB machine: the reader used to reserve 576 MiB
/// for the descriptions before reading one, more than the heap holds.
pub fn hostile_model_huge_counts(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let hostile = gguf_craft::lying_tensor_count(64 << 20);
    hostile_model(ctx, slot, "hostile-counts", hostile, 640, "truncated")
}

/// A hosted provider's `base_url` as plain HTTP to a public name: refused with a sentence
/// before anything is sent (no DNS query, no request), and the OS keeps taking input.
pub fn plain_http_cloud_refused(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let servers = servers::shared()?;
    let mock = MockLlm::start(Dialect::Anthropic, None)?;
    // A name of its own: the test DNS server's log is shared with the tests that fetch from
    // TEST_HOST while this one runs.
    let refused_host = "plain-http-refused.moteos.test";
    let base = format!("http://{refused_host}:{}", mock.port);
    let config = chat_config("anthropic", &base, "claude-mock");
    let m = slot.insert(ctx.boot(&[EspEntry::File("config.toml", config.into_bytes())], Display::Headless)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    let line = m.wait_for_line("config: config.toml line ", Duration::from_secs(5))?;
    ensure!(
        line.contains(&format!("base_url = \"{base}\" is refused: plain http://")) && line.contains("use https://"),
        "the plain-HTTP base_url was not refused with its reason: {line}"
    );
    println!("    {}", line.trim());
    // The file cannot be used as it is: the setup wizard opened with the problem on top.
    m.wait_for("wizard: opened because config.toml line ", Duration::from_secs(5))?;
    crate::e2e::close_wizard(m)?;
    m.wait_for("network: configured", Duration::from_secs(60))?;
    m.send_serial(b"is anyone there?\r")?;
    m.wait_for("you: is anyone there?", Duration::from_secs(20))?;
    // Time for a request to arrive, had one been sent.
    std::thread::sleep(Duration::from_secs(5));
    ensure!(mock.recorded().is_empty(), "the mock received {} request(s)", mock.recorded().len());
    let queries = servers.dns.queries.lock().map_err(|_| anyhow!("poisoned"))?.clone();
    ensure!(!queries.iter().any(|q| q == refused_host), "the refused host was looked up in DNS");
    ensure!(!m.serial_text().contains(MOCK_KEY), "the API key appeared on the serial console");
    Ok(())
}

/// A whole session whose configuration holds a key, a password in a URL's userinfo and a
/// credential in a URL's query: a chat over plain HTTP to a LAN address (allowed, warned about
/// once), a model list, a download from a URL with credentials; then the serial log of
/// everything is searched for the three secrets.
pub fn secrets_stay_off_the_serial_log(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    const PASSWORD: &str = "hunter2-userinfo-secret";
    const QUERY_SECRET: &str = "sk-query-secret-0123456789";
    let servers = servers::shared()?;
    let mock = MockLlm::start(Dialect::Anthropic, None)?;
    let base = format!("http://10.0.2.2:{}/?api-key={QUERY_SECRET}", mock.port);
    let config = format!(
        "{}\n[providers.openai-compatible]\nbase_url = \"http://me:{PASSWORD}@10.0.2.2:9/v1\"\nmodel = \"m\"\n\
         api_key = \"{MOCK_KEY}\"\n",
        chat_config("anthropic", &base, "claude-mock")
    );
    let fetch = format!(
        "test-fetch=http://me:{PASSWORD}@{}:{}/blob-cl\ntest-fetch=http://{}:{}/missing?token={QUERY_SECRET}\n",
        servers::TEST_HOST,
        servers.http.port,
        servers::TEST_HOST,
        servers.http.port
    );
    let entries =
        [EspEntry::File("config.toml", config.into_bytes()), EspEntry::File("boot-options", fetch.into_bytes())];
    let m = slot.insert(ctx.boot(&entries, Display::Headless)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    let warning = m.wait_for_line("chat: Anthropic's API key goes unencrypted to 10.0.2.2", Duration::from_secs(5))?;
    println!("    {}", warning.trim());
    let timeout = Duration::from_secs(60);
    m.wait_for_line("fetch: done: http://files.moteos.test", timeout)?;
    m.wait_for_line("fetch: failed: http://***@files.moteos.test", timeout)?;
    m.send_serial(b"hello secrets\r")?;
    let reply = mock_llm::expected_reply(Dialect::Anthropic, 1, "hello secrets", 1);
    m.wait_for(&format!("assistant: {reply}"), timeout).context("no reply from the mock")?;
    m.wait_for_line("chat: reply complete", timeout)?;
    m.send_serial(b"/models\r")?;
    m.wait_for_line("chat: Anthropic did not list its models", timeout)?;
    // The requests themselves carried the credentials the user configured.
    let requests = mock.recorded();
    let chat = requests.iter().find(|r| r.request_line.starts_with("POST ")).context("no chat request")?;
    ensure!(chat.request_line.contains(&format!("?api-key={QUERY_SECRET}")), "{}", chat.request_line);
    ensure!(header(chat, "x-api-key") == Some(MOCK_KEY), "the key was not sent");

    let log = m.serial_text();
    for (what, secret) in [("API key", MOCK_KEY), ("userinfo password", PASSWORD), ("query credential", QUERY_SECRET)] {
        if let Some(at) = log.find(secret) {
            let line = log[..at].rsplit('\n').next().unwrap_or("");
            bail!("the {what} appeared on the serial console: {line}{secret}…");
        }
    }
    ensure!(log.contains("api-key=***"), "the masked query credential is not in the log");
    Ok(())
}

/// HTTPS bodies that end when the connection closes: complete with the server's
/// close_notify, reported as possibly cut without it (a bare TCP close anyone on the path
/// can forge).
pub fn tls_truncation_reported(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let plain = servers::shared()?;
    let tls = servers::shared_tls()?;
    let config = format!("{}\n[tls]\nextra_ca_file = \"\\\\moteos\\\\ca.pem\"\n", servers::NETWORK_TEST_CONFIG);
    let url = |path: &str| format!("https://{}:{}/{path}", servers::TEST_HOST, tls.good.port);
    let (whole, cut) = (url("close-delimited"), url("close-delimited-cut"));
    let entries = [
        EspEntry::File("config.toml", config.into_bytes()),
        EspEntry::File("ca.pem", tls.pki.ca_pem.clone().into_bytes()),
        EspEntry::File("boot-options", format!("test-fetch={whole}\ntest-fetch={cut}\n").into_bytes()),
    ];
    let m = slot.insert(ctx.boot(&entries, Display::Headless)?);
    let line = m.wait_for_line(&format!("fetch: done: {whole}:"), BOOT_TIMEOUT)?;
    ensure!(line.contains(&plain.blob_sha256) && line.contains("HTTP 200"), "wrong close-delimited download: {line}");
    let failed = m.wait_for_line(&format!("fetch: failed: {cut}:"), Duration::from_secs(120))?;
    ensure!(failed.contains("without the TLS close_notify"), "the unconfirmed end was not reported: {failed}");
    println!("    {}", failed.trim());
    Ok(())
}

/// Boots with the firmware clock replaced by `unix` and downloads over HTTPS from a server
/// whose certificate is valid from 2020 to 2099; returns the guest and the fetch's log line.
fn fetch_with_clock(ctx: &Ctx, slot: &mut Option<Machine>, unix: i64) -> Result<String> {
    let tls = servers::shared_tls()?;
    let year = |y| time::Date::from_calendar_date(y, time::Month::January, 1).map(|d| d.midnight().assume_utc());
    let cert = tls.pki.server_cert_between(servers::TEST_HOST, year(2020)?, year(2099)?)?;
    let blob = std::sync::Arc::new(b"valid by the clock".to_vec());
    let routes = std::collections::HashMap::from([("/blob-cl".to_string(), (servers::Framing::ContentLength, blob))]);
    let server = servers::HttpsServer::start(routes, cert)?;
    let url = format!("https://{}:{}/blob-cl", servers::TEST_HOST, server.port);
    let config = format!("{}\n[tls]\nextra_ca_file = \"\\\\moteos\\\\ca.pem\"\n", servers::NETWORK_TEST_CONFIG);
    let entries = [
        EspEntry::File("config.toml", config.into_bytes()),
        EspEntry::File("ca.pem", tls.pki.ca_pem.clone().into_bytes()),
        EspEntry::File("boot-options", format!("test-clock={unix}\ntest-fetch={url}\n").into_bytes()),
    ];
    let m = slot.insert(ctx.boot(&entries, Display::Headless)?);
    let deadline = std::time::Instant::now() + BOOT_TIMEOUT;
    let ends = [format!("fetch: done: {url}"), format!("fetch: failed: {url}")];
    while !ends.iter().any(|end| m.serial_text().contains(end.as_str())) {
        ensure!(std::time::Instant::now() < deadline, "the download of {url} never ended");
        std::thread::sleep(Duration::from_millis(200));
    }
    let end = ends.iter().find(|end| m.serial_text().contains(end.as_str())).context("no end")?;
    let line = m.wait_for_line(end, Duration::from_secs(5))?;
    drop(server);
    Ok(line)
}

/// A firmware clock at 1970: reported on serial and on screen, and corrected to the build date
/// for certificate checks, so a certificate valid then is accepted.
pub fn clock_1970_corrected(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let line = fetch_with_clock(ctx, slot, 0)?;
    let m = slot.as_mut().context("no machine")?;
    ensure!(line.starts_with("fetch: done: ") && line.contains("HTTP 200"), "the download failed: {line}");
    let warning = m.wait_for_line("[WARN ] trust: the firmware clock says 1970-01-01", Duration::from_secs(5))?;
    ensure!(warning.contains("checked as of the build date"), "{warning}");
    println!("    {}", warning.trim());
    m.wait_for("moteOS ready", Duration::from_secs(60))?;
    std::thread::sleep(Duration::from_millis(500));
    let shot = ctx.screenshot_path("clock-1970");
    m.screendump(&shot)?;
    keep_screenshot(&shot, &format!("{}-clock-1970", ctx.arch));
    ensure!(ScreenStats::of(&shot)?.reddish_fraction > 0.0003, "the clock warning is not shown on screen");
    Ok(())
}

/// A firmware clock at 2100: the certificate (valid until 2099) is refused as expired.
pub fn clock_2100_refused(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let line = fetch_with_clock(ctx, slot, 4_102_444_800)?;
    ensure!(
        line.starts_with("fetch: failed: ") && line.contains("expired on 2099-01-01") && line.contains("2100-01-01"),
        "the certificate was not refused as expired: {line}"
    );
    println!("    {}", line.trim());
    Ok(())
}
