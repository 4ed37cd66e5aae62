//! Arbitrary bytes as `config.toml`: parsing, validation, the summary, the redacted form and
//! writing back must not panic; a file that parses must survive a write/read round trip, and
//! no message may show an API key it holds.

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
            let redacted = config.redacted();
            for kind in config::ProviderId::CLOUD {
                if let Some(cloud) = config.providers.cloud(kind)
                    && cloud.api_key.chars().count() >= 16
                {
                    assert!(!summary.contains(&cloud.api_key) && !redacted.contains(&cloud.api_key));
                }
            }
        }
        Err(error) => {
            let _ = error.to_string();
            for problem in error.problems() {
                let _ = problem.to_string();
            }
        }
    }
});
