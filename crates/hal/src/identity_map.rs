//! Planning the kernel's identity map: which physical ranges are mapped as RAM, as a
//! framebuffer, as device registers, or not at all (guard pages), and which page sizes
//! cover each range.
//!
//! The kernel maps every physical address it may touch at its own address (one address
//! space, no translation). RAM is cacheable, device registers are not, the framebuffer is
//! write-combining, and the guard pages below each kernel stack are left out so that an
//! overflow faults instead of corrupting memory. The architecture code turns each span
//! into page-table entries; this module only does the arithmetic, so it is host-tested.

use core::ops::Range;

/// The smallest page: every boundary handed to this module is a multiple of it.
pub const PAGE: u64 = 4096;

/// How one span of physical addresses is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// RAM: normal, cacheable memory.
    Ram,
    /// The framebuffer: normal memory, write-combining (not cached).
    Framebuffer,
    /// Everything else: device registers (uncached, no speculation).
    Device,
    /// Not mapped at all: any access faults (guard pages).
    Unmapped,
}

/// A run of physical addresses `start..end` with one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First address (page-aligned).
    pub start: u64,
    /// One past the last address (page-aligned).
    pub end: u64,
    /// How it is mapped.
    pub kind: MapKind,
}

/// The inputs of the plan. Ranges may be unsorted and may overlap; guard pages win over the
/// framebuffer, which wins over RAM. Every address must be a multiple of [`PAGE`].
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    /// End of the address space to map (exclusive).
    pub top: u64,
    /// RAM ranges (from the firmware's memory map).
    pub ram: &'a [Range<u64>],
    /// The framebuffer, if any.
    pub framebuffer: Option<Range<u64>>,
    /// Ranges to leave unmapped.
    pub guards: &'a [Range<u64>],
}

impl Layout<'_> {
    /// The kind of mapping the page at `address` gets.
    pub fn kind_at(&self, address: u64) -> MapKind {
        if self.guards.iter().any(|g| g.contains(&address)) {
            MapKind::Unmapped
        } else if self.framebuffer.as_ref().is_some_and(|f| f.contains(&address)) {
            MapKind::Framebuffer
        } else if self.ram.iter().any(|r| r.contains(&address)) {
            MapKind::Ram
        } else {
            MapKind::Device
        }
    }

    /// The first range boundary above `address` (or `top`).
    fn next_boundary(&self, address: u64) -> u64 {
        let mut next = self.top;
        let mut consider = |r: &Range<u64>| {
            for b in [r.start, r.end] {
                if b > address && b < next {
                    next = b;
                }
            }
        };
        self.ram.iter().for_each(&mut consider);
        self.guards.iter().for_each(&mut consider);
        if let Some(f) = &self.framebuffer {
            consider(f);
        }
        next
    }

    /// Calls `f` for each maximal span of one kind, in address order, covering `0..top`.
    /// Allocation-free: the kernel builds its page tables with this before it has stacks of
    /// its own.
    pub fn for_each_span(&self, mut f: impl FnMut(Span)) {
        let mut current: Option<Span> = None;
        let mut at = 0;
        while at < self.top {
            let next = self.next_boundary(at);
            let kind = self.kind_at(at);
            match current.as_mut() {
                Some(span) if span.kind == kind => span.end = next,
                _ => {
                    if let Some(done) = current.take() {
                        f(done);
                    }
                    current = Some(Span { start: at, end: next, kind });
                }
            }
            at = next;
        }
        if let Some(done) = current {
            f(done);
        }
    }
}

/// Covers `range` with the fewest pages of the given `sizes` (largest first): each page is
/// aligned to its size and lies inside the range. Yields `(address, size)`.
pub fn pages(range: Range<u64>, sizes: &[u64]) -> Pages<'_> {
    Pages { at: range.start, end: range.end, sizes }
}

/// The iterator returned by [`pages`].
#[derive(Debug, Clone)]
pub struct Pages<'a> {
    at: u64,
    end: u64,
    sizes: &'a [u64],
}

