//! The i8042 PS/2 controller: just enough to receive keyboard bytes by interrupt.
//!
//! The firmware leaves the controller initialised but usually polls it, with the
//! keyboard interrupt disabled; we switch that interrupt on. A dedicated crate
//! would add nothing over these four port accesses.

use hal::ps2::ScancodeSet;
use x86_64::instructions::port::Port;

const DATA: u16 = 0x60;
const STATUS_COMMAND: u16 = 0x64;
const OUTPUT_FULL: u8 = 1 << 0;
const INPUT_FULL: u8 = 1 << 1;
const AUX_DATA: u8 = 1 << 5;
const CONFIG_KEYBOARD_IRQ: u8 = 1 << 0;
const CONFIG_KEYBOARD_CLOCK_OFF: u8 = 1 << 4;
const CONFIG_TRANSLATION: u8 = 1 << 6;

fn status() -> u8 {
    // SAFETY: 0x64 is the i8042 status port on PCs; reading it has no side effects.
    unsafe { Port::<u8>::new(STATUS_COMMAND).read() }
}

fn wait(mut ready: impl FnMut(u8) -> bool) -> bool {
    (0..100_000).any(|_| ready(status()))
}

fn command(byte: u8) -> Result<(), &'static str> {
    if !wait(|s| s & INPUT_FULL == 0) {
        return Err("the PS/2 controller does not accept commands");
    }
    // SAFETY: writing a controller command to the i8042 command port.
    unsafe { Port::<u8>::new(STATUS_COMMAND).write(byte) };
    Ok(())
}

fn write_data(byte: u8) -> Result<(), &'static str> {
    if !wait(|s| s & INPUT_FULL == 0) {
        return Err("the PS/2 controller does not accept data");
    }
    // SAFETY: writing the data byte that follows a controller command.
    unsafe { Port::<u8>::new(DATA).write(byte) };
    Ok(())
}

fn read_data() -> Result<u8, &'static str> {
    if !wait(|s| s & OUTPUT_FULL != 0) {
        return Err("the PS/2 controller did not answer");
    }
    // SAFETY: reading the i8042 data port once the output buffer is full.
    Ok(unsafe { Port::<u8>::new(DATA).read() })
}

/// Enables the keyboard interrupt and reports which scancode set arrives
/// (set 1 when the controller translates, which firmware normally leaves on).
pub fn init() -> Result<ScancodeSet, &'static str> {
    if status() == 0xff {
        return Err("no PS/2 controller");
    }
    // Drop stale bytes so the decoder starts in sync.
    while status() & OUTPUT_FULL != 0 {
        // SAFETY: draining the i8042 output buffer.
        unsafe { Port::<u8>::new(DATA).read() };
    }
    command(0x20)?; // read configuration byte
    let config = read_data()?;
    let new = (config | CONFIG_KEYBOARD_IRQ) & !CONFIG_KEYBOARD_CLOCK_OFF;
    command(0x60)?; // write configuration byte
    write_data(new)?;
    Ok(if config & CONFIG_TRANSLATION != 0 { ScancodeSet::One } else { ScancodeSet::Two })
}

/// One byte from the keyboard, if the controller holds one (mouse bytes are dropped).
pub fn read_byte() -> Option<u8> {
    let s = status();
    if s & OUTPUT_FULL == 0 {
        return None;
    }
    // SAFETY: the output buffer is full, so reading the data port takes that byte.
    let byte = unsafe { Port::<u8>::new(DATA).read() };
    if s & AUX_DATA != 0 { None } else { Some(byte) }
}
