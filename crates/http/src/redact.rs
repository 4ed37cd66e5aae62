//! Keeping credentials out of logs and screens: URLs are shown with their userinfo
//! (`user:password@`) and the values of credential-looking query parameters (`?api-key=…`,
//! `&token=…`) replaced by [`MASK`].
//!
//! [`Url`](crate::Url)'s `Display` goes through this, and [`RedactedUrl`] does the same for
//! URL text that was never parsed (a configuration value, a rejected URL).

use core::fmt;
use core::ops::Range;

/// What a hidden credential is shown as.
pub const MASK: &str = "***";

/// Fragments of parameter names that carry credentials, matched in lower case with `-`, `_`
/// and `.` removed (`api-key`, `X-Api-Key`, `access_token`, `sig`, `password`, `auth`...).
const CREDENTIAL_FRAGMENTS: [&str; 9] =
    ["key", "token", "secret", "pass", "pwd", "auth", "sig", "credential", "session"];

/// Whether a query parameter called `name` (possibly percent-encoded) probably carries a
/// credential.
pub fn is_credential_param(name: &str) -> bool {
    let mut normal = [0u8; 64];
    let mut len = 0;
    for b in name.bytes().filter(|b| !matches!(b, b'-' | b'_' | b'.')) {
        if len == normal.len() {
            // A name this long is no ordinary parameter: hide its value to be safe.
            return true;
        }
        normal[len] = b.to_ascii_lowercase();
        len += 1;
    }
    let normal = &normal[..len];
    CREDENTIAL_FRAGMENTS.iter().any(|fragment| normal.windows(fragment.len()).any(|w| w == fragment.as_bytes()))
}

/// Calls `found` with the byte range of every credential in URL text, in order: the userinfo
/// before `@` in the authority, and the value of each credential-looking parameter in the
/// query and fragment (`&` and `;` separate parameters). Text without `://` is taken to start
/// at the authority.
pub fn credential_spans(text: &str, mut found: impl FnMut(Range<usize>)) {
    let start = text.find("://").map_or(0, |i| i + 3);
    let authority_end = text[start..].find(['/', '?', '#']).map_or(text.len(), |i| start + i);
    if let Some(at) = text[start..authority_end].rfind('@') {
        found(start..start + at);
    }
    let Some(params) = text[authority_end..].find(['?', '#']).map(|i| authority_end + i + 1) else { return };
    let mut param_start = params;
    for (i, c) in text[params..].char_indices().map(|(i, c)| (params + i, c)).chain([(text.len(), '&')]) {
        if matches!(c, '&' | ';' | '#' | '?') {
            let param = &text[param_start..i];
            if let Some((name, value)) = param.split_once('=')
                && is_credential_param(name)
                && !value.is_empty()
            {
                found(param_start + name.len() + 1..i);
            }
            param_start = i + c.len_utf8();
        }
    }
}

/// URL text (parsed or not, valid or not) formatted without its credentials: each range
/// [`credential_spans`] finds becomes [`MASK`].
///
/// `Debug` shows the same masked text, in quotes.
#[derive(Clone, Copy)]
pub struct RedactedUrl<'a>(pub &'a str);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        let mut shown = 0;
        let mut result = Ok(());
        credential_spans(text, |span| {
            if result.is_ok() {
                result = f.write_str(&text[shown..span.start]).and_then(|()| f.write_str(MASK));
                shown = span.end;
            }
        });
        result?;
        f.write_str(&text[shown..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn shown(text: &str) -> alloc::string::String {
        RedactedUrl(text).to_string()
    }

    #[test]
    fn userinfo_and_credential_parameters_are_masked() {
        assert_eq!(shown("https://me:hunter2@gw.example/v1"), "https://***@gw.example/v1");
        assert_eq!(shown("http://token@10.0.0.1:8080"), "http://***@10.0.0.1:8080");
        assert_eq!(
            shown("https://gw.example/openai?api-version=2024&api-key=sk-123&x=1"),
            "https://gw.example/openai?api-version=2024&api-key=***&x=1"
        );
        assert_eq!(shown("https://h/?X-Api-Key=a;access_token=b"), "https://h/?X-Api-Key=***;access_token=***");
        assert_eq!(shown("https://h/cb#id_token=abc&state=s"), "https://h/cb#id_token=***&state=s");
        assert_eq!(
            shown("https://h/?password=p&sig=s&AUTH=a&secret"),
            "https://h/?password=***&sig=***&AUTH=***&secret"
        );
        // Without a scheme, the text still starts at the authority.
        assert_eq!(shown("user:pw@h/x?key=k"), "***@h/x?key=k".replace("key=k", "key=***"));
    }

    #[test]
    fn ordinary_urls_are_unchanged() {
        for url in ["https://api.anthropic.com", "http://10.0.2.2:8080/v1/models?limit=5&model=x", "", "::", "a?b=&&c"]
        {
            assert_eq!(shown(url), url);
        }
    }

    #[test]
    fn credential_names() {
        for name in ["key", "api-key", "apiKey", "api_key", "token", "access_token", "Authorization", "sig", "pwd"] {
            assert!(is_credential_param(name), "{name}");
        }
        for name in ["model", "limit", "api-version", "q", "stream", ""] {
            assert!(!is_credential_param(name), "{name}");
        }
        assert!(is_credential_param(&"x".repeat(100)));
    }
}
