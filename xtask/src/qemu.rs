//! Running moteOS under QEMU: the command line for each architecture, and the
//! test harness that drives a guest through its serial port and QMP.

use crate::arch::Arch;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Guest memory used unless a test asks otherwise.
pub const DEFAULT_MEMORY_MIB: u32 = 1024;

/// What the guest's display is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// A display device exists (so GOP does) but no window is shown.
    Headless,
    /// A desktop window.
    Window,
    /// No display device at all (tests the no-GOP path).
    NoDevice,
}

/// The guest's network card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nic {
    /// virtio-net (both architectures).
    VirtioNet,
    /// Intel e1000 (x86_64).
    E1000,
    /// No network card at all (offline use).
    None,
}

/// Everything that varies between QEMU launches.
#[derive(Debug, Clone)]
pub struct QemuOptions {
    /// Guest architecture.
    pub arch: Arch,
    /// Raw disk image to boot (used directly; pass a copy if it must stay pristine).
    pub disk: PathBuf,
    /// Guest RAM in MiB.
    pub memory_mib: u32,
    /// Display setup.
    pub display: Display,
    /// Network card.
    pub nic: Nic,
}

/// Which controller the boot disk hangs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiskBus {
    /// virtio-blk (both architectures; the default).
    #[default]
    VirtioBlk,
    /// The q35 chipset's AHCI (SATA) controller (x86_64).
    Ahci,
    /// An NVMe controller.
    Nvme,
}

/// How the boot disk and the firmware variables are attached (storage tests).
#[derive(Debug, Clone, Default)]
pub struct DiskSetup {
    /// The disk's controller.
    pub bus: DiskBus,
    /// Attach the disk read-only (`readonly=on`).
    pub readonly: bool,
    /// A variable store kept between boots (used in place); `None` = a fresh copy.
    pub vars: Option<PathBuf>,
}

/// Settings beyond [`QemuOptions`] for tests that need other hardware (USB, disks).
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Appended to the `-machine` value, e.g. `",i8042=off"` (no PS/2 controller).
    pub machine: &'static str,
    /// Leaves out the virtio keyboard the AArch64 machine otherwise gets.
    pub no_virtio_keyboard: bool,
    /// More arguments (devices, drives, netdevs).
    pub args: Vec<String>,
    /// How the boot disk and the variable store are attached.
    pub disk: DiskSetup,
}

/// The QEMU arguments common to interactive runs and tests; serial and QMP are added by the caller.
pub fn base_command(opts: &QemuOptions, vars_copy: &Path) -> Command {
    base_command_with(opts, vars_copy, &Extras::default())
}

/// [`base_command`] with [`Extras`] (other devices, the disk attached as they say).
pub fn base_command_with(opts: &QemuOptions, vars_copy: &Path, extras: &Extras) -> Command {
    let setup = &extras.disk;
    let (code, _) = opts.arch.firmware();
    let mut cmd = Command::new(opts.arch.qemu_binary());
    let pflash = |file: &Path, readonly: bool| {
        format!("if=pflash,format=raw,{}file={}", if readonly { "readonly=on," } else { "" }, file.display())
    };
    match opts.arch {
        Arch::X86_64 => {
            cmd.args(["-machine", &format!("q35{}", extras.machine), "-accel", "tcg", "-cpu", "max"]);
        }
        Arch::Aarch64 => {
            cmd.args(["-machine", &format!("virt{}", extras.machine), "-accel", "tcg", "-cpu", "max"]);
        }
    }
    cmd.args(["-m", &opts.memory_mib.to_string(), "-smp", "1", "-no-reboot"])
        .args(["-drive", &pflash(&code, true), "-drive", &pflash(vars_copy, false)])
        .args([
            "-drive",
            &format!(
                "if=none,id=disk,format=raw,file={}{}",
                opts.disk.display(),
                if setup.readonly { ",readonly=on" } else { "" }
            ),
        ]);
    match setup.bus {
        DiskBus::VirtioBlk => cmd.args(["-device", "virtio-blk-pci,drive=disk,bootindex=0"]),
        DiskBus::Ahci => cmd.args(["-device", "ide-hd,drive=disk,bus=ide.0,bootindex=0"]),
        DiskBus::Nvme => cmd.args(["-device", "nvme,serial=moteos0,drive=disk,bootindex=0"]),
    };
    // `romfile=` skips the iPXE option ROM: the firmware drives virtio-net itself,
    // and moteOS has its own drivers for both cards.
    match opts.nic {
        Nic::VirtioNet => cmd.args(["-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0,romfile="]),
        Nic::E1000 => cmd.args(["-netdev", "user,id=net0", "-device", "e1000,netdev=net0,romfile="]),
        Nic::None => cmd.args(["-nic", "none"]),
    };
    match (opts.arch, opts.display) {
        (_, Display::NoDevice) => {
            cmd.args(["-vga", "none", "-display", "none"]);
        }
        (Arch::X86_64, Display::Headless) => {
            cmd.args(["-vga", "std", "-display", "none"]);
        }
        (Arch::X86_64, Display::Window) => {
            cmd.args(["-vga", "std"]);
        }
        (Arch::Aarch64, display) => {
            // ramfb gives a linear framebuffer that survives ExitBootServices
            // (virtio-gpu's GOP is Blt-only).
            cmd.args(["-device", "ramfb"]);
            if !extras.no_virtio_keyboard {
                cmd.args(["-device", "virtio-keyboard-pci"]);
            }
            if display == Display::Headless {
                cmd.args(["-display", "none"]);
            }
        }
    }
    cmd.args(&extras.args);
    cmd
}

