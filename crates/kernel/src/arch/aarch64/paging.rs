//! The kernel's own translation tables (an identity map built with Google's
//! `aarch64-paging` crate), replacing the firmware's, which live in boot-services memory.
//!
//! RAM is normal write-back memory, the framebuffer normal non-cacheable memory, and
//! everything else device memory (nGnRE, never executable). The firmware's TCR_EL1 (4 KiB
//! granule, its address-space size) is kept; MAIR_EL1 entries are reused when the firmware
//! already defines the three memory types, and added in free slots otherwise.

use aarch64_cpu::registers::{MAIR_EL1, Readable, TCR_EL1, Writeable};
use aarch64_paging::descriptor::El1Attributes as A;
use aarch64_paging::idmap::IdMap;
use aarch64_paging::paging::{El1And0, MemoryRegion};
use core::sync::atomic::{AtomicU64, Ordering};
use hal::identity_map::{Layout, MapKind};

/// MAIR encodings: normal inner/outer write-back read/write-allocate, normal non-cacheable,
/// device nGnRE (nGnRnE also acceptable as "device").
const MAIR_WRITE_BACK: u8 = 0xff;
const MAIR_NON_CACHEABLE: u8 = 0x44;
const MAIR_DEVICE_NGNRE: u8 = 0x04;
const MAIR_DEVICE_NGNRNE: u8 = 0x00;

/// TTBR0_EL1 value for the application processors (0 before [`activate`]).
static TTBR0: AtomicU64 = AtomicU64::new(0);

/// What the translation tables hold, for the log.
#[derive(Debug, Clone, Copy)]
pub struct PagingSummary {
    /// Virtual (= physical) address bits covered.
    pub address_bits: u32,
}

/// The register values an application processor loads before turning its MMU on.
#[derive(Debug, Clone, Copy)]
pub struct MmuState {
    /// MAIR_EL1.
    pub mair: u64,
    /// TCR_EL1.
    pub tcr: u64,
    /// TTBR0_EL1.
    pub ttbr0: u64,
    /// SCTLR_EL1.
    pub sctlr: u64,
}

/// Finds (or adds) the MAIR index of each memory type.
fn attribute_indices() -> Result<[u64; 3], &'static str> {
    let mut mair = MAIR_EL1.get();
    let byte = |mair: u64, i: u64| (mair >> (8 * i)) as u8;
    let wanted: [&[u8]; 3] = [&[MAIR_WRITE_BACK], &[MAIR_NON_CACHEABLE], &[MAIR_DEVICE_NGNRE, MAIR_DEVICE_NGNRNE]];
    let mut found = wanted.map(|values| (0..8).find(|&i| values.contains(&byte(mair, i))));
    for slot in 0..3 {
        if found[slot].is_some() {
            continue;
        }
        // The firmware lacks this type: take the highest slot none of ours uses (edk2 and
        // U-Boot leave the upper slots empty).
        let i = (0..8u64).rev().find(|i| !found.contains(&Some(*i))).ok_or("MAIR_EL1 has no free slot")?;
        mair = (mair & !(0xff << (8 * i))) | (u64::from(wanted[slot][0]) << (8 * i));
        log::info!("memory: MAIR_EL1 slot {i} set to {:#04x}", wanted[slot][0]);
        found[slot] = Some(i);
    }
    MAIR_EL1.set(mair);
    Ok(found.map(|i| i.unwrap_or(0)))
}

/// The number of address bits TTBR0 translates (64 - T0SZ) and the physical address bits.
pub fn address_bits() -> Result<(u32, u32), &'static str> {
    let tcr = TCR_EL1.get();
    if (tcr >> 14) & 3 != 0 {
        return Err("the firmware uses a translation granule other than 4 KiB");
    }
    let va_bits = 64 - (tcr & 0x3f) as u32;
    let mmfr0: u64;
    // SAFETY: ID_AA64MMFR0_EL1 is a read-only identification register.
    unsafe { core::arch::asm!("mrs {}, id_aa64mmfr0_el1", out(reg) mmfr0, options(nomem, nostack, preserves_flags)) };
    let pa_bits = match mmfr0 & 0xf {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        5 => 48,
        _ => 52,
    };
    Ok((va_bits, pa_bits))
}

