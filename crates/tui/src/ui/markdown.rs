//! Markdown as the models write it, laid out into lines: headings, emphasis, inline code,
//! lists, block quotes, links (shown as their text), tables (aligned columns) and fenced
//! code blocks on their own background with syntax colours.
//!
//! Parsing is [`super::mdparse`]. A reply is split into chunks at blank lines outside code
//! fences and each chunk is laid out on its own, so while a reply streams only its last
//! chunk is parsed again. While it streams, a plain paragraph longer than
//! [`STREAMING_PIECE`] is also cut into pieces at spaces (each piece starts a new line until
//! the reply ends and is laid out whole), so a reply written as one endless paragraph costs
//! the same per frame as any other.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::hash::{Hash, Hasher};

use super::mdparse::{Align, MdBlock, MdInline, MdList, parse, plain_text};

use super::highlight::{Language, highlight};
use super::layout::{Fnv, LineBack, LineBuilder, Role, Span, Style, VLine, display_width};

/// Cells a nested list or quote is indented by.
const INDENT: u32 = 2;

/// One chunk's lines, kept while the chunk's text is unchanged.
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    key: u64,
    lines: Vec<VLine>,
}

/// The longest piece of a plain paragraph laid out on its own while a reply streams, in
/// bytes.
pub const STREAMING_PIECE: usize = 2048;

/// Lays `text` out in `cols` columns, reusing the layouts in `previous` whose chunk did not
/// change; returns the new chunks (keep them for the next call) and the lines.
pub fn layout_cached(text: &str, cols: u32, previous: &[Chunk]) -> (Vec<Chunk>, Vec<VLine>) {
    layout_pieces(text, cols, previous, false)
}

/// [`layout_cached`] for a reply that is still streaming: long plain paragraphs are laid
/// out in pieces (see the module documentation).
pub fn layout_streaming(text: &str, cols: u32, previous: &[Chunk]) -> (Vec<Chunk>, Vec<VLine>) {
    layout_pieces(text, cols, previous, true)
}

fn layout_pieces(text: &str, cols: u32, previous: &[Chunk], streaming: bool) -> (Vec<Chunk>, Vec<VLine>) {
    let mut chunks = Vec::new();
    let mut lines = Vec::new();
    let pieces = split_chunks(text).into_iter().flat_map(|chunk| {
        let long = streaming && chunk.len() > STREAMING_PIECE && is_plain_paragraph(chunk);
        let pieces = if long { cut_paragraph(chunk) } else { alloc::vec![chunk] };
        pieces.into_iter().enumerate().map(|(n, piece)| (piece, n > 0))
    });
    for (i, (piece, continues)) in pieces.enumerate() {
        let mut h = Fnv::new();
        (piece, cols).hash(&mut h);
        let key = h.finish();
        let chunk = match previous.get(i).filter(|c| c.key == key) {
            Some(c) => c.clone(),
            None => Chunk { key, lines: layout_chunk(piece, cols) },
        };
        if !lines.is_empty() && !chunk.lines.is_empty() && !continues {
            lines.push(VLine::default());
        }
        lines.extend(chunk.lines.iter().cloned());
        chunks.push(chunk);
    }
    (chunks, lines)
}

/// Lays `text` out in `cols` columns.
pub fn layout(text: &str, cols: u32) -> Vec<VLine> {
    layout_cached(text, cols, &[]).1
}

/// Whether a chunk is a paragraph of text only (no heading, list, quote, table, code or
/// rule), which can be cut at a space without changing what its pieces are.
fn is_plain_paragraph(chunk: &str) -> bool {
    chunk.lines().all(|line| {
        let t = line.trim_start();
        let first = t.chars().next();
        let numbered =
            t.split_once(['.', ')']).is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        !(numbered
            || matches!(first, Some('#' | '>' | '-' | '*' | '+' | '|' | '`' | '~' | '=' | '_'))
            || line.starts_with("    "))
    })
}