/// Copies the firmware's variable-store template so each guest gets its own.
pub fn fresh_vars(arch: Arch, dir: &Path) -> Result<PathBuf> {
    let (_, template) = arch.firmware();
    let dest = dir.join(format!("vars-{arch}.fd"));
    std::fs::copy(&template, &dest).with_context(|| format!("copying {}", template.display()))?;
    Ok(dest)
}

/// Serial output collected by a background reader.
#[derive(Default)]
struct SerialLog {
    bytes: Mutex<Vec<u8>>,
    grew: Condvar,
}

/// A running guest under test. Dropping it kills QEMU.
pub struct Machine {
    arch: Arch,
    child: Child,
    serial: Arc<SerialLog>,
    serial_tx: TcpStream,
    qmp: Option<Qmp>,
    started: Instant,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine").field("arch", &self.arch).field("pid", &self.child.id()).finish()
    }
}

impl Machine {
    /// Boots a guest with its serial port on a TCP socket we listen on and QMP on a
    /// unix socket, both private to this machine.
    pub fn launch(opts: &QemuOptions) -> Result<Machine> {
        Machine::launch_with(opts, &Extras::default())
    }

    /// [`launch`](Self::launch) with [`Extras`] (other devices, the disk and variable store
    /// attached as they say).
    pub fn launch_with(opts: &QemuOptions, extras: &Extras) -> Result<Machine> {
        let setup = &extras.disk;
        let dir = tempfile::Builder::new().prefix("moteos-qemu-").tempdir()?;
        let vars = match &setup.vars {
            Some(vars) => vars.clone(),
            None => fresh_vars(opts.arch, dir.path())?,
        };
        // We listen and QEMU connects, so no port race and no output lost before we attach.
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let qmp_path = dir.path().join("qmp.sock");
        let mut cmd = base_command_with(opts, &vars, extras);
        cmd.args(["-chardev", &format!("socket,id=serial0,host=127.0.0.1,port={port},server=off")])
            .args(["-serial", "chardev:serial0"])
            .args(["-qmp", &format!("unix:{},server=on,wait=off", qmp_path.display())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("starting {}", opts.arch.qemu_binary()))?;

        listener.set_nonblocking(true)?;
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some(status) = child.try_wait()? {
                        let mut err = String::new();
                        if let Some(mut stderr) = child.stderr.take() {
                            let _ = stderr.read_to_string(&mut err);
                        }
                        bail!("QEMU exited before connecting its serial port ({status}): {}", err.trim());
                    }
                    if started.elapsed() > Duration::from_secs(30) {
                        let _ = child.kill();
                        bail!("QEMU did not connect its serial port within 30 s");
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e.into()),
            }
        };
        stream.set_nonblocking(false)?;
        let serial = Arc::new(SerialLog::default());
        let reader = stream.try_clone()?;
        let log = Arc::clone(&serial);
        std::thread::spawn(move || drain_serial(reader, &log));

