//! The firmware floor for `cargo xtask bench boot`: the cheapest possible UEFI
//! application, which prints one line on the firmware console and powers off.
//! Its boot time is what any OS pays before its own code runs.

#![no_std]
#![no_main]

use uefi::prelude::*;
use uefi::runtime::ResetType;

#[entry]
fn main() -> Status {
    uefi::system::with_stdout(|out| {
        let _ = out.output_string(cstr16!("moteOS floor ready\r\n"));
    });
    uefi::runtime::reset(ResetType::SHUTDOWN, Status::SUCCESS, None)
}
