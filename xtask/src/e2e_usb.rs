//! End-to-end tests of USB: keyboards (directly and behind a hub, plugged in
//! after boot), a CDC-ECM network adapter as the only NIC, and a USB stick
//! written and read back. Every machine here has an xHCI controller and no
//! other keyboard: x86_64 runs with `i8042=off` (no PS/2) and AArch64 without
//! its virtio keyboard, so QMP `input-send-event` can only reach the USB
//! keyboard (its `device` argument names a console, not a keyboard).

use crate::arch::Arch;
use crate::e2e::{BOOT_TIMEOUT, Ctx, EspEntry, chat_config, keep_screenshot};
use crate::mock_llm::{self, Dialect, MockLlm};
use crate::qemu::{DEFAULT_MEMORY_MIB, Display, Extras, Machine, Nic};
use crate::servers::{self, BLOB_LEN};
use anyhow::{Context, Result, anyhow, ensure};
use serde_json::json;
use std::time::Duration;

/// QEMU's USB keyboard ids (vendor:product), as the guest logs them.
const USB_KBD_IDS: &str = "0627:0001";

/// An xHCI controller and `devices`, with no PS/2 and no virtio keyboard.
fn usb_machine(arch: Arch, devices: &[&str]) -> Extras {
    let mut args = vec!["-device".to_string(), "qemu-xhci,id=xhci".to_string()];
    for device in devices {
        args.push("-device".into());
        args.push((*device).into());
    }
    // `virt` has no PS/2 controller to switch off.
    let machine = if arch == Arch::X86_64 { ",i8042=off" } else { "" };
    Extras { machine, no_virtio_keyboard: true, args, ..Extras::default() }
}

/// Presses and releases each key through QMP `input-send-event` (which goes
/// to the machine's keyboard: here the USB one). A chord like `shift-1` holds
/// the first keys while pressing the last.
fn type_keys(m: &mut Machine, chords: &[&str]) -> Result<()> {
    for chord in chords {
        let keys: Vec<&str> = chord.split('-').collect();
        let event = |key: &str, down: bool| json!({"type": "key", "data": {"down": down, "key": {"type": "qcode", "data": key}}});
        let mut events: Vec<_> = keys.iter().map(|k| event(k, true)).collect();
        events.extend(keys.iter().rev().map(|k| event(k, false)));
        m.qmp("input-send-event", json!({ "events": events }))?;
        // Let the keyboard's 8 ms poll interval see each report.
        std::thread::sleep(Duration::from_millis(60));
    }
    Ok(())
}

/// Holds `key` down for `held`, then releases it.
fn hold_key(m: &mut Machine, key: &str, held: Duration) -> Result<()> {
    let event = |down: bool| json!({"type": "key", "data": {"down": down, "key": {"type": "qcode", "data": key}}});
    m.qmp("input-send-event", json!({ "events": [event(true)] }))?;
    std::thread::sleep(held);
    m.qmp("input-send-event", json!({ "events": [event(false)] }))?;
    Ok(())
}

