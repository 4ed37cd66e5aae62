//! A Markdown parser for what language models write: CommonMark's block structure
//! (headings, paragraphs, block quotes, bullet and numbered lists, fenced code, thematic
//! breaks), GitHub tables and task items, and inline emphasis, code, links and images.
//!
//! Hand-written because the maintained parsers do not build here: `pulldown-cmark` 0.13
//! needs `std`, and `markdown` (markdown-rs) 1.0.0 and every 1.0 alpha declare
//! `extern crate std` in `util/gfm_tagfilter.rs`, which fails on the UEFI targets (measured
//! with `cargo xtask build`, December 2026). It covers the subset above; anything else is
//! shown as the text it is.
//!
//! Nothing here recurses more than [`MAX_DEPTH`] levels: deeper nesting is kept as text.

use alloc::string::String;
use alloc::vec::Vec;

/// Deepest nesting of quotes, lists and inline styles parsed as structure.
pub const MAX_DEPTH: usize = 16;
/// How far (in characters) a closing delimiter, a code span's end or a link's parts are
/// looked for: keeps inline parsing linear in the text whatever the input.
const WINDOW: usize = 512;

/// A block of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MdBlock {
    /// Running text.
    Paragraph(Vec<MdInline>),
    /// A heading of level 1 to 6.
    Heading(u8, Vec<MdInline>),
    /// A block quote.
    Quote(Vec<MdBlock>),
    /// A list.
    List(MdList),
    /// A fenced code block: the info string (language) and the code.
    Code(String, String),
    /// A table: column alignments and rows of cells (the first row is the header).
    Table(Vec<Align>, Vec<Vec<Vec<MdInline>>>),
    /// A horizontal rule.
    Rule,
}

/// A list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdList {
    /// The first number of an ordered list; `None` for bullets.
    pub start: Option<u64>,
    /// Items separated by blank lines (shown with space between them).
    pub spread: bool,
    /// The items.
    pub items: Vec<MdItem>,
}

/// A list item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdItem {
    /// `[ ]` / `[x]` task items.
    pub checked: Option<bool>,
    /// Its content.
    pub blocks: Vec<MdBlock>,
}

/// A table column's alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Not given, or left.
    Left,
    /// `:-:`.
    Center,
    /// `-:`.
    Right,
}

/// Inline content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MdInline {
    /// Plain text.
    Text(String),
    /// `**strong**`.
    Strong(Vec<MdInline>),
    /// `*emphasis*`.
    Emphasis(Vec<MdInline>),
    /// `~~struck~~`.
    Strike(Vec<MdInline>),
    /// `` `code` ``.
    Code(String),
    /// `[text](url)`: the text (the address is not shown).
    Link(Vec<MdInline>),
    /// `![alt](url)`.
    Image(String),
    /// A hard line break.
    Break,
}

/// Parses `text` into blocks.
pub fn parse(text: &str) -> Vec<MdBlock> {
    let lines: Vec<&str> = text.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    blocks(&lines, 0)
}

/// Plain text of inline content (table cells measured, alt texts).
pub fn plain_text(inlines: &[MdInline]) -> String {
    let mut out = String::new();
    for i in inlines {
        match i {
            MdInline::Text(t) | MdInline::Code(t) | MdInline::Image(t) => out.push_str(t),
            MdInline::Strong(c) | MdInline::Emphasis(c) | MdInline::Strike(c) | MdInline::Link(c) => {
                out.push_str(&plain_text(c))
            }
            MdInline::Break => out.push(' '),
        }
    }
    out
}

