//! Starting the application processors: INIT-SIPI-SIPI through the local APIC, with a
//! real-mode trampoline copied to a page below 1 MiB that walks the processor through
//! protected mode into long mode on the kernel's page tables and calls [`ap_main`].

use super::{apic, gdt, interrupts, paging};
use crate::arch::Cpu;
use crate::boot_info::{MemoryKind, MemoryRegion};
use core::arch::global_asm;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;

// The trampoline. The BSP copies `moteos_ap_start..moteos_ap_end` to a page P below 1 MiB,
// fills in the fields after the code and points the SIPI at P. The processor starts in real
// mode at P:0 (CS = P >> 4); EBX keeps P's linear address through every mode switch.
global_asm!(
    r#"
.global moteos_ap_start
.global moteos_ap_end
.global moteos_ap_far32
.global moteos_ap_far64
.global moteos_ap_gdtr
.global moteos_ap_cr3_low
.global moteos_ap_cr3
.global moteos_ap_stack
.global moteos_ap_entry
.global moteos_ap_arg
.balign 4096
.code16
moteos_ap_start:
    jmp 2f
// Data at fixed offsets (the code below addresses them by number).
.balign 8
moteos_ap_gdt:              // offset 8
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00af9a000000ffff
moteos_ap_gdtr:             // offset 40
    .word 31
    .long 0
.balign 8
moteos_ap_cr3_low:          // offset 48
    .quad 0
moteos_ap_cr3:              // offset 56
    .quad 0
moteos_ap_stack:            // offset 64
    .quad 0
moteos_ap_entry:            // offset 72
    .quad 0
moteos_ap_arg:              // offset 80
    .quad 0
2:
    cli
    cld
    mov ax, cs
    mov ds, ax
    xor ebx, ebx
    mov bx, ax
    shl ebx, 4
    lgdt [40]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    // jmp 0x08:protected (ptr16:32, offset patched by the BSP)
    .byte 0x66, 0xea
moteos_ap_far32:
    .long 0
    .word 0x08
.code32
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    // CR4: PAE | PGE | OSFXSR | OSXMMEXCPT (SSE usable, like on the BSP)
    mov eax, cr4
    or eax, 0x6a0
    mov cr4, eax
    mov eax, [ebx + 48]
    mov cr3, eax
    // EFER.LME
    mov ecx, 0xc0000080
    rdmsr
    or eax, 0x100
    wrmsr
    // CR0: PG | PE | MP | NE; EM, CD and NW off (INIT leaves the caches disabled)
    mov eax, cr0
    or eax, 0x80000023
    and eax, 0x9ffffffb
    mov cr0, eax
    // jmp 0x18:long (ptr16:32, offset patched by the BSP)
    .byte 0xea
moteos_ap_far64:
    .long 0
    .word 0x18
.code64
    // The upper halves of registers are undefined after the switch to 64-bit mode.
    mov ebx, ebx
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, [rbx + 64]
    mov rax, [rbx + 56]
    mov cr3, rax
    fninit
    mov rdi, [rbx + 80]
    mov rax, [rbx + 72]
    xor ebp, ebp
    call rax
    ud2
moteos_ap_end:
"#
);

unsafe extern "C" {
    static moteos_ap_start: u8;
    static moteos_ap_end: u8;
    static moteos_ap_far32: u8;
    static moteos_ap_far64: u8;
    static moteos_ap_gdtr: u8;
    static moteos_ap_cr3_low: u8;
    static moteos_ap_cr3: u8;
    static moteos_ap_stack: u8;
    static moteos_ap_entry: u8;
    static moteos_ap_arg: u8;
}

/// Offset of a trampoline symbol from its start.
fn offset(symbol: *const u8) -> usize {
    symbol as usize - &raw const moteos_ap_start as usize
}

/// Application processors that reached [`ap_main`].
static ARRIVED: AtomicUsize = AtomicUsize::new(0);

/// A free 8 KiB (code page + a copy of the top-level page table) below 1 MiB, from the
/// firmware's map. Memory below 1 MiB is never given to the heap, so it stays free.
pub fn trampoline_page(map: &[MemoryRegion]) -> Option<u64> {
    map.iter().filter(|r| matches!(r.kind, MemoryKind::Usable | MemoryKind::BootServices)).find_map(|r| {
        let start = r.start.max(0x1000).next_multiple_of(0x1000);
        let end = (r.start + r.len).min(0x9_f000);
        (start + 0x2000 <= end).then_some(start)
    })
}