/// (a) Keys typed on a USB keyboard reach the chat and the (mock) provider;
/// modifiers, the keypad, F-keys and key repeat work; the controller interrupts.
pub fn usb_keyboard(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let mock = MockLlm::start(Dialect::Anthropic, None)?;
    let config = chat_config("anthropic", &format!("http://10.0.2.2:{}", mock.port), "claude-mock");
    let extras = usb_machine(ctx.arch(), &["usb-kbd,bus=xhci.0"]);
    let entries = [EspEntry::File("config.toml", config.into_bytes())];
    let m = slot.insert(ctx.boot_extras(&entries, Display::Headless, Nic::VirtioNet, DEFAULT_MEMORY_MIB, &extras)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    m.wait_for(&format!("usb: {USB_KBD_IDS}"), Duration::from_secs(30)).context("the USB keyboard was not found")?;
    m.wait_for("keyboard in configuration", Duration::from_secs(10))?;
    let log = m.serial_text();
    ensure!(
        log.contains("interrupts through MSI-X") && log.contains("xHCI"),
        "the xHCI controller is not interrupt-driven"
    );
    ensure!(log.contains("pci: ") && log.contains("1b36:000d"), "the PCI devices are not listed with their ids");

    // Typed keys are never logged (they may be secrets): what they do is checked.
    // Ctrl+C clears the line; Shift, the keypad (Num Lock on) and letters type.
    type_keys(m, &["x", "y", "z", "ctrl-c", "kp_7", "shift-1", "h", "i", "ret"])?;
    m.wait_for("you: 7!hi", Duration::from_secs(20)).context("the line typed on the USB keyboard did not arrive")?;
    let reply = mock_llm::expected_reply(Dialect::Anthropic, 1, "7!hi", 1);
    m.wait_for(&format!("assistant: {reply}"), Duration::from_secs(60)).context("the typed question got no reply")?;
    let body = mock_llm::recorded_body(&mock, 0)?;
    ensure!(body.contains("7!hi"), "the provider did not receive the typed text: {body}");
    // Key repeat through the kernel's repeater: 500 ms delay, then every 33 ms.
    hold_key(m, "x", Duration::from_millis(1500))?;
    type_keys(m, &["ret"])?;
    let line = m.wait_for_line("you: x", Duration::from_secs(20)).context("the held key did not type")?;
    let repeats = line.trim_end().trim_start_matches("you: ").chars().filter(|c| *c == 'x').count();
    ensure!(repeats >= 5, "holding x for 1.5 s typed it only {repeats} times (no key repeat): {line}");
    // A function key: F1 opens the help screen.
    type_keys(m, &["f1"])?;
    m.wait_for("screen: help", Duration::from_secs(20)).context("F1 on the USB keyboard did not open the help")?;
    type_keys(m, &["esc"])?;
    std::thread::sleep(Duration::from_millis(500));
    let shot = ctx.screenshot_path("usb-keyboard-chat");
    m.screendump(&shot)?;
    keep_screenshot(&shot, &format!("{}-usb-keyboard-chat", ctx.arch()));
    println!("    {repeats} x typed while held for 1.5 s; reply received");
    Ok(())
}

/// (b) A keyboard behind a hub types; keyboards plugged in after boot (with QMP
/// `device_add`, one into the hub and one into a root port) are enumerated and type;
/// unplugging is logged and nothing breaks.
pub fn usb_keyboard_behind_hub(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let extras = usb_machine(ctx.arch(), &["usb-hub,bus=xhci.0,port=1,id=hub", "usb-kbd,bus=xhci.0,port=1.1,id=kbd1"]);
    let m = slot.insert(ctx.boot_extras(&[], Display::Headless, Nic::None, DEFAULT_MEMORY_MIB, &extras)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    crate::e2e::close_wizard(m)?;
    m.wait_for("ports (", Duration::from_secs(10))?;
    // The whole line: a partial one may be all that has arrived when the ids do.
    m.wait_for("hub port 1) keyboard", Duration::from_secs(30)).context("the keyboard behind the hub was not found")?;
    type_keys(m, &["h", "u", "b", "ret"])?;
    m.wait_for("you: hub", Duration::from_secs(20)).context("typing behind the hub did not reach the chat")?;

    // Hot-plug a second keyboard into the hub's second port.
    m.qmp("device_add", json!({"driver": "usb-kbd", "bus": "xhci.0", "port": "1.2", "id": "kbd2"}))?;
    m.wait_for("hub port 2) keyboard", Duration::from_secs(30))
        .context("the hot-plugged keyboard was not enumerated")?;
    // And one straight into a root port.
    m.qmp("device_add", json!({"driver": "usb-kbd", "bus": "xhci.0", "port": "2", "id": "kbd3"}))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while m.serial_text().matches("keyboard in configuration").count() < 3 {
        ensure!(std::time::Instant::now() < deadline, "the keyboard plugged into a root port was not enumerated");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Unplug the first: logged, and the others keep typing.
    m.qmp("device_del", json!({"id": "kbd1"}))?;
    m.wait_for("unplugged", Duration::from_secs(30)).context("unplugging was not noticed")?;
    // QEMU sends keys to the newest keyboard: the one on the root port, then (once that is
    // unplugged) the one hot-plugged behind the hub.
    type_keys(m, &["p", "l", "u", "g", "ret"])?;
    m.wait_for("you: plug", Duration::from_secs(20))
        .context("the keyboard hot-plugged into a root port does not type")?;
    m.qmp("device_del", json!({"id": "kbd3"}))?;
    type_keys(m, &["o", "k", "ret"])?;
    m.wait_for("you: ok", Duration::from_secs(20)).context("the keyboard hot-plugged behind the hub does not type")?;
    ensure!(m.is_running()?, "the guest stopped");
    Ok(())
}

/// (c) A CDC-ECM adapter (`usb-net`) as the only network card: DHCP, DNS, an
/// HTTP and an HTTPS download, checked byte for byte.
pub fn usb_net_only_nic(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let plain = servers::shared()?;
    let tls = servers::shared_tls()?;
    let config = format!("{}\n[tls]\nextra_ca_file = \"\\\\moteos\\\\ca.pem\"\n", servers::NETWORK_TEST_CONFIG);
    let http = format!("http://{}:{}/blob-chunked", servers::TEST_HOST, plain.http.port);
    let https = format!("https://{}:{}/blob-cl", servers::TEST_HOST, tls.good.port);
    let entries = [
        EspEntry::File("config.toml", config.into_bytes()),
        EspEntry::File("ca.pem", tls.pki.ca_pem.clone().into_bytes()),
        EspEntry::File("boot-options", format!("test-fetch={http}\ntest-fetch={https}\n").into_bytes()),
    ];
    let mut extras = usb_machine(ctx.arch(), &["usb-net,bus=xhci.0,netdev=usbnet"]);
    extras.args.extend(["-netdev".to_string(), "user,id=usbnet".to_string()]);
    let m = slot.insert(ctx.boot_extras(&entries, Display::Headless, Nic::None, DEFAULT_MEMORY_MIB, &extras)?);
    m.wait_for("usb: network adapter MAC", BOOT_TIMEOUT).context("the USB network adapter was not found")?;
    m.wait_for("net: usb-ecm MAC", Duration::from_secs(30)).context("the adapter did not become the network")?;
    m.wait_for("network: configured 10.0.2.15/24", Duration::from_secs(60)).context("no DHCP lease over USB")?;
    for url in [&http, &https] {
        let line = m.wait_for_line(&format!("fetch: done: {url}:"), Duration::from_secs(180))?;
        let expected = format!("HTTP 200, {BLOB_LEN} bytes, sha256 {}", plain.blob_sha256);
        ensure!(line.contains(&expected), "wrong download over USB: {line}");
        println!("    {}", line.trim());
    }
    let queries = plain.dns.queries.lock().map_err(|_| anyhow!("poisoned"))?.clone();
    ensure!(queries.iter().any(|q| q == servers::TEST_HOST), "the DNS server was never asked");
    Ok(())
}

/// (d) A USB stick: the guest writes a pattern to its last blocks and reads
/// it back; the test then finds the same pattern in the stick's image file.
pub fn usb_storage_write_read(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    const STICK_BYTES: u64 = 16 * 1024 * 1024;
    let stick = ctx.dir().join("stick.img");
    std::fs::write(&stick, vec![0u8; STICK_BYTES as usize])?;
    let mut extras = usb_machine(ctx.arch(), &["usb-storage,bus=xhci.0,drive=stick"]);
    extras.args.extend(["-drive".to_string(), format!("if=none,id=stick,format=raw,file={}", stick.display())]);
    let entries = [EspEntry::File("boot-options", b"test-usb-disk\n".to_vec())];
    let m = slot.insert(ctx.boot_extras(&entries, Display::Headless, Nic::None, DEFAULT_MEMORY_MIB, &extras)?);
    let line = m.wait_for_line("usb-storage: test:", BOOT_TIMEOUT)?;
    ensure!(line.contains("read them back intact"), "the stick's read-back failed: {line}");
    let log = m.serial_text();
    ensure!(log.contains("usb-storage: QEMU"), "the stick's INQUIRY name was not logged");
    println!("    {}", line.trim());
    m.kill();
    // The guest wrote 8 blocks at the end of the 16 MiB stick.
    let image = std::fs::read(&stick)?;
    let tail = &image[image.len() - 4096..];
    let pattern: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(31).wrapping_add(7) as u8) ^ 0x5a).collect();
    ensure!(tail == pattern.as_slice(), "the stick's image does not hold the pattern the guest wrote");
    ensure!(image[..image.len() - 4096].iter().all(|&b| b == 0), "the guest wrote outside its scratch blocks");
    Ok(())
}