fn indent_of(line: &str) -> usize {
    line.chars().take_while(|&c| c == ' ' || c == '\t').map(|c| if c == '\t' { 4 } else { 1 }).sum()
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// `(char, length, info)` of a code fence opening.
fn fence(line: &str) -> Option<(char, usize, &str)> {
    if indent_of(line) > 3 {
        return None;
    }
    let t = line.trim_start();
    let c = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = t.chars().take_while(|&x| x == c).count();
    let info = t[n..].trim();
    (n >= 3 && !(c == '`' && info.contains('`'))).then_some((c, n, info))
}

fn heading(line: &str) -> Option<(u8, &str)> {
    if indent_of(line) > 3 {
        return None;
    }
    let t = line.trim_start();
    let n = t.chars().take_while(|&c| c == '#').count();
    if !(1..=6).contains(&n) {
        return None;
    }
    let rest = &t[n..];
    if !rest.is_empty() && !rest.starts_with(' ') && !rest.starts_with('\t') {
        return None;
    }
    // Closing #s are not part of the text.
    let text = rest.trim().trim_end_matches('#').trim_end();
    Some((n as u8, if text.is_empty() && rest.trim().starts_with('#') { "" } else { text }))
}

fn is_rule(line: &str) -> bool {
    let t: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    indent_of(line) <= 3 && t.len() >= 3 && ['*', '-', '_'].iter().any(|&m| t.chars().all(|c| c == m))
}

/// A list marker: `(indent, marker width, number, bullet char)`.
fn list_marker(line: &str) -> Option<(usize, usize, Option<u64>, char)> {
    let indent = indent_of(line);
    if indent > 3 {
        return None;
    }
    let t = line.trim_start();
    let (marker_len, number, kind) = match t.chars().next()? {
        c @ ('-' | '*' | '+') => (1, None, c),
        '0'..='9' => {
            let digits = t.chars().take_while(char::is_ascii_digit).count();
            let sep = t[digits..].chars().next()?;
            if digits > 9 || (sep != '.' && sep != ')') {
                return None;
            }
            (digits + 1, t[..digits].parse().ok(), sep)
        }
        _ => return None,
    };
    let rest = &t[marker_len..];
    if !rest.is_empty() && !rest.starts_with(' ') && !rest.starts_with('\t') {
        return None;
    }
    let spaces = if rest.trim().is_empty() { 1 } else { indent_of(rest).clamp(1, 4) };
    Some((indent, marker_len + spaces, number, kind))
}

fn table_delimiter(line: &str) -> Option<Vec<Align>> {
    let t = line.trim();
    if !t.contains('-')
        || !t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
        || !t.contains('|') && !t.starts_with(':') && !t.starts_with('-')
    {
        return None;
    }
    let cells = split_row(t);
    if cells.is_empty() {
        return None;
    }
    cells
        .iter()
        .map(|c| {
            let c = c.trim();
            if c.is_empty() || !c.contains('-') {
                return None;
            }
            Some(match (c.starts_with(':'), c.ends_with(':')) {
                (true, true) => Align::Center,
                (false, true) => Align::Right,
                _ => Align::Left,
            })
        })
        .collect()
}

fn split_row(line: &str) -> Vec<&str> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    // A `\|` is part of a cell; split on the others.
    let mut cells = Vec::new();
    let mut start = 0;
    let bytes = t.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'|' && (i == 0 || bytes[i - 1] != b'\\') {
            cells.push(&t[start..i]);
            start = i + 1;
        }
    }
    cells.push(&t[start..]);
    cells
}

/// Whether `line` starts a block other than a paragraph (so it ends one).
fn interrupts(line: &str) -> bool {
    fence(line).is_some()
        || heading(line).is_some()
        || is_rule(line)
        || line.trim_start().starts_with('>')
        || list_marker(line).is_some_and(|(_, _, n, _)| n.is_none_or(|n| n == 1) && !line.trim()[1..].trim().is_empty())
}

