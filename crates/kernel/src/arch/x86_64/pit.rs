//! The legacy 8254 PIT, used once at boot as a known-frequency reference to
//! calibrate the TSC and the local APIC timer.
//!
//! No maintained crate drives the PIT's channel 2 gate (port 0x61), so these
//! few port accesses are written here.

use x86_64::instructions::port::Port;

/// The PIT's input clock, in Hz.
pub const PIT_HZ: u64 = 1_193_182;

/// Calls `edge(true)` at the start of a `millis`-long PIT interval (at most 54 ms)
/// and `edge(false)` at its end, sampling the TSC at both; returns the TSC ticks elapsed.
pub fn measure(millis: u64, mut edge: impl FnMut(bool)) -> u64 {
    let count = (PIT_HZ * millis / 1000).min(0xffff) as u16;
    let mut gate: Port<u8> = Port::new(0x61);
    let mut command: Port<u8> = Port::new(0x43);
    let mut channel2: Port<u8> = Port::new(0x42);
    // SAFETY: ports 0x61, 0x43 and 0x42 are the PC speaker gate and PIT channel 2,
    // present on every PC-compatible machine; channel 2 drives nothing but the
    // speaker, which stays disconnected (bit 1 of 0x61 cleared).
    unsafe {
        let value = gate.read();
        gate.write((value & !0x02) & !0x01); // gate low: channel 2 stopped, speaker off
        command.write(0b1011_0000); // channel 2, lobyte/hibyte, mode 0 (terminal count), binary
        channel2.write((count & 0xff) as u8);
        channel2.write((count >> 8) as u8);
        let value = gate.read();
        edge(true);
        let t0 = super::cycle_counter();
        gate.write(value | 0x01); // gate high: counting starts
        // OUT2 (bit 5) goes high at terminal count.
        while gate.read() & 0x20 == 0 {
            core::hint::spin_loop();
        }
        let t1 = super::cycle_counter();
        edge(false);
        gate.write(value & !0x01);
        t1.wrapping_sub(t0)
    }
}
