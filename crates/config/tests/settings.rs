//! The new settings (version, [chat], temperatures, local sampling) and the `/set` table.

use config::{
    ChatSettings, FontScale, LocalSampling, MoteConfig, ProviderId, SetError, Theme, forget_keys, get, parse,
    parse_file, set, settable,
};

fn errors(text: &str) -> Vec<String> {
    match parse_file(text.as_bytes()) {
        Ok(parsed) => panic!("expected errors, got {:?}", parsed.config),
        Err(error) => error.problems().iter().filter(|p| p.is_error()).map(ToString::to_string).collect(),
    }
}

fn warnings(text: &str) -> Vec<String> {
    parse_file(text.as_bytes()).expect("parses").warnings.iter().map(ToString::to_string).collect()
}

const LOCAL: &str = "[provider]\nactive = \"local\"\n";

#[test]
fn new_settings_read_and_round_trip() {
    let text = "version = 2\n[provider]\nactive = \"anthropic\"\n[providers.anthropic]\napi_key = \"sk-ant-x\"\n\
                temperature = 1\nmax_tokens = 2048\n[providers.local]\ntemperature = 0.5\ntop_p = 0.8\ntop_k = 0\n\
                min_p = 0.1\nrepeat_penalty = 1.2\nseed = 42\n[chat]\ntheme = \"Light\"\nsystem_prompt = \"Be brief.\"\n\
                font_scale = 2\n";
    let config = parse(text).unwrap();
    let anthropic = config.providers.anthropic.as_ref().unwrap();
    assert_eq!((anthropic.temperature, anthropic.max_tokens), (Some(1.0), Some(2048)));
    assert_eq!(
        config.local_sampling(),
        LocalSampling { temperature: 0.5, top_p: 0.8, top_k: 0, min_p: 0.1, repeat_penalty: 1.2, seed: Some(42) }
    );
    assert_eq!(
        config.chat,
        ChatSettings { theme: Theme::Light, system_prompt: Some("Be brief.".into()), font_scale: FontScale::Two }
    );
    assert_eq!(parse(&config.to_toml()), Ok(config.clone()));
    assert!(config.to_toml().contains("temperature = 0.5\n"), "{}", config.to_toml());
    assert_eq!(parse(&format!("{LOCAL}[chat]\nfont_scale = \"auto\"\n")).unwrap().chat.font_scale, FontScale::Auto);
}

#[test]
fn defaults_apply_without_tables() {
    let config = parse(LOCAL).unwrap();
    assert_eq!(config.local_sampling(), LocalSampling::DEFAULT);
    assert_eq!(LocalSampling::DEFAULT.temperature, 0.2);
    assert_eq!(config.chat, ChatSettings::default());
    assert_eq!(config.chat.theme, Theme::Dark);
    let with_table = parse(&format!("{LOCAL}[providers.local]\nmodel_file = \"\\\\m.gguf\"\n")).unwrap();
    assert_eq!(with_table.local_sampling(), LocalSampling::DEFAULT);
}

#[test]
fn version_one_is_migrated_and_newer_versions_warn() {
    let v1 = parse(LOCAL).unwrap();
    assert_eq!(v1.version, 2);
    assert!(v1.to_toml().contains("version = 2\n"));
    assert!(warnings(LOCAL).is_empty());
    assert_eq!(
        warnings(&format!("version = 3\n{LOCAL}")),
        ["config.toml line 1, column 11: version = 3 is newer than this moteOS understands (2): settings it does not \
          know are ignored but kept in the file"]
    );
    assert_eq!(parse(&format!("version = 3\n{LOCAL}")).unwrap().version, 3);
    assert_eq!(
        errors(&format!("version = 0\n{LOCAL}")),
        ["config.toml line 1, column 11: version = 0 is not a version: use a whole number like version = 2"]
    );
    assert_eq!(errors(&format!("version = \"2\"\n{LOCAL}")).len(), 1);
}

