//! Saving the configuration into the user's own file without losing its comments.
//!
//! `toml_edit` is the crate made for this, but it does not build without `std` (measured on
//! 0.25.20, the newest release on 2026-12-04: no `#![no_std]`, `std::` paths throughout and
//! `indexmap` with its `std` feature), and this crate runs inside the UEFI image. So the edit is
//! made on the text itself, at byte spans reported by `toml_parser` (the parser under `toml`,
//! already used here): only values that changed are rewritten, new keys go after the last key
//! of their table (new tables at the end of the file), keys whose value was unset are removed.
//! Every result is read back and compared with the configuration; if it differs (a layout this
//! editing does not handle, such as a provider written inside an inline `providers = { … }`
//! that must be deleted), the file is written fresh by [`MoteConfig::to_toml`] instead.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use crate::model::MoteConfig;
use crate::outline::Outline;
use crate::source::strip_bom;

/// The text to save for `config`, keeping the layout of `previous` (the file it was read from).
///
/// With `previous` a file that [`crate::parse`] reads, its comments, blank lines, key order and
/// formatting are kept and only what differs changes; with `None` or an unreadable file the
/// result is [`MoteConfig::to_toml`]. Either way [`crate::parse`] reads the result back to a
/// value equal to `config`.
pub fn write_back(previous: Option<&str>, config: &MoteConfig) -> String {
    let fresh = config.to_toml();
    let Some(previous) = previous else { return fresh };
    let text = strip_bom(previous);
    let Ok(old) = crate::parse(text) else { return fresh };
    let mut edited = String::with_capacity(previous.len() + 64);
    if text.len() != previous.len() {
        edited.push('\u{feff}');
    }
    edited.push_str(&edit(text, &old, config));
    match crate::parse(&edited) {
        Ok(again) if again == *config => edited,
        _ => fresh,
    }
}

/// A replacement of `range` (empty for an insertion) by `text`.
struct Edit {
    range: Range<usize>,
    text: String,
}

/// The settings of `config` as `(path, TOML value text)`, in the order `to_toml` writes them.
fn canonical(config: &MoteConfig) -> Vec<(Vec<String>, String)> {
    let text = config.to_toml();
    let outline = Outline::of(&text);
    outline.entries.iter().map(|e| (e.path.clone(), text[e.value.clone()].to_owned())).collect()
}

fn lookup<'a>(settings: &'a [(Vec<String>, String)], path: &[String]) -> Option<&'a str> {
    settings.iter().find(|(p, _)| p == path).map(|(_, v)| v.as_str())
}

fn edit(text: &str, old: &MoteConfig, new: &MoteConfig) -> String {
    let file = Outline::of(text);
    let (old_values, new_values) = (canonical(old), canonical(new));
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut edits = Vec::new();
    let mut removed_entries = Vec::new();

    // Provider tables that were removed: a `[providers.NAME]` header alone already sets one up.
    let provider_tables = |values: &[(Vec<String>, String)]| {
        let mut tables: Vec<Vec<String>> = Vec::new();
        for (path, _) in values {
            if path.len() > 2 && path[0] == "providers" && !tables.iter().any(|t| t[..] == path[..2]) {
                tables.push(path[..2].to_vec());
            }
        }
        tables
    };
    let new_tables = provider_tables(&new_values);
    let removed: Vec<Vec<String>> =
        provider_tables(&old_values).into_iter().filter(|t| !new_tables.contains(t)).collect();
    for table in &removed {
        for (index, section) in file.sections.iter().enumerate().filter(|(_, s)| s.path.starts_with(table)) {
            // From the header to the end of the section's last line with a setting.
            let end = file
                .entries
                .iter()
                .filter(|e| e.section == Some(index))
                .map(|e| line_end(text, e.value.end))
                .fold(section.header_end, usize::max);
            edits.push(Edit { range: section.start..end, text: String::new() });
        }
        removed_entries.extend((0..file.entries.len()).filter(|&i| file.entries[i].path.starts_with(table)));
    }
    let is_removed = |path: &[String]| removed.iter().any(|t| path.starts_with(t));

    // Values that changed or appeared.
    let mut additions: Vec<(Vec<String>, String)> = Vec::new();
    for (path, value) in &new_values {
        let before = lookup(&old_values, path);
        let is_version = path.len() == 1 && path[0] == "version";
        match file.entry(path) {
            // `version = 1` reads as version 2 after migration; the file must say 2 as well.
            Some(i)
                if before != Some(value.as_str())
                    || (is_version && text.get(file.entries[i].value.clone()) != Some(value.as_str())) =>
            {
                edits.push(Edit { range: file.entries[i].value.clone(), text: value.clone() })
            }
            Some(_) => {}
            // A file without `version` is version 1 even if nothing else changes: say so.
            None if before != Some(value.as_str()) || is_version => additions.push((path.clone(), value.clone())),
            None => {}
        }
    }
    // Values that were unset.
    for (path, _) in &old_values {
        if lookup(&new_values, path).is_none() && !is_removed(path) {
            removed_entries.extend(file.entry(path));
        }
    }
    removals(text, &file, &removed_entries, &mut edits);
    insertions(text, &file, &additions, newline, &mut edits);
    apply(text, edits)
}

