//! Axis-aligned rectangles in pixel coordinates.

/// A rectangle of pixels: `x..x + w` by `y..y + h`.
///
/// Edges saturate at `u32::MAX`, so no rectangle arithmetic can overflow; a
/// rectangle reaching past any real screen is simply clipped by the canvas.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
}

impl Rect {
    /// A rectangle from its left, top, width and height.
    pub const fn new(x: u32, y: u32, w: u32, h: u32) -> Rect {
        Rect { x, y, w, h }
    }

    /// One past the right-most column.
    pub const fn right(&self) -> u32 {
        self.x.saturating_add(self.w)
    }

    /// One past the bottom-most row.
    pub const fn bottom(&self) -> u32 {
        self.y.saturating_add(self.h)
    }

    /// Whether the rectangle covers no pixel.
    pub const fn is_empty(&self) -> bool {
        self.w == 0 || self.h == 0
    }

    /// Whether pixel `(x, y)` lies inside.
    pub const fn contains(&self, x: u32, y: u32) -> bool {
        x >= self.x && x < self.right() && y >= self.y && y < self.bottom()
    }

    /// The smallest rectangle covering both. An empty rectangle contributes
    /// nothing, wherever it sits, so damage can start from an empty one.
    pub fn union(&self, other: &Rect) -> Rect {
        if other.is_empty() {
            return *self;
        }
        if self.is_empty() {
            return *other;
        }
        let x = self.x.min(other.x);
        let y = self.y.min(other.y);
        Rect { x, y, w: self.right().max(other.right()) - x, h: self.bottom().max(other.bottom()) - y }
    }

    /// The pixels both cover; empty (zero width or height) when they are disjoint.
    pub fn intersect(&self, other: &Rect) -> Rect {
        let x = self.x.max(other.x);
        let y = self.y.max(other.y);
        let right = self.right().min(other.right());
        let bottom = self.bottom().min(other.bottom());
        Rect { x, y, w: right.saturating_sub(x), h: bottom.saturating_sub(y) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges() {
        let r = Rect::new(10, 20, 30, 40);
        assert_eq!((r.right(), r.bottom()), (40, 60));
        assert!(r.contains(10, 20) && r.contains(39, 59));
        assert!(!r.contains(40, 20) && !r.contains(10, 60) && !r.contains(9, 20));
    }

    #[test]
    fn edges_saturate() {
        let r = Rect::new(u32::MAX - 1, u32::MAX, 10, 10);
        assert_eq!((r.right(), r.bottom()), (u32::MAX, u32::MAX));
    }

    #[test]
    fn emptiness() {
        assert!(Rect::new(5, 5, 0, 3).is_empty());
        assert!(Rect::new(5, 5, 3, 0).is_empty());
        assert!(!Rect::new(5, 5, 1, 1).is_empty());
    }

    #[test]
    fn union_covers_both() {
        let a = Rect::new(0, 0, 10, 10);
        let b = Rect::new(20, 5, 5, 20);
        assert_eq!(a.union(&b), Rect::new(0, 0, 25, 25));
        assert_eq!(b.union(&a), Rect::new(0, 0, 25, 25));
    }

    #[test]
    fn union_ignores_empty() {
        let a = Rect::new(7, 8, 9, 10);
        let far_empty = Rect::new(1000, 1000, 0, 50);
        assert_eq!(a.union(&far_empty), a);
        assert_eq!(far_empty.union(&a), a);
        assert!(Rect::default().union(&Rect::default()).is_empty());
    }

    #[test]
    fn intersect_overlapping_nested_disjoint() {
        let a = Rect::new(0, 0, 10, 10);
        assert_eq!(a.intersect(&Rect::new(5, 6, 10, 10)), Rect::new(5, 6, 5, 4));
        assert_eq!(a.intersect(&Rect::new(2, 2, 3, 3)), Rect::new(2, 2, 3, 3));
        assert!(a.intersect(&Rect::new(10, 0, 5, 5)).is_empty());
        assert!(a.intersect(&Rect::new(50, 50, 5, 5)).is_empty());
    }
}
