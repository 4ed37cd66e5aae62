//! The merge loop shared by both BPE flavours.
//!
//! A word starts as a chain of small symbols (bytes or characters). Repeatedly, the adjacent
//! pair with the best priority (lowest merge rank for byte-level BPE, highest token score for
//! SentencePiece) is fused, leftmost first among equals, until no pair can merge.
//!
//! Candidates wait in a binary heap; fusing a pair only creates candidates with its two
//! neighbours, and a popped candidate whose symbols changed since it was pushed is dropped.
//! That makes a word of n symbols cost O(n log n) instead of the O(n²) of rescanning every pair
//! after each merge, which matters for long runs without spaces (minified code, base64...).

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;

/// Marks "no symbol" in the `prev`/`next` links and "no token" in `id`.
pub(crate) const NONE: u32 = u32::MAX;

/// One symbol of a word: a byte range of the word, its token (or [`NONE`]) and its neighbours.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Symbol {
    pub(crate) start: u32,
    pub(crate) end: u32,
    pub(crate) id: u32,
    prev: u32,
    next: u32,
}

/// A pair that may merge: ordered by priority, then by position (leftmost first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    priority: u64,
    left: u32,
    /// The right symbol's index and both ends as they were when the pair was proposed; the
    /// candidate is stale if either symbol has grown since.
    right: u32,
    left_end: u32,
    right_end: u32,
    merged: u32,
}

/// Reusable buffers for merging words, so encoding a long text does not allocate per word.
#[derive(Debug, Default)]
pub(crate) struct Merger {
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Reverse<Candidate>>,
}

impl Merger {
    /// Starts a new word from its initial symbols: `(byte length, token id or NONE)` in order.
    pub(crate) fn start(&mut self, pieces: impl Iterator<Item = (usize, u32)>) {
        self.symbols.clear();
        self.heap.clear();
        let mut offset = 0u32;
        for (len, id) in pieces {
            let index = self.symbols.len() as u32;
            let end = offset + len as u32;
            self.symbols.push(Symbol { start: offset, end, id, prev: index.wrapping_sub(1), next: index + 1 });
            offset = end;
        }
        if let Some(first) = self.symbols.first_mut() {
            first.prev = NONE;
        }
        if let Some(last) = self.symbols.last_mut() {
            last.next = NONE;
        }
    }

    /// Runs the merges. `pair(left, right)` says whether two adjacent symbols merge: with
    /// which priority (lower merges first) and into which token.
    pub(crate) fn run(&mut self, mut pair: impl FnMut(&Symbol, &Symbol) -> Option<(u64, u32)>) {
        for left in 1..self.symbols.len() {
            self.propose(left as u32 - 1, &mut pair);
        }
        while let Some(Reverse(candidate)) = self.heap.pop() {
            let (l, r) = (candidate.left as usize, candidate.right as usize);
            let (Some(left), Some(right)) = (self.symbols.get(l).copied(), self.symbols.get(r).copied()) else {
                continue;
            };
            // Stale: one side was merged away or grew since this pair was proposed.
            if left.next != candidate.right || left.end != candidate.left_end || right.end != candidate.right_end {
                continue;
            }
            let merged = Symbol { end: right.end, id: candidate.merged, next: right.next, ..left };
            self.symbols[l] = merged;
            // The right symbol is now dead: unlink it so no candidate can name it again.
            self.symbols[r].next = NONE;
            self.symbols[r].start = self.symbols[r].end;
            if let Some(after) = self.symbols.get_mut(right.next as usize) {
                after.prev = candidate.left;
            }
            if merged.prev != NONE {
                self.propose(merged.prev, &mut pair);
            }
            self.propose(candidate.left, &mut pair);
        }
    }

    /// Pushes the pair formed by symbol `left` and its right neighbour, if it can merge.
    fn propose(&mut self, left: u32, pair: &mut impl FnMut(&Symbol, &Symbol) -> Option<(u64, u32)>) {
        let Some(l) = self.symbols.get(left as usize) else { return };
        let Some(r) = self.symbols.get(l.next as usize) else { return };
        if let Some((priority, merged)) = pair(l, r) {
            self.heap.push(Reverse(Candidate {
                priority,
                left,
                right: l.next,
                left_end: l.end,
                right_end: r.end,
                merged,
            }));
        }
    }

    /// The symbols left after merging, in order.
    pub(crate) fn result(&self) -> impl Iterator<Item = &Symbol> {
        let mut index = if self.symbols.is_empty() { NONE } else { 0 };
        core::iter::from_fn(move || {
            let symbol = self.symbols.get(index as usize)?;
            index = symbol.next;
            Some(symbol)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    /// Merges letters of `word` with rules given as (left, right) text pairs, in rank order.
    fn merge(word: &str, rules: &[(&str, &str)]) -> Vec<String> {
        let mut merger = Merger::default();
        merger.start(word.chars().map(|c| (c.len_utf8(), 0)));
        merger.run(|l, r| {
            let (a, b) = (&word[l.start as usize..l.end as usize], &word[r.start as usize..r.end as usize]);
            rules.iter().position(|&(x, y)| x == a && y == b).map(|rank| (rank as u64, 0))
        });
        merger.result().map(|s| String::from(&word[s.start as usize..s.end as usize])).collect()
    }

    #[test]
    fn merges_by_priority_then_leftmost() {
        assert_eq!(merge("abab", &[("a", "b"), ("ab", "ab")]), ["abab"]);
        assert_eq!(merge("aaa", &[("a", "a")]), ["aa", "a"]);
        assert_eq!(merge("abc", &[("b", "c"), ("a", "b")]), ["a", "bc"]);
        assert_eq!(merge("abc", &[("a", "b"), ("b", "c")]), ["ab", "c"]);
        assert_eq!(merge("", &[("a", "b")]), Vec::<String>::new());
        assert_eq!(merge("x", &[]), ["x"]);
    }

    #[test]
    fn long_word_is_not_quadratic() {
        let word = "ab".repeat(50_000);
        let out = merge(&word, &[("a", "b"), ("ab", "ab"), ("abab", "abab")]);
        assert_eq!(out.len(), 50_000 / 4);
        assert!(out.iter().all(|s| s == "abababab"));
    }
}