/// Cuts a long paragraph at spaces into pieces of at most [`STREAMING_PIECE`] bytes (a
/// word longer than that is its own piece). The cuts depend only on the text before them,
/// so the pieces stay the same while the paragraph grows.
fn cut_paragraph(chunk: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = chunk;
    while rest.len() > STREAMING_PIECE {
        let window = &rest.as_bytes()[..STREAMING_PIECE];
        let cut = match window.iter().rposition(|b| *b == b' ' || *b == b'\n') {
            Some(at) if at > 0 => at + 1,
            // One long word: up to the next space (spaces are ASCII: a char boundary).
            _ => rest.bytes().position(|b| b == b' ' || b == b'\n').map_or(rest.len(), |at| at + 1),
        };
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

/// Splits at blank lines that are outside fenced code blocks; blank-only chunks are
/// dropped.
fn split_chunks(text: &str) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        if let Some(c) = marker {
            let run = trimmed.chars().take_while(|&x| x == c).count();
            if run >= 3 {
                match fence {
                    None => fence = Some((c, run)),
                    Some((fc, fr)) if fc == c && run >= fr && trimmed[run..].trim().is_empty() => fence = None,
                    _ => {}
                }
            }
        }
        if fence.is_none() && line.trim().is_empty() {
            if !text[start..offset].trim().is_empty() {
                chunks.push(&text[start..offset]);
            }
            start = offset + line.len();
        }
        offset += line.len();
    }
    if !text[start..].trim().is_empty() {
        chunks.push(&text[start..]);
    }
    chunks
}

/// The inline styles in effect.
#[derive(Clone, Copy, Debug, Default)]
struct Inline {
    bold: bool,
    italic: bool,
    link: bool,
    heading: bool,
}

impl Inline {
    fn style(self, base: Role) -> Style {
        let role = if self.link {
            Role::Link
        } else if self.heading {
            Role::Heading
        } else {
            base
        };
        Style { role, bold: self.bold || self.heading, italic: self.italic, boxed: false }
    }
}

/// Where blocks go: the indent of their text and whether they sit in a quote.
#[derive(Clone, Copy, Debug, Default)]
struct Context {
    indent: u32,
    quoted: bool,
}

impl Context {
    fn back(self) -> LineBack {
        if self.quoted { LineBack::Quote { indent: 0 } } else { LineBack::Plain }
    }
}

/// Chunks longer than this are shown as plain text: parsing stays cheap whatever a
/// server sends (real paragraphs and code blocks are far shorter).
const MAX_CHUNK: usize = 16 * 1024;

fn layout_chunk(text: &str, cols: u32) -> Vec<VLine> {
    let cols = cols.max(8);
    if text.len() > MAX_CHUNK {
        return super::layout::plain(text, cols, Role::Text, LineBack::Plain);
    }
    let mut out = Vec::new();
    blocks(&parse(text), cols, Context::default(), &mut out);
    out
}

/// Lays blocks out one after the other with a blank line between them.
fn blocks(nodes: &[MdBlock], cols: u32, cx: Context, out: &mut Vec<VLine>) {
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            out.push(VLine { spans: Vec::new(), back: cx.back() });
        }
        block(node, cols, cx, out);
    }
}

fn block(node: &MdBlock, cols: u32, cx: Context, out: &mut Vec<VLine>) {
    match node {
        MdBlock::Paragraph(content) => {
            let mut b = LineBuilder::new(cols, cx.indent, cx.indent, cx.back());
            inlines(content, Inline::default(), &mut b);
            out.extend(b.finish());
        }
        MdBlock::Heading(level, content) => {
            let mut b = LineBuilder::new(cols, cx.indent, cx.indent, cx.back());
            let style = Inline { heading: true, italic: *level >= 4, ..Inline::default() };
            inlines(content, style, &mut b);
            out.extend(b.finish());
            if *level <= 2 {
                out.push(VLine { spans: Vec::new(), back: LineBack::Rule });
            }
        }
        MdBlock::Quote(inner) => blocks(inner, cols, Context { indent: cx.indent + INDENT, quoted: true }, out),
        MdBlock::List(list) => list_lines(list, cols, cx, out),
        MdBlock::Code(info, code) => code_block(info, code, cols, cx, out),
        MdBlock::Table(align, rows) => table_lines(align, rows, cols, cx, out),
        MdBlock::Rule => out.push(VLine { spans: Vec::new(), back: LineBack::Rule }),
    }
}

