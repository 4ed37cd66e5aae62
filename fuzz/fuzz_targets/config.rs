//! Arbitrary bytes as `config.toml`: parsing, validation, the summary, the redacted form and
//! writing back must not panic; a file that parses must survive a write/read round trip (both
//! `to_toml` and `write_back` over the file itself, unchanged and after a change), and no
//! message may show an API key it holds. `write_back` over any text must read back equal.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match config::parse_file(data) {
        Ok(parsed) => {
            let config = parsed.config;
            for problem in config.validate().iter().chain(&parsed.warnings) {
                let _ = problem.to_string();
            }
            let summary = config.to_string();
            let again = config::parse(&config.to_toml()).expect("what moteOS writes, it reads back");
            assert_eq!(again, config, "the round trip changed the configuration");
            if let Ok(text) = core::str::from_utf8(data) {
                write_back_reads_back(Some(text), &config);
                let mut changed = config.clone();
                let _ = config::set(&mut changed, "providers.local.temperature", "0.5");
                let _ = config::set(&mut changed, "chat.theme", "light");
                let _ = config::set(&mut changed, "providers.anthropic.model", "");
                config::forget_keys(&mut changed);
                write_back_reads_back(Some(text), &changed);
            }
            let redacted = config.redacted();
            // What the same configuration shows with no keys at all: a "key" that is also
            // part of public text (`api.anthropic.com` is in the default URL) is no leak.
            let mut keyless = config.clone();
            config::forget_keys(&mut keyless);
            let (keyless_summary, keyless_redacted) = (keyless.to_string(), keyless.redacted());
            for kind in config::ProviderId::CLOUD {
                if let Some(cloud) = config.providers.cloud(kind)
                    && cloud.api_key.chars().count() >= 16
                {
                    let key = &cloud.api_key;
                    assert!(!summary.contains(key) || keyless_summary.contains(key), "the summary shows a key");
                    assert!(!redacted.contains(key) || keyless_redacted.contains(key), "the redacted form shows a key");
                }
            }
        }
        Err(error) => {
            // Whatever the previous text, writing a valid configuration over it reads back.
            if let Ok(text) = core::str::from_utf8(data) {
                let mut config = config::MoteConfig::new(config::ProviderId::Local);
                let _ = config::set(&mut config, "chat.system_prompt", text);
                write_back_reads_back(Some(text), &config);
            }
            let _ = error.to_string();
            for problem in error.problems() {
                let _ = problem.to_string();
            }
        }
    }
});

fn write_back_reads_back(previous: Option<&str>, config: &config::MoteConfig) {
    let text = config::write_back(previous, config);
    let again = config::parse(&text).expect("write_back's result parses");
    assert_eq!(&again, config, "write_back changed the configuration");
}