impl Iterator for Pages<'_> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        if self.at >= self.end {
            return None;
        }
        let at = self.at;
        let size = self
            .sizes
            .iter()
            .copied()
            .find(|&s| s > 0 && at.is_multiple_of(s) && self.end - at >= s)
            // A range that is not a multiple of the smallest page: finish with one last page.
            .unwrap_or_else(|| self.sizes.last().copied().unwrap_or(PAGE).max(1));
        self.at = at.saturating_add(size);
        Some((at, size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;
    const SIZES: [u64; 3] = [GIB, 2 * MIB, 4 * KIB];

    fn spans(layout: &Layout<'_>) -> std::vec::Vec<Span> {
        let mut out = std::vec::Vec::new();
        layout.for_each_span(|s| out.push(s));
        out
    }

    extern crate std;

    #[test]
    fn ram_device_and_guards_are_separated_and_cover_everything() {
        let ram = [0..640 * KIB, MIB..512 * MIB];
        let guard = 100 * MIB..100 * MIB + 16 * KIB;
        let guards = [guard];
        let layout = Layout { top: 4 * GIB, ram: &ram, framebuffer: Some(3 * GIB..3 * GIB + 8 * MIB), guards: &guards };
        let got = spans(&layout);
        let want = [
            Span { start: 0, end: 640 * KIB, kind: MapKind::Ram },
            Span { start: 640 * KIB, end: MIB, kind: MapKind::Device },
            Span { start: MIB, end: 100 * MIB, kind: MapKind::Ram },
            Span { start: 100 * MIB, end: 100 * MIB + 16 * KIB, kind: MapKind::Unmapped },
            Span { start: 100 * MIB + 16 * KIB, end: 512 * MIB, kind: MapKind::Ram },
            Span { start: 512 * MIB, end: 3 * GIB, kind: MapKind::Device },
            Span { start: 3 * GIB, end: 3 * GIB + 8 * MIB, kind: MapKind::Framebuffer },
            Span { start: 3 * GIB + 8 * MIB, end: 4 * GIB, kind: MapKind::Device },
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn adjacent_and_unsorted_ram_merges() {
        let ram = [2 * MIB..4 * MIB, 0..2 * MIB];
        let layout = Layout { top: 8 * MIB, ram: &ram, framebuffer: None, guards: &[] };
        assert_eq!(
            spans(&layout),
            [
                Span { start: 0, end: 4 * MIB, kind: MapKind::Ram },
                Span { start: 4 * MIB, end: 8 * MIB, kind: MapKind::Device }
            ]
        );
    }

    #[test]
    fn guard_inside_framebuffer_wins() {
        let guard = MIB..MIB + 4 * KIB;
        let guards = [guard];
        let layout = Layout { top: 2 * MIB, ram: &[], framebuffer: Some(0..2 * MIB), guards: &guards };
        assert_eq!(layout.kind_at(MIB), MapKind::Unmapped);
        assert_eq!(layout.kind_at(MIB + 4 * KIB), MapKind::Framebuffer);
    }

    #[test]
    fn pages_use_the_largest_aligned_size() {
        let got: std::vec::Vec<_> = pages(GIB - 4 * KIB..2 * GIB + 2 * MIB + 8 * KIB, &SIZES).collect();
        assert_eq!(
            got,
            [
                (GIB - 4 * KIB, 4 * KIB),
                (GIB, GIB),
                (2 * GIB, 2 * MIB),
                (2 * GIB + 2 * MIB, 4 * KIB),
                (2 * GIB + 2 * MIB + 4 * KIB, 4 * KIB)
            ]
        );
        let covered: u64 = got.iter().map(|&(_, s)| s).sum();
        assert_eq!(covered, GIB + 2 * MIB + 12 * KIB);
    }

    #[test]
    fn pages_without_large_sizes_stay_small() {
        let got: std::vec::Vec<_> = pages(0..4 * MIB, &[2 * MIB, 4 * KIB]).collect();
        assert_eq!(got, [(0, 2 * MIB), (2 * MIB, 2 * MIB)]);
        assert_eq!(pages(5..5, &SIZES).count(), 0);
    }

    #[test]
    fn a_whole_layout_is_covered_without_gaps_or_overlaps() {
        let ram = [0..640 * KIB, MIB..3 * GIB - 20 * KIB, 4 * GIB..5 * GIB];
        let guards = [10 * MIB..10 * MIB + 16 * KIB, 20 * MIB + 4 * KIB..20 * MIB + 8 * KIB];
        let layout = Layout { top: 64 * GIB, ram: &ram, framebuffer: Some(0x8000_0000..0x8080_0000), guards: &guards };
        let mut at = 0;
        for span in spans(&layout) {
            assert_eq!(span.start, at);
            for (page, size) in pages(span.start..span.end, &SIZES) {
                assert_eq!(page, at, "gap or overlap at {at:#x}");
                assert_eq!(page % size, 0);
                for probe in [page, page + size - 1] {
                    assert_eq!(layout.kind_at(probe & !(PAGE - 1)), span.kind);
                }
                at += size;
            }
        }
        assert_eq!(at, 64 * GIB);
    }
}