fn blocks(lines: &[&str], depth: usize) -> Vec<MdBlock> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_blank(line) {
            i += 1;
            continue;
        }
        if let Some((c, n, info)) = fence(line) {
            let indent = indent_of(line);
            let mut code = String::new();
            i += 1;
            while i < lines.len() {
                if let Some((c2, n2, rest)) = fence(lines[i])
                    && c2 == c
                    && n2 >= n
                    && rest.is_empty()
                {
                    i += 1;
                    break;
                }
                let l = lines[i];
                let strip = indent_of(l).min(indent);
                code.push_str(skip_columns(l, strip));
                code.push('\n');
                i += 1;
            }
            code.pop();
            out.push(MdBlock::Code(String::from(info), code));
            continue;
        }
        if let Some((level, text)) = heading(line) {
            out.push(MdBlock::Heading(level, inlines(text, depth)));
            i += 1;
            continue;
        }
        if is_rule(line)
            && list_marker(line)
                .is_none_or(|_| line.trim().chars().all(|c| c == '-' || c == ' ' || c == '*' || c == '_'))
        {
            out.push(MdBlock::Rule);
            i += 1;
            continue;
        }
        if line.trim_start().starts_with('>') {
            let mut inner = Vec::new();
            while i < lines.len() && lines[i].trim_start().starts_with('>') {
                let t = lines[i].trim_start();
                let t = &t[1..];
                inner.push(t.strip_prefix(' ').unwrap_or(t));
                i += 1;
            }
            if depth >= MAX_DEPTH {
                out.push(MdBlock::Paragraph(alloc::vec![MdInline::Text(inner.join(" "))]));
            } else {
                out.push(MdBlock::Quote(blocks(&inner, depth + 1)));
            }
            continue;
        }
        if let Some((_, _, number, kind)) = list_marker(line) {
            let (list, used) = list(&lines[i..], depth, number, kind);
            out.push(list);
            i += used;
            continue;
        }
        if i + 1 < lines.len()
            && line.contains('|')
            && let Some(align) = table_delimiter(lines[i + 1])
        {
            let header = split_row(line);
            if header.len() == align.len() {
                let mut rows = alloc::vec![header.iter().map(|c| inlines(c.trim(), depth)).collect::<Vec<_>>()];
                i += 2;
                while i < lines.len() && lines[i].contains('|') && !is_blank(lines[i]) {
                    rows.push(split_row(lines[i]).iter().map(|c| inlines(c.trim(), depth)).collect());
                    i += 1;
                }
                out.push(MdBlock::Table(align, rows));
                continue;
            }
        }
        // A paragraph: until a blank line or another block.
        let mut text = String::from(line.trim_start());
        i += 1;
        while i < lines.len() && !is_blank(lines[i]) && !interrupts(lines[i]) {
            text.push('\n');
            text.push_str(lines[i].trim_start());
            i += 1;
        }
        out.push(MdBlock::Paragraph(inlines(&text, depth)));
    }
    out
}

/// `line` without its first `columns` columns of indentation.
fn skip_columns(line: &str, columns: usize) -> &str {
    let mut seen = 0;
    for (i, c) in line.char_indices() {
        if seen >= columns || (c != ' ' && c != '\t') {
            return &line[i..];
        }
        seen += if c == '\t' { 4 } else { 1 };
    }
    ""
}

/// A list starting at `lines[0]`; returns it and how many lines it used.
fn list(lines: &[&str], depth: usize, number: Option<u64>, kind: char) -> (MdBlock, usize) {
    let mut items = Vec::new();
    let mut spread = false;
    let mut i = 0;
    while i < lines.len() {
        let Some((indent, width, n, k)) = list_marker(lines[i]) else { break };
        if k != kind || n.is_some() != number.is_some() {
            break;
        }
        let content_indent = indent + width;
        let first = lines[i].trim_start();
        let first = &first[(width).min(first.len())..];
        let first = first.trim_start();
        let mut body: Vec<&str> = alloc::vec![first];
        i += 1;
        let mut blank_run = false;
        while i < lines.len() {
            let l = lines[i];
            if is_blank(l) {
                blank_run = true;
                body.push("");
                i += 1;
                continue;
            }
            if indent_of(l) >= content_indent {
                body.push(skip_columns(l, content_indent));
                blank_run = false;
                i += 1;
                continue;
            }
            if !blank_run && !interrupts(l) && list_marker(l).is_none() {
                // A lazy continuation of the item's paragraph.
                body.push(l.trim_start());
                i += 1;
                continue;
            }
            break;
        }
        while body.last().is_some_and(|l| l.is_empty()) {
            body.pop();
            if i < lines.len() && list_marker(lines[i]).is_some() {
                spread = true;
            }
        }
        let (checked, body) = task(body);
        let blocks = if depth >= MAX_DEPTH {
            alloc::vec![MdBlock::Paragraph(alloc::vec![MdInline::Text(body.join(" "))])]
        } else {
            blocks(&body, depth + 1)
        };
        items.push(MdItem { checked, blocks });
        // Blank lines between items.
        while i < lines.len() && is_blank(lines[i]) {
            let next = lines[i..].iter().find(|l| !is_blank(l));
            if next
                .and_then(|l| list_marker(l))
                .is_some_and(|(_, _, n, k)| k == kind && n.is_some() == number.is_some())
            {
                spread = true;
                i += 1;
            } else {
                break;
            }
        }
    }
    (MdBlock::List(MdList { start: number, spread, items }), i.max(1))
}