        let qmp = Qmp::connect(&qmp_path, Duration::from_secs(10)).ok();
        Ok(Machine { arch: opts.arch, child, serial, serial_tx: stream, qmp, started, _dir: dir })
    }

    /// Waits until `needle` appears on the serial console; returns the time since launch.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<Duration> {
        let deadline = Instant::now() + timeout;
        let mut bytes = self.serial.bytes.lock().map_err(|_| anyhow!("serial log poisoned"))?;
        loop {
            if find(&bytes, needle.as_bytes()) {
                return Ok(self.started.elapsed());
            }
            let now = Instant::now();
            if now >= deadline {
                bail!("{needle:?} did not appear on the serial console within {timeout:?}");
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("QEMU exited ({status}) before {needle:?} appeared");
            }
            let wait = (deadline - now).min(Duration::from_millis(200));
            bytes = self.serial.grew.wait_timeout(bytes, wait).map_err(|_| anyhow!("serial log poisoned"))?.0;
        }
    }

    /// Waits for a whole serial line starting with `prefix` (anywhere in the line)
    /// and returns it, from the prefix to the end of the line.
    pub fn wait_for_line(&mut self, prefix: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        self.wait_for(prefix, timeout)?;
        loop {
            let text = self.serial_text();
            if let Some(start) = text.find(prefix)
                && let Some(end) = text[start..].find('\n')
            {
                return Ok(text[start..start + end].to_string());
            }
            if Instant::now() >= deadline {
                bail!("the line starting {prefix:?} did not end within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the guest wrote to its serial console so far.
    pub fn serial_text(&self) -> String {
        let bytes = self.serial.bytes.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).replace('\r', "")
    }

    /// The last `n` lines of serial output, for failure reports.
    pub fn serial_tail(&self, n: usize) -> String {
        let text = self.serial_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Types bytes on the guest's serial console.
    pub fn send_serial(&mut self, bytes: &[u8]) -> Result<()> {
        self.serial_tx.write_all(bytes)?;
        Ok(())
    }

    /// Presses keys through QMP `send-key`: each entry is one chord of QEMU key
    /// codes (`"a"`, `"ret"`, `"shift-a"`, `"ctrl-alt-delete"`).
    pub fn send_keys(&mut self, chords: &[&str]) -> Result<()> {
        let qmp = self.qmp.as_mut().ok_or_else(|| anyhow!("QMP is not connected"))?;
        for chord in chords {
            let keys: Vec<Value> = chord.split('-').map(|k| json!({"type": "qcode", "data": k})).collect();
            qmp.execute("send-key", json!({ "keys": keys }))?;
        }
        Ok(())
    }

    /// Runs a QMP command (`input-send-event`, `device_add`, ...) and returns its result.
    pub fn qmp(&mut self, command: &str, arguments: Value) -> Result<Value> {
        self.qmp.as_mut().ok_or_else(|| anyhow!("QMP is not connected"))?.execute(command, arguments)
    }

    /// Saves a PNG screenshot of the guest display.
    pub fn screendump(&mut self, path: &Path) -> Result<()> {
        let qmp = self.qmp.as_mut().ok_or_else(|| anyhow!("QMP is not connected"))?;
        if path.exists() {
            std::fs::remove_file(path)?;
        }
        qmp.execute("screendump", json!({ "filename": path.display().to_string(), "format": "png" }))?;
        Ok(())
    }

    /// Whether QEMU is still running (with `-no-reboot`, a guest reset ends it).
    pub fn is_running(&mut self) -> Result<bool> {
        Ok(self.child.try_wait()?.is_none())
    }

    /// QEMU's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the guest now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.kill();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn drain_serial(mut stream: TcpStream, log: &SerialLog) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Ok(mut bytes) = log.bytes.lock() {
                    bytes.extend_from_slice(&buf[..n]);
                }
                log.grew.notify_all();
            }
        }
    }
    log.grew.notify_all();
}

/// A QMP (QEMU Machine Protocol) client.
struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    fn connect(path: &Path, timeout: Duration) -> Result<Qmp> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(e).context("connecting to QMP"),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let writer = stream.try_clone()?;
        let mut qmp = Qmp { reader: BufReader::new(stream), writer };
        let greeting = qmp.read_message()?;
        if greeting.get("QMP").is_none() {
            bail!("unexpected QMP greeting: {greeting}");
        }
        qmp.execute("qmp_capabilities", json!({}))?;
        Ok(qmp)
    }

    fn read_message(&mut self) -> Result<Value> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            bail!("QMP connection closed");
        }
        Ok(serde_json::from_str(&line)?)
    }

    fn execute(&mut self, command: &str, arguments: Value) -> Result<Value> {
        let request = json!({ "execute": command, "arguments": arguments });
        self.writer.write_all(format!("{request}\n").as_bytes())?;
        loop {
            let message = self.read_message()?;
            if let Some(result) = message.get("return") {
                return Ok(result.clone());
            }
            if let Some(error) = message.get("error") {
                bail!("QMP {command} failed: {error}");
            }
            // Anything else is an asynchronous event; skip it.
        }
    }
}