/// Deletes entries: whole lines outside inline tables; inside one, the entry with one comma.
fn removals(text: &str, file: &Outline, removed: &[usize], edits: &mut Vec<Edit>) {
    for &i in removed {
        let entry = &file.entries[i];
        if entry.inline.is_none() {
            edits.push(Edit {
                range: line_start(text, entry.key_start)..line_end(text, entry.value.end),
                text: String::new(),
            });
        }
    }
    for inline in &file.inlines {
        let list = &inline.entries;
        let gone = |k: usize| removed.contains(&list[k]);
        // A removed run at the end takes the comma before it; any other removed entry takes
        // everything up to the next key, comma included.
        let mut tail = list.len();
        while tail > 0 && gone(tail - 1) {
            tail -= 1;
        }
        for k in 0..tail {
            if gone(k) {
                let range = file.entries[list[k]].key_start..file.entries[list[k + 1]].key_start;
                edits.push(Edit { range, text: String::new() });
            }
        }
        if tail < list.len() {
            let last = &file.entries[list[list.len() - 1]];
            let start = match tail {
                0 => file.entries[list[0]].key_start,
                _ => file.entries[list[tail - 1]].value.end,
            };
            edits.push(Edit { range: start..last.value.end, text: String::new() });
        }
    }
}

/// Adds new keys at the end of their table, or new tables at the end of the file.
fn insertions(text: &str, file: &Outline, additions: &[(Vec<String>, String)], nl: &str, edits: &mut Vec<Edit>) {
    let mut tables: Vec<Vec<String>> = Vec::new();
    for (path, _) in additions {
        let table = path[..path.len() - 1].to_vec();
        if !tables.contains(&table) {
            tables.push(table);
        }
    }
    let mut appended = String::new();
    for table in tables {
        let keys: Vec<(&str, &str)> = additions
            .iter()
            .filter(|(p, _)| p[..p.len() - 1] == table[..])
            .map(|(p, v)| (p[p.len() - 1].as_str(), v.as_str()))
            .collect();
        let lines = |prefix: &[String]| {
            let mut out = String::new();
            for (key, value) in &keys {
                for part in prefix {
                    out.push_str(&key_text(part));
                    out.push('.');
                }
                out.push_str(&key_text(key));
                out.push_str(" = ");
                out.push_str(value);
                out.push_str(nl);
            }
            out
        };
        let top_level = |e: &&crate::outline::Entry| e.inline.is_none();
        if let Some(inline) = file.inlines.iter().find(|t| t.path == table) {
            let mut added = String::new();
            for (key, value) in &keys {
                added.push_str(if added.is_empty() && inline.entries.is_empty() { " " } else { ", " });
                added.push_str(&key_text(key));
                added.push_str(" = ");
                added.push_str(value);
            }
            let at = match inline.entries.last() {
                Some(&last) => file.entries[last].value.end,
                None => {
                    added.push(' ');
                    inline.close
                }
            };
            edits.push(Edit { range: at..at, text: added });
        } else if let Some((index, section)) = file.sections.iter().enumerate().find(|(_, s)| s.path == table) {
            let last = file.entries.iter().filter(top_level).rfind(|e| e.section == Some(index));
            let at = last.map_or(section.header_end, |e| line_end(text, e.value.end));
            edits.push(Edit { range: at..at, text: line_break_before(text, at, nl) + &lines(&[]) });
        } else if table.is_empty() {
            let root_last = file.entries.iter().filter(top_level).rfind(|e| e.section.is_none());
            let edit = match (root_last, file.sections.first()) {
                (Some(e), _) => {
                    let at = line_end(text, e.value.end);
                    Edit { range: at..at, text: line_break_before(text, at, nl) + &lines(&[]) }
                }
                (None, Some(first)) => {
                    let at = comments_above(text, first.start);
                    Edit { range: at..at, text: lines(&[]) + nl }
                }
                (None, None) => {
                    Edit { range: text.len()..text.len(), text: line_break_before(text, text.len(), nl) + &lines(&[]) }
                }
            };
            edits.push(edit);
        } else if let Some(e) = file.entries.iter().filter(top_level).rfind(|e| {
            // Only keys that are dotted within their own section; a table implied by a deeper
            // header (`[chat.x.y]` for `chat`) gets a header of its own below.
            let header = e.section.map_or(0, |s| file.sections[s].path.len());
            header <= table.len() && e.path.len() > table.len() && e.path.starts_with(&table)
        }) {
            // A table written with dotted keys (`anthropic.model = …`): continue in that style.
            let header = e.section.map_or(0, |s| file.sections[s].path.len());
            let at = line_end(text, e.value.end);
            edits.push(Edit { range: at..at, text: line_break_before(text, at, nl) + &lines(&table[header..]) });
        } else {
            appended.push_str(nl);
            appended.push('[');
            for (i, part) in table.iter().enumerate() {
                if i > 0 {
                    appended.push('.');
                }
                appended.push_str(&key_text(part));
            }
            appended.push(']');
            appended.push_str(nl);
            appended.push_str(&lines(&[]));
        }
    }
    if !appended.is_empty() {
        let at = text.len();
        edits.push(Edit { range: at..at, text: line_break_before(text, at, nl) + &appended });
    }
}