/// Takes a `[ ]` / `[x]` task marker off an item's first line.
fn task(mut body: Vec<&str>) -> (Option<bool>, Vec<&str>) {
    let Some(first) = body.first() else { return (None, body) };
    for (marker, done) in [("[ ] ", false), ("[x] ", true), ("[X] ", true)] {
        if let Some(rest) = first.strip_prefix(marker) {
            body[0] = rest;
            return (Some(done), body);
        }
    }
    (None, body)
}

/// Parses inline content.
pub fn inlines(text: &str, depth: usize) -> Vec<MdInline> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let flush = |plain: &mut String, out: &mut Vec<MdInline>| {
        if !plain.is_empty() {
            out.push(MdInline::Text(core::mem::take(plain)));
        }
    };
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |k: usize| chars.get(k).map(|&(_, c)| c);
    let byte = |k: usize| chars.get(k).map_or(text.len(), |&(b, _)| b);
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k].1;
        // Escapes.
        if c == '\\' {
            match at(k + 1) {
                Some(n) if n.is_ascii_punctuation() => {
                    plain.push(n);
                    k += 2;
                    continue;
                }
                Some('\n') => {
                    flush(&mut plain, &mut out);
                    out.push(MdInline::Break);
                    k += 2;
                    continue;
                }
                _ => {}
            }
        }
        // Line breaks: two trailing spaces make a hard break, others a space.
        if c == '\n' {
            if plain.ends_with("  ") {
                let kept = plain.trim_end().len();
                plain.truncate(kept);
                flush(&mut plain, &mut out);
                out.push(MdInline::Break);
            } else {
                let kept = plain.trim_end().len();
                plain.truncate(kept);
                plain.push(' ');
            }
            k += 1;
            continue;
        }
        // Code spans.
        if c == '`' {
            let run = chars[k..].iter().take_while(|&&(_, x)| x == '`').count();
            let mut j = k + run;
            let mut found = None;
            let limit = chars.len().min(k + run + WINDOW);
            while j < limit {
                if chars[j].1 == '`' {
                    let r = chars[j..].iter().take_while(|&&(_, x)| x == '`').count();
                    if r == run {
                        found = Some(j);
                        break;
                    }
                    j += r;
                } else {
                    j += 1;
                }
            }
            if let Some(end) = found {
                flush(&mut plain, &mut out);
                let code = text[byte(k + run)..byte(end)].replace('\n', " ");
                let trimmed = if code.len() > 2 && code.starts_with(' ') && code.ends_with(' ') {
                    &code[1..code.len() - 1]
                } else {
                    &code
                };
                out.push(MdInline::Code(String::from(trimmed)));
                k = end + run;
                continue;
            }
            for _ in 0..run {
                plain.push('`');
            }
            k += run;
            continue;
        }
        // Links and images.
        if (c == '[' || (c == '!' && at(k + 1) == Some('['))) && depth < MAX_DEPTH {
            let open = if c == '!' { k + 1 } else { k };
            if let Some((label_end, url_end)) = link_at(&chars, open) {
                flush(&mut plain, &mut out);
                let label = &text[byte(open + 1)..byte(label_end)];
                if c == '!' {
                    out.push(MdInline::Image(String::from(label)));
                } else {
                    out.push(MdInline::Link(inlines(label, depth + 1)));
                }
                k = url_end + 1;
                continue;
            }
        }
        // Autolinks.
        if c == '<'
            && let Some(end) = chars[k..].iter().take(WINDOW).position(|&(_, x)| x == '>' || x == ' ' || x == '\n')
            && chars[k + end].1 == '>'
        {
            let inner = &text[byte(k + 1)..byte(k + end)];
            if inner.starts_with("http://") || inner.starts_with("https://") || inner.starts_with("mailto:") {
                flush(&mut plain, &mut out);
                out.push(MdInline::Link(alloc::vec![MdInline::Text(String::from(inner))]));
                k += end + 1;
                continue;
            }
        }
        // Emphasis: **, __, *, _, ~~.
        if (c == '*' || c == '_' || c == '~') && depth < MAX_DEPTH {
            let run = chars[k..].iter().take_while(|&&(_, x)| x == c).count();
            let before = if k == 0 { None } else { at(k - 1) };
            let after = at(k + run);
            let opens =
                after.is_some_and(|a| !a.is_whitespace()) && (c != '_' || before.is_none_or(|b| !b.is_alphanumeric()));
            let size = if c == '~' { 2 } else { run.min(3) };
            if opens
                && (c != '~' || run == 2)
                && let Some(end) = closing(&chars, k + run, c, size)
            {
                flush(&mut plain, &mut out);
                let inner = inlines(&text[byte(k + size)..byte(end)], depth + 1);
                out.push(match (c, size) {
                    ('~', _) => MdInline::Strike(inner),
                    (_, 1) => MdInline::Emphasis(inner),
                    (_, 2) => MdInline::Strong(inner),
                    _ => MdInline::Strong(alloc::vec![MdInline::Emphasis(inner)]),
                });
                k = end + size;
                continue;
            }
            for _ in 0..run {
                plain.push(c);
            }
            k += run;
            continue;
        }
        plain.push(c);
        k += 1;
    }
    flush(&mut plain, &mut out);
    out
}