#[test]
fn numbers_out_of_range_are_errors_at_their_place() {
    let table = |body: &str| format!("{LOCAL}[providers.local]\n{body}\n");
    assert_eq!(
        errors(&table("temperature = 3")),
        ["config.toml line 4, column 15: [providers.local] temperature = 3 is not allowed: use a number from 0 to 2"]
    );
    assert_eq!(
        errors(&table("top_k = -1")),
        [
            "config.toml line 4, column 9: [providers.local] top_k = -1 is not allowed: use a whole number from 0 to 100000"
        ]
    );
    assert_eq!(
        errors(&table("min_p = nan")),
        ["config.toml line 4, column 9: [providers.local] min_p = nan is not allowed: use a number from 0 to 1"]
    );
    assert_eq!(
        errors(&table("repeat_penalty = 0.5")),
        [
            "config.toml line 4, column 18: [providers.local] repeat_penalty = 0.5 is not allowed: use a number from 1 to 2"
        ]
    );
    assert_eq!(
        errors(&table("seed = 1.5")),
        ["config.toml line 4, column 8: [providers.local] seed must be a whole number, not a number"]
    );
    let cloud = "[provider]\nactive = \"groq\"\n[providers.groq]\napi_key = \"gsk_x\"\nmax_tokens = 0\n";
    assert_eq!(
        errors(cloud),
        [
            "config.toml line 5, column 14: [providers.groq] max_tokens = 0 is not allowed: use a whole number from 1 to 65536"
        ]
    );
    assert_eq!(
        errors(&format!("{LOCAL}[chat]\ntheme = \"drak\"\n")),
        [
            "config.toml line 4, column 9: [chat] theme = \"drak\" is not a theme: use dark or light — did you mean \"dark\"?"
        ]
    );
    assert_eq!(
        errors(&format!("{LOCAL}[chat]\nfont_scale = 3\n")),
        ["config.toml line 4, column 14: [chat] font_scale = 3 is not a font scale: use \"auto\", 1 or 2"]
    );
}

#[test]
fn every_settable_key_sets_and_gets() {
    let mut config = MoteConfig::new(ProviderId::Local);
    for key in settable() {
        let value = match key.name.rsplit('.').next().unwrap() {
            "active" => "groq",
            "theme" => "light",
            "system_prompt" => "Answer in French.",
            "font_scale" => "2",
            "model" => "model-1",
            "temperature" => "1.5",
            "max_tokens" => "1000",
            "base_url" => "https://gw.example/v1",
            "api_key" => "sk-test-0123456789abcdef",
            "model_file" => "\\moteos\\m.gguf",
            "top_p" | "min_p" => "0.25",
            "top_k" => "12",
            "repeat_penalty" => "1.5",
            "seed" => "99",
            "mode" => "static",
            "address" => "10.0.2.15/24",
            "gateway" => "10.0.2.2",
            "dns" => "10.0.2.3, 1.1.1.1",
            "extra_ca_file" => "\\moteos\\ca.pem",
            other => panic!("no test value for {other}"),
        };
        set(&mut config, key.name, value).unwrap_or_else(|e| panic!("{}: {e}", key.name));
        let shown = get(&config, key.name).unwrap();
        if key.secret {
            assert!(key.name.ends_with(".api_key"));
            assert_eq!(shown, "sk-…cdef", "{}", key.name);
        } else {
            assert_eq!(shown, value, "{}", key.name);
        }
        assert!(!key.help.is_empty());
    }
    assert!(config.validate().iter().all(|p| !p.is_error()), "{:?}", config.validate());
    assert_eq!(parse(&config.to_toml()), Ok(config.clone()));
    // Unset again: optional values go, the others return to their defaults.
    for key in settable() {
        let result = set(&mut config, key.name, "default");
        match key.name {
            "provider.active" | "providers.openai-compatible.model" | "providers.openai-compatible.base_url" => {
                assert!(matches!(result, Err(SetError::Required { .. })), "{}", key.name)
            }
            _ => result.unwrap(),
        }
    }
    assert_eq!(config.chat, ChatSettings::default());
    assert_eq!(config.local_sampling(), LocalSampling::DEFAULT);
    assert_eq!(config.providers.groq.as_ref().unwrap().model, None);
    assert_eq!(get(&config, "providers.groq.temperature").unwrap(), "");
    assert_eq!(get(&config, "network.dns").unwrap(), "");
}

