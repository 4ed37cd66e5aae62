//! What survives a reboot, seen by a user: the model chosen with `/model` and the
//! conversation, booting a copy of the disk image twice with a persistent firmware
//! variable store, against the mock provider.

use crate::e2e::{BOOT_TIMEOUT, Ctx, EspEntry, chat_config};
use crate::image;
use crate::mock_llm::{self, Dialect, MockLlm};
use crate::qemu::{self, DiskBus, DiskSetup, Display, Machine, Nic, QemuOptions};
use anyhow::{Context, Result, ensure};
use std::path::Path;
use std::time::Duration;

/// A comment of the user's that saving the settings must keep.
const COMMENT: &str = "# my own note: keep this line";

/// Boots `disk` (replacing the machine in `slot`) with a virtio-net card and `setup`'s disk
/// bus and firmware variables, and waits for `moteOS ready`.
pub(crate) fn boot(ctx: &Ctx, slot: &mut Option<Machine>, disk: &Path, setup: &DiskSetup) -> Result<()> {
    if let Some(mut old) = slot.take() {
        old.kill();
    }
    let options = QemuOptions {
        arch: ctx.arch(),
        disk: disk.to_path_buf(),
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
        nic: Nic::VirtioNet,
    };
    let extras = qemu::Extras { disk: setup.clone(), ..qemu::Extras::default() };
    let m = slot.insert(Machine::launch_with(&options, &extras)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    Ok(())
}

/// First boot: `/model` and one exchange. Second boot: the model is still chosen, the
/// conversation is back on screen and its turns travel with the next request.
pub(crate) fn model_and_conversation_survive_reboot(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let mock = MockLlm::start(Dialect::Anthropic, None)?;
    let config =
        format!("{COMMENT}\n{}", chat_config("anthropic", &format!("http://10.0.2.2:{}", mock.port), "claude-first"));
    let disk = ctx.build_image(&[EspEntry::File("config.toml", config.into_bytes())])?;
    let bus = match ctx.arch() {
        crate::arch::Arch::X86_64 => DiskBus::Ahci,
        crate::arch::Arch::Aarch64 => DiskBus::VirtioBlk,
    };
    let setup = DiskSetup { bus, readonly: false, vars: Some(qemu::fresh_vars(ctx.arch(), ctx.dir())?) };
    let timeout = Duration::from_secs(60);

    boot(ctx, slot, &disk, &setup)?;
    let m = slot.as_mut().context("no machine")?;
    m.send_serial(b"/model claude-second\r")?;
    m.wait_for_line("storage: settings saved to", timeout).context("the model change was not saved")?;
    m.send_serial(b"remember apricot\r")?;
    let reply = mock_llm::expected_reply(Dialect::Anthropic, 1, "remember apricot", 1);
    m.wait_for(&format!("assistant: {reply}"), timeout)?;
    let saved =
        m.wait_for_line("storage: conversation 1 saved to", timeout).context("the conversation was not saved")?;
    println!("    {}", saved.trim());

    boot(ctx, slot, &disk, &setup)?;
    let m = slot.as_mut().context("no machine")?;
    m.wait_for("chats: resumed the last conversation (2 turns)", Duration::from_secs(20))?;
    let log = m.serial_text();
    ensure!(log.contains("with model claude-second"), "the second boot does not use the model chosen in the first");
    m.send_serial(b"which fruit?\r")?;
    let reply = mock_llm::expected_reply(Dialect::Anthropic, 2, "which fruit?", 3);
    m.wait_for(&format!("assistant: {reply}"), timeout).context("the continued conversation got no reply")?;
    let body: serde_json::Value = serde_json::from_str(&mock_llm::recorded_body(&mock, 1)?)?;
    ensure!(body["model"] == "claude-second", "the request asked for {}", body["model"]);
    let said: Vec<&str> =
        body["messages"].as_array().context("no messages")?.iter().filter_map(|m| m["content"].as_str()).collect();
    ensure!(
        said.len() == 3 && said[0] == "remember apricot" && said[2] == "which fruit?",
        "the request carried {said:?}"
    );
    m.wait_for_line("storage: conversation 1 saved to", timeout)?;
    if let Some(mut m) = slot.take() {
        m.kill();
    }

    // The files are plain FAT files another computer can read.
    let config = String::from_utf8(image::read_esp_file(&disk, "moteos/config.toml")?)?;
    ensure!(config.contains("claude-second"), "config.toml holds {config:?}");
    // The comment stays above the table it was written over (the migration's `version` key
    // has to go before the first table).
    ensure!(
        config.contains(&format!("{COMMENT}\n[provider]")),
        "saving the settings lost the user's comment: {config:?}"
    );
    let chat = String::from_utf8(image::read_esp_file(&disk, "moteos/chats/00000001.json")?)?;
    ensure!(
        chat.contains("which fruit?") && chat.contains("\"title\":\"remember apricot\""),
        "the saved chat holds {chat:?}"
    );
    ensure!(!chat.contains(crate::mock_llm::MOCK_KEY), "the saved conversation holds the API key");
    Ok(())
}