/// The end of the address space to map: all the CPU and the firmware's TCR can address,
/// capped at 16 TiB (QEMU `virt` puts its highest device window below 1 TiB).
pub fn address_space_top() -> Result<u64, &'static str> {
    let (va, pa) = address_bits()?;
    Ok(1u64 << va.min(pa).min(44))
}

/// Builds an identity map of `layout` and switches TTBR0_EL1 to it.
///
/// # Safety
/// Every address the kernel still uses (its code, data, stack, heap, the devices it drives,
/// the firmware's runtime services) must be mapped by `layout` at its own address, with the
/// memory type the firmware gave it (RAM normal, registers device).
pub unsafe fn activate(layout: &Layout<'_>) -> Result<PagingSummary, &'static str> {
    let (va_bits, _) = address_bits()?;
    // A 4 KiB granule resolves 9 bits per level above the 12-bit page offset.
    let root_level = match va_bits {
        40..=48 => 0,
        31..=39 => 1,
        _ => return Err("the firmware's address-space size is unusual"),
    };
    let [write_back, non_cacheable, device] = attribute_indices()?;
    let index = |i: u64| A::from_bits_retain((i as usize) << 2);
    let ram = A::VALID | index(write_back) | A::INNER_SHAREABLE | A::ACCESSED;
    let framebuffer = A::VALID | index(non_cacheable) | A::INNER_SHAREABLE | A::ACCESSED | A::UXN | A::PXN;
    let registers = A::VALID | index(device) | A::ACCESSED | A::UXN | A::PXN;

    let mut map = IdMap::with_asid(0, root_level, El1And0);
    let mut failed = None;
    layout.for_each_span(|span| {
        let flags = match span.kind {
            MapKind::Unmapped => return,
            MapKind::Ram => ram,
            MapKind::Framebuffer => framebuffer,
            MapKind::Device => registers,
        };
        let region = MemoryRegion::new(span.start as usize, span.end as usize);
        if failed.is_none()
            && let Err(e) = map.map_range(&region, flags)
        {
            log::error!("memory: mapping {:#x}..{:#x} failed: {e}", span.start, span.end);
            failed = Some("the translation tables could not be built");
        }
    });
    if let Some(why) = failed {
        return Err(why);
    }
    // SAFETY: the new tables identity-map everything the caller promised, with the same
    // memory types; the TLB is invalidated right after the switch.
    unsafe {
        map.activate();
        core::arch::asm!("tlbi vmalle1", "dsb nsh", "isb", options(nostack, preserves_flags));
    }
    let ttbr0: u64;
    // SAFETY: reading TTBR0_EL1 has no side effects.
    unsafe { core::arch::asm!("mrs {}, ttbr0_el1", out(reg) ttbr0, options(nomem, nostack, preserves_flags)) };
    TTBR0.store(ttbr0, Ordering::SeqCst);
    // The tables stay in use for the rest of the kernel's life: never drop (deactivate) them.
    core::mem::forget(map);
    Ok(PagingSummary { address_bits: va_bits })
}

/// What an application processor needs to turn on the same translation as this CPU.
pub fn mmu_state() -> MmuState {
    let sctlr: u64;
    // SAFETY: reading SCTLR_EL1 has no side effects.
    unsafe { core::arch::asm!("mrs {}, sctlr_el1", out(reg) sctlr, options(nomem, nostack, preserves_flags)) };
    MmuState { mair: MAIR_EL1.get(), tcr: TCR_EL1.get(), ttbr0: TTBR0.load(Ordering::SeqCst), sctlr }
}