#[test]
fn set_creates_tables_only_when_setting() {
    let mut config = MoteConfig::new(ProviderId::Local);
    set(&mut config, "providers.xai.temperature", "").unwrap();
    assert!(config.providers.xai.is_none());
    set(&mut config, "providers.xai.temperature", "0.3").unwrap();
    assert_eq!(config.providers.xai.as_ref().unwrap().temperature, Some(0.3));
    set(&mut config, "providers.local.seed", "5").unwrap();
    assert_eq!(config.providers.local.as_ref().unwrap().seed, Some(5));
    assert_eq!(get(&config, "providers.anthropic.model").unwrap(), "");
}

#[test]
fn bad_values_say_what_to_type_and_change_nothing() {
    let mut config = MoteConfig::new(ProviderId::Local);
    let before = config.clone();
    let error = |config: &mut MoteConfig, key: &str, value: &str| set(config, key, value).unwrap_err().to_string();
    assert_eq!(
        error(&mut config, "providers.local.temperature", "2.5"),
        "providers.local.temperature cannot be \"2.5\": use a number from 0 to 2"
    );
    assert_eq!(
        error(&mut config, "providers.openai.max_tokens", "65537"),
        "providers.openai.max_tokens cannot be \"65537\": use a whole number from 1 to 65536"
    );
    assert_eq!(
        error(&mut config, "providers.openai.max_tokens", "-1"),
        error(&mut config, "providers.openai.max_tokens", "-1")
    );
    assert_eq!(error(&mut config, "chat.theme", "blue"), "chat.theme cannot be \"blue\": use dark or light");
    assert_eq!(error(&mut config, "chat.font_scale", "3"), "chat.font_scale cannot be \"3\": use auto, 1 or 2");
    assert_eq!(
        error(&mut config, "network.address", "10.0.2.15"),
        "network.address cannot be \"10.0.2.15\": use an address with a prefix length like 10.0.2.15/24"
    );
    assert!(error(&mut config, "providers.groq.base_url", "ftp://x").starts_with("providers.groq.base_url cannot be"));
    assert_eq!(
        error(&mut config, "provider.active", "ollama"),
        "provider.active cannot be \"ollama\": use anthropic, openai, groq, xai, openai-compatible or local"
    );
    assert_eq!(config, before);
}

#[test]
fn unknown_keys_suggest_the_nearest() {
    let config = MoteConfig::new(ProviderId::Local);
    assert_eq!(
        get(&config, "chat.them").unwrap_err(),
        SetError::UnknownKey { key: "chat.them".into(), suggestion: Some("chat.theme") }
    );
    assert_eq!(
        get(&config, "providers.antropic.model").unwrap_err().to_string(),
        "there is no setting `providers.antropic.model` — did you mean `providers.anthropic.model`?"
    );
    assert_eq!(
        get(&config, "colour").unwrap_err().to_string(),
        "there is no setting `colour`: the settings screen (F4) lists them all"
    );
}

#[test]
fn forget_keys_removes_every_key_and_nothing_else() {
    let mut config = MoteConfig::new(ProviderId::Anthropic);
    for (key, value) in [
        ("providers.anthropic.api_key", "sk-ant-0123456789abcdef"),
        ("providers.anthropic.model", "m"),
        ("providers.groq.api_key", "gsk_0123456789abcdef"),
        ("providers.openai-compatible.base_url", "http://10.0.0.2/v1"),
        ("providers.openai-compatible.model", "llama"),
        ("providers.openai-compatible.api_key", "secret-0123456789"),
    ] {
        set(&mut config, key, value).unwrap();
    }
    forget_keys(&mut config);
    for key in settable().iter().filter(|k| k.secret) {
        assert_eq!(get(&config, key.name).unwrap(), "", "{}", key.name);
    }
    assert_eq!(get(&config, "providers.anthropic.model").unwrap(), "m");
    assert_eq!(get(&config, "providers.openai-compatible.model").unwrap(), "llama");
    assert!(!config.to_toml().contains("0123456789"));
}
