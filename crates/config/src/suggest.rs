//! "Did you mean …?" for misspelt keys, tables and values.

use alloc::vec::Vec;

/// The candidate closest to `word`, if it is close enough to be what the user meant.
///
/// Close enough means: equal ignoring case, `-` versus `_`, a containment like `key` in
/// `api_key`, or a few typos (one for short words, two otherwise). Swapped neighbours such as
/// `modle` for `model` count as a single typo.
pub(crate) fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = normalise(word);
    let limit = if word.len() <= 4 { 1 } else { 2 };
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let normalised = normalise(candidate);
        let distance = if contains(&normalised, &word) || contains(&word, &normalised) {
            // Containment is a strong hint but weaker than a one-letter typo.
            limit
        } else {
            edit_distance(&word, &normalised)
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

fn normalise(word: &str) -> Vec<char> {
    word.chars().map(|c| if c == '_' { '-' } else { c.to_ascii_lowercase() }).collect()
}

/// Whether `needle` (at least three letters, so `a` matches nothing) occurs in `haystack`.
fn contains(haystack: &[char], needle: &[char]) -> bool {
    needle.len() >= 3 && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    // Three rolling rows are enough because a swap looks back two positions.
    let mut before: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = alloc::vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        before = core::mem::replace(&mut previous, current.clone());
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 3] = ["api_key", "model", "base_url"];

    #[test]
    fn finds_typos_and_swaps() {
        assert_eq!(closest("modle", KEYS), Some("model"));
        assert_eq!(closest("mode", KEYS), Some("model"));
        assert_eq!(closest("api-key", KEYS), Some("api_key"));
        assert_eq!(closest("apikey", KEYS), Some("api_key"));
        assert_eq!(closest("API_KEY", KEYS), Some("api_key"));
        assert_eq!(closest("baseurl", KEYS), Some("base_url"));
        assert_eq!(closest("url", KEYS), Some("base_url"));
        assert_eq!(closest("key", KEYS), Some("api_key"));
        assert_eq!(closest("antropic", ["anthropic", "openai"]), Some("anthropic"));
    }

    #[test]
    fn stays_quiet_when_nothing_is_close() {
        assert_eq!(closest("temperature", KEYS), None);
        assert_eq!(closest("x", KEYS), None);
        assert_eq!(closest("", KEYS), None);
    }

    #[test]
    fn distance_counts_swaps_once() {
        let d = |a: &str, b: &str| edit_distance(&normalise(a), &normalise(b));
        assert_eq!(d("modle", "model"), 1);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("kitten", "sitting"), 3);
    }
}