/// Starts every processor in `cpus` except the first (the boot processor), one at a time,
/// giving processor `i` the kernel's stacks for index `i`. Returns the indices that came up.
pub fn start(cpus: &[Cpu], page: u64) -> alloc::vec::Vec<usize> {
    let mut online = alloc::vec::Vec::new();
    let code = &raw const moteos_ap_start;
    let len = offset(&raw const moteos_ap_end);
    let base = page as *mut u8;
    // SAFETY: `page..page + 8 KiB` is free RAM below 1 MiB that nothing else uses (never in
    // the heap), identity-mapped; the trampoline is `len` (< 4 KiB) bytes of the image.
    unsafe {
        core::ptr::copy_nonoverlapping(code, base, len);
        let put32 = |symbol: *const u8, value: u32| base.add(offset(symbol)).cast::<u32>().write_unaligned(value);
        let put64 = |symbol: *const u8, value: u64| base.add(offset(symbol)).cast::<u64>().write_unaligned(value);
        let local = |symbol: *const u8| (page + offset(symbol) as u64) as u32;
        let protected = local(&raw const moteos_ap_far32) + 6;
        let long = local(&raw const moteos_ap_far64) + 6;
        put32(&raw const moteos_ap_far32, protected);
        put32(&raw const moteos_ap_far64, long);
        base.add(offset(&raw const moteos_ap_gdtr) + 2)
            .cast::<u32>()
            .write_unaligned(local(&raw const moteos_ap_gdtr) - 32);
        debug_assert_eq!(offset(&raw const moteos_ap_gdtr), 40, "the trampoline's data moved");
        debug_assert_eq!(offset(&raw const moteos_ap_arg), 80, "the trampoline's data moved");
        // 32-bit code can only load a CR3 below 4 GiB: use a copy of the top-level table in
        // the second page (its entries point at the same lower-level tables).
        let pml4_copy = page + 0x1000;
        core::ptr::copy_nonoverlapping(paging::root() as *const u8, pml4_copy as *mut u8, 4096);
        put64(&raw const moteos_ap_cr3_low, pml4_copy);
        put64(&raw const moteos_ap_cr3, paging::root());
        put64(&raw const moteos_ap_entry, (ap_entry as extern "sysv64" fn(usize) -> !) as usize as u64);
    }
    for (index, cpu) in cpus.iter().enumerate().skip(1) {
        let Some(stacks) = crate::arch::address_space::stacks(index) else { break };
        // SAFETY: as above; the fields are read by the processor being started only.
        unsafe {
            base.add(offset(&raw const moteos_ap_stack)).cast::<u64>().write_unaligned(stacks.main.top);
            base.add(offset(&raw const moteos_ap_arg)).cast::<u64>().write_unaligned(index as u64);
        }
        let before = ARRIVED.load(Ordering::SeqCst);
        apic::start_processor(cpu.hardware_id as u32, (page >> 12) as u8);
        let deadline = crate::time::now().saturating_add(Duration::from_millis(500));
        while ARRIVED.load(Ordering::SeqCst) == before && crate::time::now() < deadline {
            core::hint::spin_loop();
        }
        if ARRIVED.load(Ordering::SeqCst) == before {
            log::warn!("smp: processor {index} (APIC id {}) did not start; continuing without it", cpu.hardware_id);
            continue;
        }
        // Wait for it to finish its own setup before the trampoline is reused.
        while !crate::arch::pool::is_online(index) && crate::time::now() < deadline {
            core::hint::spin_loop();
        }
        if crate::arch::pool::is_online(index) {
            online.push(index);
        } else {
            log::warn!("smp: processor {index} (APIC id {}) started but did not finish its setup", cpu.hardware_id);
        }
    }
    online
}

/// Where the trampoline lands, on the processor's own stack.
extern "sysv64" fn ap_entry(index: usize) -> ! {
    ARRIVED.fetch_add(1, Ordering::SeqCst);
    ap_main(index)
}

/// An application processor's setup: descriptor tables, its local APIC, SIMD state; then
/// it waits for pool work for good.
fn ap_main(index: usize) -> ! {
    gdt::init(crate::arch::address_space::stacks(index).map(|s| s.exception.top));
    interrupts::load();
    super::set_cpu_index(index);
    super::enable_simd();
    apic::init_secondary();
    crate::arch::pool::worker(index)
}
