//! Writing settings back into the user's own file: comments, order and layout kept, only what
//! changed rewritten, and the result always read back equal.

use config::{MoteConfig, ProviderId, forget_keys, parse, set, settable, write_back};
use proptest::prelude::*;

const STD_TABLES: &str = "# keep: my moteOS settings\n[provider]\nactive = \"anthropic\" # keep: chosen\n\n\
[providers.anthropic]\n# keep: key from the console\napi_key = \"sk-ant-api03-abcdefghijklmnop\"\nmodel = \"claude-x\"\n\n\
[network]\nmode = \"dhcp\"\n";

const INLINE: &str = "# keep\nversion = 2\nprovider = { active = \"openai\" }\n[providers]\n\
openai = { api_key = \"sk-proj-0123456789abcdef\", model = \"gpt-x\" } # keep inline\nlocal = {}\n[chat]\ntheme = \"light\"\n";

const DOTTED: &str = "# keep\nprovider.active = \"groq\"\nproviders.groq.api_key = \"gsk_0123456789abcdefgh\"\n\
providers.groq.temperature = 0.5\nnetwork.dns = [\"10.0.2.3\"]\n";

const CRLF: &str = "# keep\r\n[provider]\r\nactive = \"local\"\r\n[providers.local]\r\nmodel_file = \"\\\\moteos\\\\model.gguf\"\r\n\
stream = true # keep: unknown to this version\r\n[tls]\r\nextra_ca_file = \"\\\\moteos\\\\ca.pem\"\r\n";

const BASES: [&str; 4] = [STD_TABLES, INLINE, DOTTED, CRLF];

fn edited(base: &str, edits: &[(&str, &str)]) -> (MoteConfig, String) {
    let mut config = parse(base).expect("base parses");
    for (key, value) in edits {
        set(&mut config, key, value).unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    let text = write_back(Some(base), &config);
    assert_eq!(parse(&text).as_ref(), Ok(&config), "{text}");
    (config, text)
}

#[test]
fn only_the_changed_value_changes() {
    let (_, text) = edited(STD_TABLES, &[("providers.anthropic.model", "claude-y")]);
    assert_eq!(text, format!("version = 2\n\n{}", STD_TABLES.replace("claude-x", "claude-y")));
}

#[test]
fn unchanged_files_come_back_as_they_were() {
    for base in [INLINE, CRLF] {
        let config = parse(base).unwrap();
        // Version 2 files need nothing; CRLF has no version and gains only that line.
        let text = write_back(Some(base), &config);
        assert_eq!(text.replace("version = 2\r\n\r\n", ""), base);
    }
}

#[test]
fn version_one_files_gain_the_version_above_their_first_comment() {
    let v1 = "# settings\n[provider]\nactive = \"local\"\n";
    let config = parse(v1).unwrap();
    assert_eq!(config.version, config::CURRENT_VERSION);
    assert_eq!(write_back(Some(v1), &config), "version = 2\n\n# settings\n[provider]\nactive = \"local\"\n");
    let v1 = "# settings\n\n[provider]\nactive = \"local\"\n";
    assert_eq!(write_back(Some(v1), &config), "# settings\n\nversion = 2\n\n[provider]\nactive = \"local\"\n");
}

#[test]
fn an_explicit_version_one_is_rewritten() {
    let v1 = "version = 1 # old\n[provider]\nactive = \"local\"\n";
    let config = parse(v1).unwrap();
    assert_eq!(write_back(Some(v1), &config), "version = 2 # old\n[provider]\nactive = \"local\"\n");
}

#[test]
fn new_keys_go_to_the_end_of_their_table_and_new_tables_to_the_end() {
    let (_, text) = edited(
        STD_TABLES,
        &[("providers.anthropic.temperature", "0.7"), ("chat.theme", "light"), ("network.gateway", "10.0.2.2")],
    );
    assert_eq!(
        text,
        "version = 2\n\n# keep: my moteOS settings\n[provider]\nactive = \"anthropic\" # keep: chosen\n\n\
[providers.anthropic]\n# keep: key from the console\napi_key = \"sk-ant-api03-abcdefghijklmnop\"\nmodel = \"claude-x\"\n\
temperature = 0.7\n\n[network]\nmode = \"dhcp\"\ngateway = \"10.0.2.2\"\n\n[chat]\ntheme = \"light\"\n"
    );
}

#[test]
fn unset_keys_are_removed_with_their_line() {
    let (_, text) = edited(STD_TABLES, &[("providers.anthropic.model", "default")]);
    assert!(!text.contains("model"), "{text}");
    assert!(text.contains("# keep: key from the console\napi_key"), "{text}");
}

#[test]
fn inline_tables_are_edited_in_place() {
    let (_, text) = edited(
        INLINE,
        &[("providers.openai.temperature", "1.5"), ("providers.local.seed", "7"), ("providers.openai.model", "")],
    );
    assert!(
        text.contains("openai = { api_key = \"sk-proj-0123456789abcdef\", temperature = 1.5 } # keep inline\nlocal = { seed = 7 }\n"),
        "{text}"
    );
}

#[test]
fn dotted_tables_continue_in_their_style() {
    let (_, text) = edited(DOTTED, &[("providers.groq.max_tokens", "512"), ("providers.groq.temperature", "")]);
    assert!(
        text.contains("providers.groq.api_key = \"gsk_0123456789abcdefgh\"\nproviders.groq.max_tokens = 512\n"),
        "{text}"
    );
    assert!(!text.contains("temperature"), "{text}");
}

#[test]
fn crlf_files_stay_crlf_and_unknown_keys_stay() {
    let (_, text) = edited(CRLF, &[("providers.local.top_k", "20"), ("tls.extra_ca_file", "")]);
    assert!(text.contains("stream = true # keep: unknown to this version\r\ntop_k = 20\r\n"), "{text:?}");
    assert!(!text.contains("extra_ca_file"));
    assert!(!text.replace("\r\n", "").contains('\n'), "{text:?}");
}

#[test]
fn forgetting_keys_blanks_them_in_place() {
    for base in BASES {
        let mut config = parse(base).unwrap();
        forget_keys(&mut config);
        let text = write_back(Some(base), &config);
        assert_eq!(parse(&text), Ok(config));
        for secret in ["sk-ant-api03", "sk-proj-", "gsk_"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("# keep"));
    }
}

#[test]
fn removed_providers_lose_their_table() {
    let mut config = parse(STD_TABLES).unwrap();
    config.providers.anthropic = None;
    config.provider.active = ProviderId::Local;
    let text = write_back(Some(STD_TABLES), &config);
    assert_eq!(parse(&text), Ok(config));
    assert!(!text.contains("anthropic]") && text.contains("# keep: my moteOS settings"), "{text}");
}

#[test]
fn without_a_readable_file_the_result_is_fresh() {
    let config = parse(STD_TABLES).unwrap();
    assert_eq!(write_back(None, &config), config.to_toml());
    assert_eq!(write_back(Some("[provider\n"), &config), config.to_toml());
    assert_eq!(write_back(Some("[provider]\nactive = \"nobody\"\n"), &config), config.to_toml());
}

/// Values worth trying for a setting, chosen by its name.
fn candidates(name: &str) -> &'static [&'static str] {
    let last = name.rsplit('.').next().unwrap_or(name);
    match last {
        "active" => &["anthropic", "openai", "groq", "xai", "openai-compatible", "local"],
        "theme" => &["dark", "light", ""],
        "system_prompt" => &["Be brief.", "two\nlines", "", "quote \" and \\ backslash", "default"],
        "font_scale" => &["auto", "1", "2", ""],
        "model" => &["m-1", "llama \"3\"", ""],
        "temperature" => &["0", "0.7", "2", "", "1.25", "0.1"],
        "max_tokens" => &["1", "4096", "65536", ""],
        "base_url" => &["https://gw.example/v1", "http://10.0.0.2:8080/v1", ""],
        "api_key" => &["sk-ant-0123456789abcdef", "", "key with 'quote'"],
        "model_file" => &["\\moteos\\other.gguf", ""],
        "top_p" | "min_p" => &["0", "0.5", "1", ""],
        "top_k" => &["0", "40", "100000", ""],
        "repeat_penalty" => &["1", "1.3", ""],
        "seed" => &["0", "42", "9223372036854775807", ""],
        "mode" => &["dhcp", "static", ""],
        "address" => &["10.0.2.15/24", ""],
        "gateway" => &["10.0.2.2", ""],
        "dns" => &["1.1.1.1, 9.9.9.9", "", "10.0.2.3"],
        "extra_ca_file" => &["\\moteos\\ca.pem", ""],
        _ => &[""],
    }
}