fn list_lines(list: &MdList, cols: u32, cx: Context, out: &mut Vec<VLine>) {
    let mut number = list.start.unwrap_or(1);
    for (n, item) in list.items.iter().enumerate() {
        if n > 0 && list.spread {
            out.push(VLine { spans: Vec::new(), back: cx.back() });
        }
        let marker = match list.start {
            Some(_) => {
                let m = format!("{number}. ");
                number = number.saturating_add(1);
                m
            }
            None => String::from(if (cx.indent / INDENT).is_multiple_of(2) { "\u{2022} " } else { "\u{25e6} " }),
        };
        let task = match item.checked {
            Some(true) => "[x] ",
            Some(false) => "[ ] ",
            None => "",
        };
        let hanging = cx.indent + display_width(&marker);
        let inner = Context { indent: hanging, quoted: cx.quoted };
        let mut b = LineBuilder::new(cols, cx.indent, hanging, cx.back());
        b.prefix(&marker, Style::plain(Role::Marker));
        b.prefix(task, Style::plain(Role::Marker));
        let mut rest = item.blocks.as_slice();
        if let Some((MdBlock::Paragraph(content), tail)) = rest.split_first() {
            inlines(content, Inline::default(), &mut b);
            rest = tail;
        }
        out.extend(b.finish());
        for child in rest {
            if list.spread {
                out.push(VLine { spans: Vec::new(), back: cx.back() });
            }
            block(child, cols, inner, out);
        }
    }
}

/// Lays inline content out into `b`.
fn inlines(nodes: &[MdInline], style: Inline, b: &mut LineBuilder) {
    for node in nodes {
        match node {
            MdInline::Text(t) => b.text(t, style.style(Role::Text)),
            MdInline::Strong(c) => inlines(c, Inline { bold: true, ..style }, b),
            MdInline::Emphasis(c) => inlines(c, Inline { italic: true, ..style }, b),
            MdInline::Strike(c) => inlines(c, style, b),
            MdInline::Link(c) => inlines(c, Inline { link: true, ..style }, b),
            MdInline::Code(c) => b.text(c, Style { boxed: true, ..Style::plain(Role::Code) }),
            MdInline::Image(alt) => b.text(&format!("[image: {alt}]"), Style::plain(Role::Muted)),
            MdInline::Break => b.break_line(),
        }
    }
}

fn code_block(info: &str, code: &str, cols: u32, cx: Context, out: &mut Vec<VLine>) {
    let back = LineBack::Code { indent: cx.indent };
    let lang = Language::from_fence(info);
    if !info.trim().is_empty() {
        let mut b = LineBuilder::new(cols, cx.indent, cx.indent, back);
        b.text(info.trim(), Style::plain(Role::Comment));
        out.extend(b.finish());
    }
    let code = code.replace('\t', "    ");
    let mut b = LineBuilder::new(cols, cx.indent, cx.indent, back);
    for (start, end, role) in highlight(&code, lang) {
        b.verbatim(&code[start..end], Style::plain(role));
    }
    out.extend(b.finish());
}

fn table_lines(align: &[Align], cells: &[Vec<Vec<MdInline>>], cols: u32, cx: Context, out: &mut Vec<VLine>) {
    let rows: Vec<Vec<String>> = cells.iter().map(|row| row.iter().map(|c| plain_text(c)).collect()).collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0).min(64);
    if columns == 0 {
        return;
    }
    let mut widths: Vec<u32> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| display_width(s.trim())).max().unwrap_or(0).max(1))
        .collect();
    // Separators take 3 cells each; shrink the widest columns until the table fits.
    let room = cols.saturating_sub(cx.indent + 3 * (columns as u32 - 1)).max(columns as u32);
    while widths.iter().sum::<u32>() > room {
        let widest = widths.iter().copied().max().unwrap_or(1);
        if widest <= 3 {
            break;
        }
        for w in widths.iter_mut().filter(|w| **w == widest) {
            *w -= 1;
        }
    }
    let span =
        |col: u32, text: String, role: Role, bold: bool| Span { col, text, role, bold, italic: false, boxed: false };
    for (r, row) in rows.iter().enumerate() {
        let header = r == 0;
        let mut spans = Vec::new();
        let mut col = cx.indent;
        for (c, &width) in widths.iter().enumerate() {
            let text = fit(row.get(c).map_or("", |s| s.trim()), width);
            let pad = width.saturating_sub(display_width(&text));
            let lead = match align.get(c) {
                Some(Align::Right) => pad,
                Some(Align::Center) => pad / 2,
                _ => 0,
            };
            if !text.is_empty() {
                spans.push(span(col + lead, text, if header { Role::Heading } else { Role::Text }, header));
            }
            col += width;
            if c + 1 < columns {
                spans.push(span(col + 1, String::from("\u{2502}"), Role::Marker, false));
                col += 3;
            }
        }
        out.push(VLine { spans, back: cx.back() });
        if header {
            let rule: String = widths
                .iter()
                .enumerate()
                .map(|(i, &w)| {
                    let mut s: String = core::iter::repeat_n('\u{2500}', w as usize).collect();
                    if i + 1 < widths.len() {
                        s.push_str("\u{2500}\u{253c}\u{2500}");
                    }
                    s
                })
                .collect();
            out.push(VLine { spans: alloc::vec![span(cx.indent, rule, Role::Marker, false)], back: cx.back() });
        }
    }
}