/// The closing delimiter of `size` `c`s for emphasis opened before `from`.
fn closing(chars: &[(usize, char)], from: usize, c: char, size: usize) -> Option<usize> {
    let mut j = from;
    let limit = chars.len().min(from + WINDOW);
    while j < limit {
        let x = chars[j].1;
        if x == '`' {
            // Code spans hide delimiters.
            let run = chars[j..].iter().take_while(|&&(_, y)| y == '`').count();
            let rest = chars[j + run..].iter().position(|&(_, y)| y == '`');
            j += run + rest.map_or(0, |r| r + run);
            continue;
        }
        if x == c {
            let run = chars[j..].iter().take_while(|&&(_, y)| y == c).count();
            let before = chars[j - 1].1;
            let after = chars.get(j + run).map(|&(_, y)| y);
            let closes = !before.is_whitespace() && (c != '_' || after.is_none_or(|a| !a.is_alphanumeric()));
            if closes && run >= size && j > from {
                return Some(j + run - size);
            }
            j += run;
            continue;
        }
        j += 1;
    }
    None
}

/// For `[label](url)` starting at `open`: the index of `]` and of `)`.
fn link_at(chars: &[(usize, char)], open: usize) -> Option<(usize, usize)> {
    let mut level = 0usize;
    let mut j = open;
    let label_end = loop {
        if j > open + WINDOW {
            return None;
        }
        let &(_, c) = chars.get(j)?;
        match c {
            '[' => level += 1,
            ']' => {
                level -= 1;
                if level == 0 {
                    break j;
                }
            }
            _ => {}
        }
        j += 1;
    };
    if chars.get(label_end + 1).map(|&(_, c)| c) != Some('(') {
        return None;
    }
    let mut depth = 0usize;
    for (n, &(_, c)) in chars.iter().enumerate().skip(label_end + 2).take(WINDOW) {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some((label_end, n)),
            ')' => depth -= 1,
            '\n' | ' ' if depth == 0 && n > label_end + 2 && c == '\n' => return None,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn t(s: &str) -> MdInline {
        MdInline::Text(String::from(s))
    }

    #[test]
    fn inline_styles() {
        assert_eq!(
            inlines("a **b** *c* `d` [e](http://x) ~~f~~ ***g***", 0),
            vec![
                t("a "),
                MdInline::Strong(vec![t("b")]),
                t(" "),
                MdInline::Emphasis(vec![t("c")]),
                t(" "),
                MdInline::Code(String::from("d")),
                t(" "),
                MdInline::Link(vec![t("e")]),
                t(" "),
                MdInline::Strike(vec![t("f")]),
                t(" "),
                MdInline::Strong(vec![MdInline::Emphasis(vec![t("g")])]),
            ]
        );
        assert_eq!(inlines("snake_case_name and 2 * 3 * 4", 0), vec![t("snake_case_name and 2 * 3 * 4")]);
        assert_eq!(inlines("\\*not\\* `a*b*c`", 0), vec![t("*not* "), MdInline::Code(String::from("a*b*c"))]);
        assert_eq!(inlines("line  \nnext\nsame", 0), vec![t("line"), MdInline::Break, t("next same")]);
        assert_eq!(inlines("![cat](c.png) <https://x.org>", 0)[0], MdInline::Image(String::from("cat")));
        assert_eq!(inlines("unclosed **bold and [link", 0), vec![t("unclosed **bold and [link")]);
    }

    #[test]
    fn blocks_of_every_kind() {
        let doc = "# Title\n\nPara\ncontinued\n\n> quote\n> more\n\n- a\n- b\n  - nested\n\n1. one\n2. two\n\n```rust\nfn x() {}\n```\n\n| A | B |\n|:--|--:|\n| 1 | 2 |\n\n---";
        let b = parse(doc);
        assert_eq!(b[0], MdBlock::Heading(1, vec![t("Title")]));
        assert_eq!(b[1], MdBlock::Paragraph(vec![t("Para continued")]));
        assert!(matches!(&b[2], MdBlock::Quote(inner) if inner == &[MdBlock::Paragraph(vec![t("quote more")])]));
        let MdBlock::List(list) = &b[3] else { panic!("{:?}", b[3]) };
        assert_eq!((list.start, list.items.len()), (None, 2));
        assert!(matches!(&list.items[1].blocks[1], MdBlock::List(_)), "{:?}", list.items[1]);
        let MdBlock::List(numbered) = &b[4] else { panic!() };
        assert_eq!(numbered.start, Some(1));
        assert_eq!(b[5], MdBlock::Code(String::from("rust"), String::from("fn x() {}")));
        let MdBlock::Table(align, rows) = &b[6] else { panic!("{:?}", b[6]) };
        assert_eq!(align, &[Align::Left, Align::Right]);
        assert_eq!(rows.len(), 2);
        assert_eq!(b[7], MdBlock::Rule);
    }

    #[test]
    fn fences_keep_everything_inside() {
        let b = parse("```\n# not a heading\n\n- not a list\n```");
        assert_eq!(b, vec![MdBlock::Code(String::new(), String::from("# not a heading\n\n- not a list"))]);
        let unclosed = parse("~~~py\nprint(1)");
        assert_eq!(unclosed, vec![MdBlock::Code(String::from("py"), String::from("print(1)"))]);
    }

    #[test]
    fn tasks_and_spread_lists() {
        let MdBlock::List(list) = &parse("- [x] done\n\n- [ ] todo")[0] else { panic!() };
        assert!(list.spread);
        assert_eq!(list.items[0].checked, Some(true));
        assert_eq!(list.items[1].checked, Some(false));
    }

    #[test]
    fn hostile_input_stays_bounded() {
        for text in [
            "> ".repeat(10_000),
            "- ".repeat(10_000),
            "*".repeat(10_000),
            "[".repeat(10_000) + &"]".repeat(10_000),
            "**a ".repeat(5_000),
            "`".repeat(10_001),
            "|".repeat(5_000) + "\n" + &"-|".repeat(2_500),
        ] {
            let _ = parse(&text);
        }
    }
}
