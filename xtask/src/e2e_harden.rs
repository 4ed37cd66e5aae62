//! End-to-end cases for hardening (issue 14): hostile model files, hostile servers and
//! secrets. Registered in `e2e::cases()`.

use crate::e2e::{BOOT_TIMEOUT, Ctx, EspEntry, ScreenStats, bundled_model, keep_screenshot};
use crate::gguf_craft;
use crate::qemu::{Display, Machine, Nic};
use anyhow::{Context, Result, ensure};
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
    m.send_serial(b"still here?\r")?;
    m.wait_for("line: still here?", Duration::from_secs(20)).context("input stopped after the hostile model")?;
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