/// A line break when inserting at `at` would otherwise continue the line before it.
fn line_break_before(text: &str, at: usize, nl: &str) -> String {
    if at == 0 || text[..at].ends_with('\n') { String::new() } else { nl.to_owned() }
}

/// The start of the comment lines directly above `line` (no blank line between), so a key added
/// before a table does not separate the table from its comment.
fn comments_above(text: &str, mut line: usize) -> usize {
    while line > 0 {
        let start = line_start(text, line - 1);
        if !text[start..line].trim_start().starts_with('#') {
            break;
        }
        line = start;
    }
    line
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

/// A key as TOML: bare when it can be, quoted otherwise.
fn key_text(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return key.to_owned();
    }
    let mut out = String::from("\"");
    for c in key.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&alloc::format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Applies non-overlapping edits in order; an edit inside one already applied is dropped (it
/// was inside a removed table), and the final check in [`write_back`] catches anything else.
fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    // Stable: insertions at one place keep the order they were made in.
    edits.sort_by_key(|e| e.range.start);
    let mut out = String::with_capacity(text.len() + 64);
    let mut cursor = 0;
    for edit in edits {
        if edit.range.start < cursor {
            continue;
        }
        out.push_str(&text[cursor..edit.range.start]);
        out.push_str(&edit.text);
        cursor = edit.range.end;
    }
    out.push_str(&text[cursor..]);
    out
}
