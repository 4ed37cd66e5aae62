//! What sits between raw hardware and the application: key events and the
//! decoders that make them from serial-terminal bytes, PS/2 scancodes and
//! virtio-input (Linux) key codes; software key repeat; a fixed-capacity event
//! queue for interrupt handlers; and clock arithmetic (monotonic instants,
//! counter-rate conversion, civil time); warnings about boot entropy and the
//! firmware clock, with the build date as the clock's lower bound.
//!
//! Everything is portable and host-tested. The kernel calls this code from
//! interrupt handlers and its main loop, so nothing here allocates, blocks or
//! panics, whatever bytes the hardware delivers: bad input is dropped and
//! counted instead.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod clock;
pub mod evdev;
pub mod identity_map;
pub mod keys;
pub mod ps2;
pub mod queue;
pub mod repeat;
pub mod serial;
pub mod trust;

pub use clock::{CivilDateTime, Clock, Instant, TickRate, WallClock};
pub use evdev::EvdevKeyDecoder;
pub use keys::{Key, KeyEvent, KeySource, Modifiers};
pub use ps2::{Ps2KeyDecoder, ScancodeSet};
pub use queue::EventQueue;
pub use repeat::KeyRepeater;
pub use serial::SerialKeyDecoder;
