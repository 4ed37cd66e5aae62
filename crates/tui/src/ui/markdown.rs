//! Markdown as the model writes it, laid out into lines.

use alloc::vec::Vec;

use super::layout::{self, LineBack, Role, VLine};

/// Lays `text` out in `cols` columns.
pub fn layout(text: &str, cols: u32) -> Vec<VLine> {
    layout::plain(text, cols, Role::Text, LineBack::Plain)
}
