//! Syntax colouring for code blocks: keywords, strings, numbers and comments for the
//! languages models write most (Rust, Python, C/C++, JavaScript/TypeScript, shell,
//! JSON).
//!
//! A small lexer per language family rather than a highlighting crate: the maintained
//! ones (syntect, tree-sitter) need `std`, regex engines or C, none of which builds for
//! the UEFI targets; colouring four token classes needs none of that.

use alloc::vec::Vec;

use super::layout::Role;

/// The languages told apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// Rust.
    Rust,
    /// Python.
    Python,
    /// C and C++.
    C,
    /// JavaScript and TypeScript.
    JavaScript,
    /// POSIX shells.
    Shell,
    /// JSON.
    Json,
}

impl Language {
    /// The language a fence's info string names (`rust`, `py`, `ts`...), if known.
    pub fn from_fence(info: &str) -> Option<Language> {
        let name = info.split(|c: char| c.is_whitespace() || c == ',' || c == '{').next().unwrap_or("");
        let name = name.to_ascii_lowercase();
        Some(match name.as_str() {
            "rust" | "rs" => Language::Rust,
            "python" | "py" | "python3" | "py3" => Language::Python,
            "c" | "h" | "cpp" | "c++" | "cc" | "cxx" | "hpp" | "hh" | "objc" => Language::C,
            "javascript" | "js" | "jsx" | "mjs" | "cjs" | "typescript" | "ts" | "tsx" => Language::JavaScript,
            "sh" | "bash" | "shell" | "zsh" | "console" | "shellscript" => Language::Shell,
            "json" | "jsonc" | "json5" => Language::Json,
            _ => return None,
        })
    }

    fn keywords(self) -> &'static [&'static str] {
        match self {
            Language::Rust => &[
                "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
                "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
                "return", "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
                "where", "while", "Some", "None", "Ok", "Err",
            ],
            Language::Python => &[
                "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else",
                "except", "False", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "None",
                "nonlocal", "not", "or", "pass", "raise", "return", "True", "try", "while", "with", "yield", "self",
            ],
            Language::C => &[
                "auto",
                "bool",
                "break",
                "case",
                "char",
                "class",
                "const",
                "constexpr",
                "continue",
                "default",
                "delete",
                "do",
                "double",
                "else",
                "enum",
                "extern",
                "false",
                "float",
                "for",
                "goto",
                "if",
                "include",
                "define",
                "inline",
                "int",
                "long",
                "namespace",
                "new",
                "nullptr",
                "private",
                "public",
                "protected",
                "return",
                "short",
                "signed",
                "sizeof",
                "static",
                "struct",
                "switch",
                "template",
                "this",
                "true",
                "typedef",
                "typename",
                "union",
                "unsigned",
                "using",
                "virtual",
                "void",
                "volatile",
                "while",
                "auto",
                "NULL",
            ],
            Language::JavaScript => &[
                "async",
                "await",
                "break",
                "case",
                "catch",
                "class",
                "const",
                "continue",
                "default",
                "delete",
                "do",
                "else",
                "export",
                "extends",
                "false",
                "finally",
                "for",
                "from",
                "function",
                "if",
                "import",
                "in",
                "instanceof",
                "interface",
                "let",
                "new",
                "null",
                "of",
                "return",
                "static",
                "super",
                "switch",
                "this",
                "throw",
                "true",
                "try",
                "type",
                "typeof",
                "undefined",
                "var",
                "void",
                "while",
                "yield",
                "enum",
                "implements",
                "private",
                "public",
                "readonly",
            ],
            Language::Shell => &[
                "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "in",
                "function", "return", "export", "local", "echo", "cd", "sudo", "exit", "set", "unset", "source",
            ],
            Language::Json => &["true", "false", "null"],
        }
    }

    fn line_comment(self) -> &'static [&'static str] {
        match self {
            Language::Rust | Language::C | Language::JavaScript => &["//"],
            Language::Python | Language::Shell => &["#"],
            Language::Json => &[],
        }
    }

    fn block_comments(self) -> bool {
        matches!(self, Language::Rust | Language::C | Language::JavaScript)
    }

    fn quotes(self) -> &'static [char] {
        match self {
            Language::Rust | Language::C | Language::Json => &['"'],
            Language::Python | Language::Shell => &['"', '\''],
            Language::JavaScript => &['"', '\'', '`'],
        }
    }
}