#[test]
fn every_setting_and_value_on_every_layout_reads_back() {
    let mut count = 0;
    for base in BASES {
        for key in settable() {
            for value in candidates(key.name) {
                let mut config = parse(base).unwrap();
                if set(&mut config, key.name, value).is_err() {
                    continue;
                }
                let text = write_back(Some(base), &config);
                assert_eq!(parse(&text).as_ref(), Ok(&config), "{} = {value:?} on\n{base}\ngave\n{text}", key.name);
                assert!(text.contains("# keep"), "{} = {value:?} lost the comments:\n{text}", key.name);
                count += 1;
            }
        }
    }
    assert!(count > 400, "{count}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Sequences of edits, each saved over the previous save, as the settings screen does.
    #[test]
    fn edit_sequences_read_back_and_keep_comments(
        base in 0..BASES.len(),
        edits in proptest::collection::vec((0..settable().len(), 0usize..8, 0u8..20), 1..12),
    ) {
        let mut text = BASES[base].to_owned();
        let mut config = parse(&text).unwrap();
        let mut removed_table = false;
        for (key, value, special) in edits {
            match special {
                0 => forget_keys(&mut config),
                1 => {
                    config.providers.openai = None;
                    removed_table = true;
                }
                _ => {
                    let name = settable()[key].name;
                    let values = candidates(name);
                    let _ = set(&mut config, name, values[value % values.len()]);
                }
            }
            text = write_back(Some(&text), &config);
            let again = parse(&text);
            prop_assert_eq!(again.as_ref(), Ok(&config), "{}", text);
        }
        // Removing a provider written inside `[providers] openai = { … }` is the one case that
        // may fall back to a fresh file; every other edit keeps the comments.
        prop_assert!(removed_table || text.contains("# keep"), "{}", text);
    }
}

/// Found by the fuzzer: `chat` exists only through a deeper header (`[chat.x.y]`); setting one
/// of its keys used to index past the end of the path (a panic) instead of adding `[chat]`.
#[test]
fn a_table_implied_by_a_deeper_header_gets_its_own() {
    let text = "[provider]\nactive = \"local\"\n\n[chat.x.y]\nz = 1\n";
    let mut config = config::parse(text).unwrap();
    config::set(&mut config, "chat.theme", "light").unwrap();
    let written = config::write_back(Some(text), &config);
    assert_eq!(config::parse(&written).unwrap(), config, "{written}");
}
