//! Typed failures of a chat request, each with a sentence for the user.

use alloc::string::String;
use core::fmt;

/// Longest provider message quoted to the user; API error messages are usually one line.
const MAX_QUOTED_CHARS: usize = 300;

/// What went wrong, and what the user can do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// HTTP 400: the provider rejected the request; `message` is its explanation.
    BadRequest,
    /// HTTP 401 or 403: the API key is missing, wrong or lacks permission.
    Unauthorized,
    /// HTTP 404: unknown model or wrong `base_url`.
    NotFound,
    /// HTTP 429: too many requests or tokens; wait `retry_after` seconds when given.
    RateLimited {
        /// The `Retry-After` header in seconds.
        retry_after: Option<u64>,
    },
    /// HTTP 500, 502, 503, 529 and friends: trouble on the provider's side.
    ProviderTrouble,
    /// Any other unexpected status.
    UnexpectedStatus,
    /// The provider reported an error in the middle of the reply (an SSE `error` event).
    StreamError,
    /// The response could not be understood at all (not JSON, not an event stream).
    Malformed,
    /// The connection ended before the reply was complete; any text received is kept.
    Cut,
    /// The reply finished without any text.
    EmptyReply,
    /// The request could not be built: bad `base_url`, a key with line breaks...
    InvalidSettings,
}

/// A failed or interrupted reply: what happened, from which provider, with the details
/// the provider gave. `Display` is the sentence shown on screen and logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmError {
    /// The provider's name as people write it ("Anthropic", "OpenAI-compatible server").
    pub provider: String,
    /// What went wrong.
    pub kind: ErrorKind,
    /// The HTTP status, when one was received.
    pub status: Option<u16>,
    /// The provider's own explanation (its error message, or our detail for
    /// malformed streams), clipped; never contains the API key because the key
    /// is only in request headers, which are never echoed here.
    pub message: String,
}

impl LlmError {
    /// An error of `kind` from `provider` with a detail message (clipped to a readable length).
    pub fn new(provider: &str, kind: ErrorKind, status: Option<u16>, message: &str) -> Self {
        LlmError { provider: String::from(provider), kind, status, message: clip(message) }
    }

    /// The error for an HTTP status that is not a success, with the provider's message.
    pub fn from_status(provider: &str, status: u16, retry_after: Option<u64>, message: &str) -> Self {
        let kind = match status {
            400 | 413 | 422 => ErrorKind::BadRequest,
            401 | 403 => ErrorKind::Unauthorized,
            404 => ErrorKind::NotFound,
            429 => ErrorKind::RateLimited { retry_after },
            500..=599 => ErrorKind::ProviderTrouble,
            _ => ErrorKind::UnexpectedStatus,
        };
        LlmError::new(provider, kind, Some(status), message)
    }

    /// Whether trying the same request again later may work (rate limits, overload,
    /// dropped connections), as opposed to needing a change of settings.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::RateLimited { .. } | ErrorKind::ProviderTrouble | ErrorKind::Cut | ErrorKind::StreamError
        )
    }
}

impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.provider;
        let status = |f: &mut fmt::Formatter<'_>| match self.status {
            Some(code) => write!(f, " (HTTP {code})"),
            None => Ok(()),
        };
        match &self.kind {
            ErrorKind::BadRequest => {
                write!(f, "{p} rejected the request")?;
                status(f)?;
            }
            ErrorKind::Unauthorized => {
                write!(f, "{p} refused the API key")?;
                status(f)?;
                f.write_str(": check api_key in config.toml")?;
            }
            ErrorKind::NotFound => {
                write!(f, "{p} does not know this model or address")?;
                status(f)?;
                f.write_str(": check model and base_url in config.toml")?;
            }
            ErrorKind::RateLimited { retry_after } => {
                write!(f, "{p} is rate limiting requests")?;
                status(f)?;
                match retry_after {
                    Some(seconds) => write!(f, "; try again in {seconds} s")?,
                    None => f.write_str("; try again shortly")?,
                }
            }
            ErrorKind::ProviderTrouble => {
                write!(f, "{p} is having trouble")?;
                status(f)?;
                f.write_str("; try again shortly")?;
            }
            ErrorKind::UnexpectedStatus => {
                write!(f, "{p} answered with an unexpected status")?;
                status(f)?;
            }
            ErrorKind::StreamError => write!(f, "{p} stopped the reply with an error")?,
            ErrorKind::Malformed => write!(f, "{p} sent a response moteOS cannot read")?,
            ErrorKind::Cut => write!(f, "the connection to {p} ended before the reply was complete")?,
            ErrorKind::EmptyReply => write!(f, "{p} sent an empty reply")?,
            ErrorKind::InvalidSettings => write!(f, "cannot send to {p}")?,
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// The message cut to a readable length on a character boundary, control characters
/// replaced so a hostile server cannot rewrite the screen.
/// `message` cut to [`MAX_QUOTED_CHARS`] characters (with `…`), controls made spaces: text
/// from a server is shown and logged only like this.
pub(crate) fn clip(message: &str) -> String {
    let mut out = String::new();
    for (i, c) in message.trim().chars().enumerate() {
        if i == MAX_QUOTED_CHARS {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    #[test]
    fn statuses_map_to_kinds_and_sentences() {
        let e = LlmError::from_status("Anthropic", 401, None, "invalid x-api-key");
        assert_eq!(e.kind, ErrorKind::Unauthorized);
        assert_eq!(
            e.to_string(),
            "Anthropic refused the API key (HTTP 401): check api_key in config.toml: invalid x-api-key"
        );
        let e = LlmError::from_status("OpenAI", 429, Some(20), "");
        assert_eq!(e.to_string(), "OpenAI is rate limiting requests (HTTP 429); try again in 20 s");
        assert!(e.is_transient());
        for code in [500, 502, 503, 529] {
            let e = LlmError::from_status("Anthropic", code, None, "Overloaded");
            assert_eq!(e.kind, ErrorKind::ProviderTrouble);
            assert!(e.to_string().contains(&format!("HTTP {code}")));
        }
        assert_eq!(LlmError::from_status("Groq", 404, None, "").kind, ErrorKind::NotFound);
        assert_eq!(LlmError::from_status("xAI", 400, None, "").kind, ErrorKind::BadRequest);
        assert_eq!(LlmError::from_status("xAI", 418, None, "").kind, ErrorKind::UnexpectedStatus);
        assert!(!LlmError::from_status("xAI", 403, None, "").is_transient());
    }

    #[test]
    fn provider_messages_are_clipped_and_defanged() {
        let long = "x".repeat(1000);
        let e = LlmError::new("OpenAI", ErrorKind::BadRequest, Some(400), &long);
        assert_eq!(e.message.chars().count(), MAX_QUOTED_CHARS + 1);
        let e = LlmError::new("OpenAI", ErrorKind::BadRequest, Some(400), "bad\r\n\x1b[2Jthing");
        assert_eq!(e.message, "bad   [2Jthing");
    }
}
