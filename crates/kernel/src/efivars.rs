//! EFI variables through the firmware's runtime services, after `ExitBootServices`.
//!
//! The only kernel module that calls GetVariable/SetVariable. It relies on the
//! runtime-services code and data (`MemoryKind::RuntimeServices`) staying mapped at
//! their physical addresses: whoever builds the kernel's own page tables must keep
//! them identity-mapped (or call SetVirtualAddressMap and adapt this module).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use uefi::runtime::{VariableAttributes, VariableVendor};
use uefi::{CStr16, Guid, Status};

/// Larger variables are refused (OVMF's limit for one variable is about 32 KiB).
pub const MAX_VARIABLE: usize = 32 * 1024;

fn vendor(guid: [u8; 16]) -> VariableVendor {
    VariableVendor(Guid::from_bytes(guid))
}

fn with_name<T>(name: &str, f: impl FnOnce(&CStr16) -> Result<T, String>) -> Result<T, String> {
    let mut buf = [0u16; 64];
    let name16 = CStr16::from_str_with_buf(name, &mut buf).map_err(|_| alloc::format!("bad variable name {name}"))?;
    f(name16)
}

/// Reads variable `name` of `guid`; `Ok(None)` when it does not exist.
pub fn get(name: &str, guid: [u8; 16]) -> Result<Option<Vec<u8>>, String> {
    if uefi::table::system_table_raw().is_none() {
        return Err(String::from("the firmware's runtime services are not available"));
    }
    with_name(name, |name16| {
        let mut buf = vec![0u8; MAX_VARIABLE];
        match uefi::runtime::get_variable(name16, &vendor(guid), &mut buf) {
            Ok((data, _)) => Ok(Some(data.to_vec())),
            Err(e) if e.status() == Status::NOT_FOUND => Ok(None),
            Err(e) => Err(alloc::format!("GetVariable failed: {:?}", e.status())),
        }
    })
}

/// Stores `data` in non-volatile variable `name` of `guid`.
pub fn set(name: &str, guid: [u8; 16], data: &[u8]) -> Result<(), String> {
    if data.len() > MAX_VARIABLE {
        return Err(alloc::format!("{} bytes is too large for an EFI variable", data.len()));
    }
    if uefi::table::system_table_raw().is_none() {
        return Err(String::from("the firmware's runtime services are not available"));
    }
    let attributes =
        VariableAttributes::NON_VOLATILE | VariableAttributes::BOOTSERVICE_ACCESS | VariableAttributes::RUNTIME_ACCESS;
    with_name(name, |name16| {
        uefi::runtime::set_variable(name16, &vendor(guid), attributes, data)
            .map_err(|e| alloc::format!("SetVariable failed: {:?}", e.status()))
    })
}