/// A run of code in one role: `(start byte, end byte, role)`.
pub type Token = (usize, usize, Role);

/// Splits `code` (several lines) into coloured runs covering every byte, in order.
pub fn highlight(code: &str, language: Option<Language>) -> Vec<Token> {
    let Some(lang) = language else { return alloc::vec![(0, code.len(), Role::Code)] };
    let bytes = code.as_bytes();
    let mut tokens: Vec<Token> = Vec::new();
    let push = |tokens: &mut Vec<Token>, start: usize, end: usize, role: Role| {
        if start >= end {
            return;
        }
        match tokens.last_mut() {
            Some(last) if last.2 == role && last.1 == start => last.1 = end,
            _ => tokens.push((start, end, role)),
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let rest = &code[i..];
        // Comments.
        if lang.line_comment().iter().any(|c| rest.starts_with(c))
            && !(lang == Language::Shell && i > 0 && !bytes[i - 1].is_ascii_whitespace())
        {
            let end = rest.find('\n').map_or(code.len(), |n| i + n);
            push(&mut tokens, i, end, Role::Comment);
            i = end;
            continue;
        }
        if lang.block_comments() && rest.starts_with("/*") {
            let end = rest[2..].find("*/").map_or(code.len(), |n| i + 2 + n + 2);
            push(&mut tokens, i, end, Role::Comment);
            i = end;
            continue;
        }
        // Strings (Python's triple quotes span lines).
        if lang == Language::Python && (rest.starts_with("\"\"\"") || rest.starts_with("'''")) {
            let fence = &rest[..3];
            let end = rest[3..].find(fence).map_or(code.len(), |n| i + 3 + n + 3);
            push(&mut tokens, i, end, Role::String);
            i = end;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if lang.quotes().contains(&c) {
            let end = string_end(code, i, c);
            push(&mut tokens, i, end, Role::String);
            i = end;
            continue;
        }
        if lang == Language::Rust && c == '\'' {
            // A char literal ('a', '\n') but not a lifetime ('a).
            let lit = rest.char_indices().skip(1).take(4).find(|&(_, ch)| ch == '\'').map(|(n, _)| n);
            if let Some(n) = lit.filter(|&n| n > 1 || rest[1..].starts_with('\\')) {
                push(&mut tokens, i, i + n + 1, Role::String);
                i += n + 1;
                continue;
            }
        }
        // Numbers (not inside identifiers).
        if c.is_ascii_digit() && (i == 0 || !is_ident(bytes[i - 1] as char)) {
            let len = rest
                .char_indices()
                .find(|&(_, ch)| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '.'))
                .map_or(rest.len(), |(n, _)| n);
            push(&mut tokens, i, i + len, Role::Number);
            i += len;
            continue;
        }
        if lang == Language::Json && c == '-' && rest[1..].starts_with(|d: char| d.is_ascii_digit()) {
            push(&mut tokens, i, i + 1, Role::Number);
            i += 1;
            continue;
        }
        // Words: keywords, or plain identifiers.
        if is_ident(c) || (lang == Language::Shell && c == '$') {
            let len = rest.char_indices().skip(1).find(|&(_, ch)| !is_ident(ch)).map_or(rest.len(), |(n, _)| n);
            let word = &rest[..len];
            let role = if lang.keywords().contains(&word) || (lang == Language::Shell && c == '$') {
                Role::Keyword
            } else if lang == Language::Rust && rest[len..].starts_with('!') {
                // Macros (println!).
                Role::Keyword
            } else {
                Role::Code
            };
            push(&mut tokens, i, i + len, role);
            i += len;
            continue;
        }
        if lang == Language::C && c == '#' {
            let len =
                rest.char_indices().skip(1).find(|&(_, ch)| !ch.is_ascii_alphabetic()).map_or(rest.len(), |(n, _)| n);
            push(&mut tokens, i, i + len, Role::Keyword);
            i += len;
            continue;
        }
        push(&mut tokens, i, i + c.len_utf8(), Role::Code);
        i += c.len_utf8();
    }
    tokens
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where the string opened by `quote` at `start` ends (after its closing quote, or at the
/// end of the line for an unterminated one; backtick strings may span lines).
fn string_end(code: &str, start: usize, quote: char) -> usize {
    let mut escaped = false;
    for (n, ch) in code[start + quote.len_utf8()..].char_indices() {
        let at = start + quote.len_utf8() + n;
        if escaped {
            escaped = false;
            continue;
        }
        match ch {
            '\\' => escaped = true,
            '\n' if quote != '`' => return at,
            ch if ch == quote => return at + ch.len_utf8(),
            _ => {}
        }
    }
    code.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(code: &str, lang: Language) -> Vec<(&str, Role)> {
        highlight(code, Some(lang))
            .into_iter()
            .filter(|t| t.2 != Role::Code)
            .map(|(s, e, r)| (&code[s..e], r))
            .collect()
    }

    #[test]
    fn rust() {
        let r = roles(
            "fn main() { let x = 42; // hi\n println!(\"a \\\" b\"); let c = 'c'; fn f<'a>() {} }",
            Language::Rust,
        );
        assert!(r.contains(&("fn", Role::Keyword)));
        assert!(r.contains(&("42", Role::Number)));
        assert!(r.contains(&("// hi", Role::Comment)));
        assert!(r.contains(&("\"a \\\" b\"", Role::String)));
        assert!(r.contains(&("'c'", Role::String)));
        assert!(r.contains(&("println", Role::Keyword)));
        assert!(!r.iter().any(|(t, _)| t.contains("'a>")), "a lifetime is not a char: {r:?}");
    }

    #[test]
    fn python_and_shell() {
        let r = roles("def f(x):\n    \"\"\"doc\nmore\"\"\"\n    return x1 # done", Language::Python);
        assert!(r.contains(&("def", Role::Keyword)));
        assert!(r.contains(&("\"\"\"doc\nmore\"\"\"", Role::String)));
        assert!(r.contains(&("# done", Role::Comment)));
        assert!(!r.iter().any(|(t, _)| *t == "1"), "digits inside names are not numbers");
        let s = roles("echo \"$HOME\" # c\nls a#b", Language::Shell);
        assert!(s.contains(&("# c", Role::Comment)));
        assert!(!s.iter().any(|(t, r)| *r == Role::Comment && t.contains("#b")));
    }

    #[test]
    fn c_js_json() {
        let c = roles("#include <stdio.h>\n/* a\n b */ int main() { return 0x1F; }", Language::C);
        assert!(c.contains(&("#include", Role::Keyword)));
        assert!(c.contains(&("/* a\n b */", Role::Comment)));
        assert!(c.contains(&("0x1F", Role::Number)));
        let j = roles("const s = `a\n${b}`; // x", Language::JavaScript);
        assert!(j.contains(&("`a\n${b}`", Role::String)));
        let n = roles("{\"a\": [1, -2.5e3, true, null]}", Language::Json);
        assert!(
            n.contains(&("\"a\"", Role::String))
                && n.contains(&("true", Role::Keyword))
                && n.contains(&("-2.5e3", Role::Number))
        );
    }

    #[test]
    fn covers_every_byte_of_any_input() {
        for lang in
            [Language::Rust, Language::Python, Language::C, Language::JavaScript, Language::Shell, Language::Json]
        {
            for code in ["", "\"unterminated", "/* open", "'", "r#\"x\"#", "é'ü'\n\t0é", "\"\"\"", "#", "'\\"] {
                let tokens = highlight(code, Some(lang));
                let mut at = 0;
                for (s, e, _) in &tokens {
                    assert_eq!(*s, at, "{lang:?} {code:?}");
                    assert!(e > s && code.is_char_boundary(*e));
                    at = *e;
                }
                assert_eq!(at, code.len(), "{lang:?} {code:?}");
            }
        }
        assert_eq!(Language::from_fence("TypeScript {.x}"), Some(Language::JavaScript));
        assert_eq!(Language::from_fence("cobol"), None);
    }
}
