//! A fixed-capacity FIFO for handing events from interrupt handlers to the main
//! loop. Pushing never allocates and never blocks: when the queue is full the
//! new event is handed back and counted, so an input flood cannot grow memory or
//! stall an interrupt handler, and the loss is still visible in the log.
//!
//! The queue itself is not synchronised; the kernel puts it behind a lock taken
//! with interrupts disabled (a handler and the main loop never race).

use crate::keys::{KeyEvent, KeySource};

/// A ring buffer of at most `N` items with a count of items it had to refuse.
///
/// Slots are `Option<T>` so the queue can be built in a `static` by a `const fn`
/// without `MaybeUninit` (this crate forbids `unsafe`).
#[derive(Debug, Clone)]
pub struct EventQueue<T, const N: usize> {
    slots: [Option<T>; N],
    /// Index of the oldest item; always `< N` when `N > 0`.
    head: usize,
    /// Number of items stored; always `<= N`.
    len: usize,
    dropped: u64,
}

impl<T, const N: usize> EventQueue<T, N> {
    /// An empty queue; usable in a `static` initialiser.
    pub const fn new() -> Self {
        EventQueue { slots: [const { None }; N], head: 0, len: 0, dropped: 0 }
    }

    /// Appends `item` at the back. A full queue returns the item as `Err` and
    /// counts it in [`dropped`](Self::dropped).
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.len >= N {
            self.dropped = self.dropped.saturating_add(1);
            return Err(item);
        }
        let index = self.wrap(self.len);
        match self.slots.get_mut(index) {
            Some(slot) => {
                *slot = Some(item);
                self.len += 1;
                Ok(())
            }
            // Unreachable while the head/len invariants hold; refusing is the
            // safe answer if they ever did not.
            None => {
                self.dropped = self.dropped.saturating_add(1);
                Err(item)
            }
        }
    }

    /// Removes and returns the oldest item.
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let item = self.slots.get_mut(self.head).and_then(Option::take);
        self.head = self.wrap(1);
        self.len -= 1;
        item
    }

    /// The oldest item, without removing it.
    pub fn peek(&self) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        self.slots.get(self.head).and_then(Option::as_ref)
    }

    /// Number of items waiting.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is waiting.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the next push would be refused.
    pub const fn is_full(&self) -> bool {
        self.len >= N
    }

    /// The most items the queue can hold.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// How many pushes were refused because the queue was full, since creation.
    pub const fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Discards every waiting item (the dropped count is kept: it is a history).
    pub fn clear(&mut self) {
        while self.pop().is_some() {}
        self.head = 0;
    }

    /// The slot `offset` places after `head`, wrapped into `0..N`. Written
    /// without `%` on a sum so it cannot overflow; callers pass `offset <= N`.
    fn wrap(&self, offset: usize) -> usize {
        let room_before_end = N.saturating_sub(self.head);
        if offset < room_before_end { self.head + offset } else { offset - room_before_end }
    }
}

impl<T, const N: usize> Default for EventQueue<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> KeySource for EventQueue<KeyEvent, N> {
    fn next_key(&mut self) -> Option<KeyEvent> {
        self.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_and_counts() {
        let mut q: EventQueue<u32, 4> = EventQueue::new();
        assert!(q.is_empty());
        assert_eq!(q.capacity(), 4);
        assert_eq!(q.pop(), None);
        assert_eq!(q.peek(), None);
        for i in 0..3 {
            assert_eq!(q.push(i), Ok(()));
        }
        assert_eq!(q.len(), 3);
        assert_eq!(q.peek(), Some(&0));
        assert_eq!(q.pop(), Some(0));
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), None);
        assert_eq!(q.dropped(), 0);
    }

    #[test]
    fn full_queue_refuses_and_counts() {
        let mut q: EventQueue<u8, 2> = EventQueue::new();
        assert_eq!(q.push(1), Ok(()));
        assert_eq!(q.push(2), Ok(()));
        assert!(q.is_full());
        assert_eq!(q.push(3), Err(3));
        assert_eq!(q.push(4), Err(4));
        assert_eq!(q.dropped(), 2);
        assert_eq!(q.len(), 2);
        // The refused items did not overwrite anything.
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.push(5), Ok(()));
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(5));
        assert_eq!(q.dropped(), 2);
    }

    #[test]
    fn wraps_around_many_times() {
        let mut q: EventQueue<u64, 3> = EventQueue::new();
        let mut next_in = 0u64;
        let mut next_out = 0u64;
        // Varying fill levels walk head across every slot repeatedly.
        for round in 0..1000u64 {
            let pushes = round % 4;
            for _ in 0..pushes {
                if q.push(next_in).is_ok() {
                    next_in += 1;
                }
            }
            let pops = (round * 7) % 3 + 1;
            for _ in 0..pops {
                if let Some(v) = q.pop() {
                    assert_eq!(v, next_out);
                    next_out += 1;
                }
            }
            assert!(q.len() <= 3);
            assert_eq!(q.len() as u64, next_in - next_out);
        }
        assert!(next_out > 500);
    }

    #[test]
    fn zero_capacity_never_panics() {
        let mut q: EventQueue<u8, 0> = EventQueue::new();
        assert_eq!(q.push(1), Err(1));
        assert_eq!(q.pop(), None);
        assert_eq!(q.peek(), None);
        assert!(q.is_full() && q.is_empty());
        assert_eq!(q.dropped(), 1);
    }

    #[test]
    fn clear_keeps_dropped_history() {
        let mut q: EventQueue<u8, 1> = EventQueue::new();
        q.push(1).ok();
        assert_eq!(q.push(2), Err(2));
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.dropped(), 1);
        assert_eq!(q.push(3), Ok(()));
        assert_eq!(q.pop(), Some(3));
    }

    #[test]
    fn works_in_a_static_and_as_key_source() {
        static Q: EventQueue<u8, 8> = EventQueue::new();
        assert!(Q.is_empty());
        let mut keys: EventQueue<KeyEvent, 2> = EventQueue::default();
        keys.push(KeyEvent::char('z')).ok();
        assert_eq!(keys.next_key(), Some(KeyEvent::char('z')));
        assert_eq!(keys.next_key(), None);
    }

    #[test]
    fn non_copy_items_are_moved_out() {
        extern crate std;
        use std::string::String;
        let mut q: EventQueue<String, 2> = EventQueue::new();
        q.push(String::from("a")).ok();
        q.push(String::from("b")).ok();
        let refused = q.push(String::from("c"));
        assert_eq!(refused, Err(String::from("c")));
        assert_eq!(q.pop().as_deref(), Some("a"));
        assert_eq!(q.pop().as_deref(), Some("b"));
    }
}
