//! API keys stay out of every printed form; configurations survive a save and a load.

use config::{
    CloudProvider, CompatibleProvider, ConfigError, MemoryStore, MoteConfig, ProviderId, SettingsStore, StoreError,
    load_from, parse, parse_file, redact_key,
};

const ANTHROPIC_KEY: &str = "sk-ant-api03-SECRETSECRETSECRETSECRET-abcd";
const COMPATIBLE_KEY: &str = "sk-or-v1-HIDDENHIDDENHIDDENHIDDEN-9876";

fn config_with_keys() -> MoteConfig {
    let mut config = MoteConfig::new(ProviderId::Anthropic);
    config.providers.anthropic =
        Some(CloudProvider { api_key: ANTHROPIC_KEY.into(), model: None, base_url: None, ..Default::default() });
    config.providers.openai_compatible = Some(CompatibleProvider {
        base_url: "https://openrouter.ai/api/v1".into(),
        api_key: Some(COMPATIBLE_KEY.into()),
        model: "meta-llama/llama-3.3-70b-instruct".into(),
        ..Default::default()
    });
    config
}

fn assert_hidden(output: &str) {
    for secret in ["SECRETSECRET", "HIDDENHIDDEN", ANTHROPIC_KEY, COMPATIBLE_KEY] {
        assert!(!output.contains(secret), "a key leaked into: {output}");
    }
}

#[test]
fn keys_never_appear_in_debug_display_or_redacted() {
    let config = config_with_keys();
    let outputs = [
        format!("{config:?}"),
        format!("{config:#?}"),
        format!("{config}"),
        config.redacted(),
        format!("{:?}", config.active_provider()),
        format!("{:?}", config.providers),
        format!("{:?}", parse_file(config.to_toml().as_bytes()).unwrap()),
    ];
    for output in &outputs {
        assert_hidden(output);
    }
    // What is shown is enough to recognise the key.
    assert!(outputs[0].contains("sk-ant-…abcd"), "{}", outputs[0]);
    assert!(outputs[2].contains("key sk-ant-…abcd"), "{}", outputs[2]);
    assert!(outputs[3].contains("api_key = \"sk-or-v1-…9876\""), "{}", outputs[3]);
    assert_eq!(redact_key(ANTHROPIC_KEY), "sk-ant-…abcd");

    // The text that is saved must of course hold the real keys.
    let saved = config.to_toml();
    assert!(saved.contains(ANTHROPIC_KEY) && saved.contains(COMPATIBLE_KEY));
}

#[test]
fn keys_never_appear_in_errors() {
    // A broken key line: the error keeps the line for display, masked.
    let text = format!("[provider]\nactive = \"anthropic\"\n[providers.anthropic]\napi_key = \"{ANTHROPIC_KEY}\n");
    let err = parse_file(text.as_bytes()).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }));
    assert_hidden(&format!("{err} {err:?}"));

    // A key pasted into the wrong table is named, never shown.
    let text = format!("[provider]\nactive = \"openai\"\n[providers.openai]\napi_key = \"{ANTHROPIC_KEY}\"\n");
    let parsed = parse_file(text.as_bytes()).unwrap();
    assert_eq!(parsed.warnings.len(), 1);
    assert_hidden(&format!("{:?} {}", parsed.warnings, parsed.warnings[0]));
}

#[test]
fn short_keys_are_only_said_to_be_set() {
    let mut config = MoteConfig::new(ProviderId::Groq);
    config.providers.groq = Some(CloudProvider { api_key: "gsk_tiny".into(), ..Default::default() });
    let debug = format!("{config:?}");
    assert!(debug.contains("api_key: (set)"), "{debug}");
    assert!(!debug.contains("tiny"), "{debug}");
}

#[test]
fn save_then_load_gives_the_same_configuration() {
    let config = config_with_keys();
    let mut store = MemoryStore::new();
    assert_eq!(load_from(&mut store), Ok(None), "an empty store means first boot");

    config.save_to(&mut store).unwrap();
    assert_eq!(store.save_count(), 1);
    let loaded = load_from(&mut store).unwrap().unwrap();
    assert_eq!(loaded.config, config);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);

    // Through a trait object too, as the kernel holds its store.
    let dynamic: &mut dyn SettingsStore = &mut store;
    assert_eq!(load_from(dynamic).unwrap().unwrap().config, config);
}

#[test]
fn store_failures_become_config_errors() {
    let config = config_with_keys();
    let mut locked = MemoryStore::new().read_only();
    let err = config.save_to(&mut locked).unwrap_err();
    assert_eq!(err, ConfigError::Store(StoreError::ReadOnly));
    assert_eq!(
        err.to_string(),
        "settings storage: the boot medium is read-only, so settings cannot be saved (is the stick write-protected?)"
    );

    let mut tiny = MemoryStore::new().with_capacity(10);
    assert!(matches!(config.save_to(&mut tiny), Err(ConfigError::Store(StoreError::TooLarge { limit: 10, .. }))));

    // A broken stored file is reported, not replaced by defaults.
    let mut broken = MemoryStore::with_contents(*b"[provider]\nactive = \"antropic\"\n");
    let err = load_from(&mut broken).unwrap_err();
    assert!(err.to_string().contains("is not a provider"), "{err}");
}

#[test]
fn oversized_configurations_are_not_saved() {
    let mut config = MoteConfig::new(ProviderId::OpenAiCompatible);
    config.providers.openai_compatible = Some(CompatibleProvider {
        base_url: "http://10.0.2.2/v1".into(),
        api_key: None,
        model: "m".repeat(70_000),
        ..Default::default()
    });
    let mut store = MemoryStore::new();
    assert!(matches!(config.save_to(&mut store), Err(ConfigError::TooLarge { .. })));
    assert_eq!(store.contents(), None);
    // The in-memory value is still intact and parses from text.
    assert_eq!(parse(&config.to_toml()).unwrap(), config);
}

/// Found by the fuzzer: a key pasted into the `model` field was shown by the summary (and
/// would have been sent as the model's name). The file is refused with a problem that names
/// the field without the key, and a configuration holding it (set at run time) hides it in
/// the summary and the redacted form.
#[test]
fn a_key_in_the_model_field_is_refused_and_hidden() {
    let key = "sk-ant-api01-0123456789abcdef";
    let text = format!(
        "[provider]\nactive = \"anthropic\"\n\n[providers.anthropic]\napi_key = \"{key}\"\nmodel = \"{key}\"\n"
    );
    let err = parse_file(text.as_bytes()).unwrap_err();
    let said = format!("{err} {err:?}");
    assert!(said.contains("model holds the API key") && said.contains("line 6"), "{said}");
    assert!(!said.contains(key), "the key is shown: {said}");

    let mut config = MoteConfig::new(ProviderId::Anthropic);
    config.providers.anthropic =
        Some(CloudProvider { api_key: key.into(), model: Some(format!("prefix-{key}")), ..Default::default() });
    assert!(config.validate().iter().any(|p| p.to_string().contains("model holds the API key")));
    for shown in [config.to_string(), config.redacted()] {
        assert!(!shown.contains(key), "the key is shown: {shown}");
    }
    // A short placeholder "key" inside a model's name is left alone.
    let text = "[provider]\nactive = \"openai-compatible\"\n\n[providers.openai-compatible]\n\
                base_url = \"http://10.0.0.2/v1\"\napi_key = \"none\"\nmodel = \"none-llama\"\n";
    assert!(parse_file(text.as_bytes()).is_ok());
}
