//! Arbitrary text as a URL (they come from configuration files and the wizard): parsing,
//! joining, showing and the provider checks must not panic; whatever is shown must hide
//! credential-looking query values, and a parsed URL must reparse to itself.

#![no_main]

use http::{RedactedUrl, Url};
use libfuzzer_sys::fuzz_target;
use llm::{Provider, ProviderId};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (base, path) = text.split_once('\n').unwrap_or((&text, "/v1/messages"));
    let redacted = RedactedUrl(base).to_string();
    // Masking is idempotent: masked text has nothing left to mask.
    assert_eq!(RedactedUrl(&redacted).to_string(), redacted);
    match Url::parse(base) {
        Ok(url) => {
            let shown = url.to_string();
            let again = Url::parse(&format!("{}://{}{}", url.scheme().as_str(), url.authority(), url.path_and_query()))
                .expect("a parsed URL reparses");
            assert_eq!(again, url);
            let joined = url.join(path);
            assert!(joined.path_and_query().starts_with('/'));
            let _ = (joined.to_string(), url.host_is_loopback_or_private(), url.host_ipv4(), shown);
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
    for id in [ProviderId::Anthropic, ProviderId::OpenAiCompatible] {
        if let Ok(provider) = Provider::new(id, base, Some("key")) {
            let _ = (provider.plain_http_warning(), provider.models_request());
        }
    }
});