/// `text` cut to `width` cells, with an ellipsis when cut.
fn fit(text: &str, width: u32) -> String {
    if display_width(text) <= width {
        return String::from(text);
    }
    let mut out = String::new();
    let mut w = 0;
    for c in text.chars() {
        let cw = super::layout::char_width(c);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('\u{2026}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(lines: &[VLine]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                let mut s = String::new();
                for span in &l.spans {
                    while (display_width(&s)) < span.col {
                        s.push(' ');
                    }
                    s.push_str(&span.text);
                }
                s
            })
            .collect()
    }

    fn roles(lines: &[VLine]) -> Vec<(String, Role, bool, bool)> {
        lines.iter().flat_map(|l| l.spans.iter().map(|s| (s.text.clone(), s.role, s.bold, s.italic))).collect()
    }

    #[test]
    fn markers_are_not_shown() {
        let lines = layout("# Title\n\nSome **bold**, *italic* and `code`, a [link](http://x).", 80);
        let text = text_of(&lines);
        assert_eq!(text[0], "Title");
        assert_eq!(lines[1].back, LineBack::Rule);
        assert!(text.iter().any(|l| l == "Some bold, italic and code, a link."), "{text:?}");
        let r = roles(&lines);
        assert!(r.contains(&(String::from("bold"), Role::Text, true, false)));
        assert!(r.contains(&(String::from("italic"), Role::Text, false, true)));
        assert!(r.contains(&(String::from("link"), Role::Link, false, false)));
        assert!(lines.iter().flat_map(|l| &l.spans).any(|s| s.text == "code" && s.boxed));
    }

    #[test]
    fn lists_and_quotes() {
        let lines = layout(
            "- one\n- two that is long enough to wrap around\n  - nested\n\n1. first\n2. second\n\n> quoted",
            20,
        );
        let text = text_of(&lines);
        assert_eq!(text[0], "\u{2022} one");
        assert_eq!(text[1], "\u{2022} two that is long");
        assert_eq!(text[2], "  enough to wrap", "continuation lines hang under the text: {text:?}");
        assert!(text.iter().any(|l| l == "  \u{25e6} nested"), "{text:?}");
        assert!(text.iter().any(|l| l == "1. first") && text.iter().any(|l| l == "2. second"), "{text:?}");
        let quote = lines.iter().find(|l| l.spans.iter().any(|s| s.text.contains("quoted"))).unwrap();
        assert_eq!(quote.back, LineBack::Quote { indent: 0 });
    }

    #[test]
    fn code_blocks_keep_their_lines_and_colours() {
        let lines = layout("Look:\n\n```rust\nfn main() {\n\n    let x = 1; // one\n}\n```\nafter", 40);
        let text = text_of(&lines);
        let start = text.iter().position(|l| l == "rust").expect("language label");
        assert_eq!(&text[start + 1..start + 5], ["fn main() {", "", "    let x = 1; // one", "}"]);
        assert!(lines[start + 1..start + 5].iter().all(|l| matches!(l.back, LineBack::Code { .. })));
        let r = roles(&lines);
        assert!(r.iter().any(|(t, role, ..)| t == "fn" && *role == Role::Keyword));
        assert!(r.iter().any(|(t, role, ..)| t == "// one" && *role == Role::Comment));
        assert_eq!(text.last().map(String::as_str), Some("after"));
    }

    #[test]
    fn tables_are_aligned() {
        let lines = layout("| Name | Qty |\n|------|----:|\n| apple | 3 |\n| kiwi | 12 |", 40);
        let text = text_of(&lines);
        assert_eq!(text[0], "Name  \u{2502} Qty");
        assert!(text[1].starts_with("\u{2500}\u{2500}"));
        assert_eq!(text[2], "apple \u{2502}   3");
        assert_eq!(text[3], "kiwi  \u{2502}  12");
        let narrow = text_of(&layout("| a very long cell indeed | b |\n|---|---|\n| x | y |", 16));
        assert!(narrow.iter().all(|l| display_width(l) <= 16), "{narrow:?}");
        assert!(narrow[0].contains('\u{2026}'));
    }

    #[test]
    fn chunks_are_reused_while_streaming() {
        let first = "Para one.\n\n```\ncode\n\nmore code\n```\n\nPara two";
        let (chunks, _) = layout_cached(first, 40, &[]);
        assert_eq!(chunks.len(), 3, "the fence's blank line does not split");
        let (again, lines) = layout_cached(&format!("{first} grows"), 40, &chunks);
        assert_eq!(again[0].key, chunks[0].key);
        assert_ne!(again[2].key, chunks[2].key);
        assert_eq!(text_of(&lines).last().map(String::as_str), Some("Para two grows"));
    }

    #[test]
    fn an_endless_paragraph_is_laid_out_in_pieces_while_it_streams() {
        let mut text = String::new();
        for w in 0..3000 {
            text.push_str(&format!("w{w} "));
        }
        let (chunks, lines) = layout_streaming(&text, 60, &[]);
        assert!(chunks.len() >= text.len() / STREAMING_PIECE, "{} pieces", chunks.len());
        // No blank line between the pieces, every word kept, in order, within the width.
        let shown = text_of(&lines);
        assert!(shown.iter().all(|l| !l.trim().is_empty() && display_width(l) <= 60));
        let words: Vec<&str> = shown.iter().flat_map(|l| l.split_whitespace()).collect();
        assert_eq!(words.len(), 3000);
        assert!(words.iter().enumerate().all(|(i, w)| *w == format!("w{i}")));
        // Growing: every piece but the last is reused.
        text.push_str("more words");
        let (again, _) = layout_streaming(&text, 60, &chunks);
        let reused = again.iter().zip(&chunks).filter(|(a, b)| a.key == b.key).count();
        assert_eq!(reused, chunks.len() - 1);
        // Once the reply ends it is laid out whole, as one paragraph.
        let (whole, lines) = layout_cached(&text, 60, &again);
        assert_eq!(whole.len(), 1);
        assert!(text_of(&lines).iter().filter(|l| display_width(l) < 50).count() <= 1, "only the last line is short");
    }

    #[test]
    fn long_lists_and_code_are_not_cut_while_streaming() {
        let list: String = (0..400).map(|i| format!("- item number {i}\n")).collect();
        let code = format!("```rust\n{}```\n", "let x = 1; // a comment\n".repeat(200));
        for text in [list, code] {
            assert!(text.len() > STREAMING_PIECE);
            let (chunks, _) = layout_streaming(&text, 60, &[]);
            assert_eq!(chunks.len(), 1, "{:.40}", text);
        }
    }

    #[test]
    fn anything_lays_out_within_the_width() {
        let nasty = [
            "",
            "```",
            "|",
            "| a |\n|---|\n",
            &"x".repeat(10_000),
            "* * *\n***\n___",
            "> > > deep\n> > > > deeper",
            "1. \n2.\n-\n+ \n* [ ] task\n* [x] done",
            "<b>html</b> &amp; entities &#x1F600;",
            "\u{0}\u{7}\u{1b}[31m",
            "漢字とかなカナ",
            &"> ".repeat(5000),
            &"- ".repeat(5000),
            &"*a".repeat(3000),
            &"[".repeat(3000),
        ];
        for text in nasty {
            for cols in [1, 8, 80] {
                for line in layout(text, cols) {
                    assert!(line.end_col() <= cols.max(8), "{text:?} at {cols}: {:?}", line);
                }
            }
        }
    }
}
