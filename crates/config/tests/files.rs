//! Whole files: the documented example, minimal files, writing back, encodings.

use config::{
    ActiveProvider, CloudProvider, CompatibleProvider, ConfigError, DEFAULT_MODEL_FILE, Ipv4, Ipv4Cidr, LocalProvider,
    Location, MAX_FILE_SIZE, MoteConfig, NetworkMode, ProviderId, parse, parse_bytes, parse_file,
};

/// The example from ARCHITECTURE.md, with the static network from its comment spelled out.
const ARCHITECTURE_EXAMPLE: &str = r#"[provider]
active = "anthropic"   # anthropic | openai | groq | xai | openai-compatible | local

[providers.anthropic]  # likewise [providers.openai], [providers.groq], [providers.xai]
api_key = "sk-ant-..."
model = "claude-sonnet-4-5"
base_url = "https://api.anthropic.com"   # optional override (proxies, gateways)

[providers.openai-compatible]            # Ollama, llama.cpp server, vLLM, OpenRouter...
base_url = "http://192.168.1.10:11434/v1"
api_key = ""                             # optional
model = "llama3.2"

[providers.local]
model_file = "\\moteos\\model.gguf"

[network]
mode = "dhcp"          # or "static": address = "10.0.2.15/24", gateway = "10.0.2.2", dns = ["10.0.2.3"]

[tls]
extra_ca_file = "\\moteos\\ca.pem"       # optional PEM bundle trusted in addition to the built-in roots
"#;

#[test]
fn architecture_example_reads_every_section() {
    let parsed = parse_file(ARCHITECTURE_EXAMPLE.as_bytes()).unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let config = parsed.config;

    assert_eq!(config.provider.active, ProviderId::Anthropic);
    let anthropic = config.providers.anthropic.as_ref().unwrap();
    assert_eq!(anthropic.api_key, "sk-ant-...");
    assert_eq!(anthropic.model.as_deref(), Some("claude-sonnet-4-5"));
    assert_eq!(anthropic.base_url.as_deref(), Some("https://api.anthropic.com"));
    assert!(config.providers.openai.is_none() && config.providers.groq.is_none() && config.providers.xai.is_none());

    let compatible = config.providers.openai_compatible.as_ref().unwrap();
    assert_eq!(compatible.base_url, "http://192.168.1.10:11434/v1");
    assert_eq!(compatible.api_key, None, "an empty key means no key");
    assert_eq!(compatible.model, "llama3.2");

    assert_eq!(config.providers.local.as_ref().unwrap().model_file, "\\moteos\\model.gguf");
    assert_eq!(config.network.mode, NetworkMode::Dhcp);
    assert_eq!(config.network.address, None);
    assert!(config.network.dns.is_empty());
    assert_eq!(config.tls.extra_ca_file.as_deref(), Some("\\moteos\\ca.pem"));

    assert_eq!(
        config.active_provider(),
        Some(ActiveProvider::Remote {
            kind: ProviderId::Anthropic,
            base_url: "https://api.anthropic.com",
            api_key: Some("sk-ant-..."),
            model: "claude-sonnet-4-5",
        })
    );
}

#[test]
fn architecture_example_with_static_network() {
    let text = ARCHITECTURE_EXAMPLE.replace(
        "mode = \"dhcp\"",
        "mode = \"static\"\naddress = \"10.0.2.15/24\"\ngateway = \"10.0.2.2\"\ndns = [\"10.0.2.3\"]",
    );
    let parsed = parse_file(text.as_bytes()).unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let network = parsed.config.network;
    assert_eq!(network.mode, NetworkMode::Static);
    assert_eq!(network.address, Ipv4Cidr::new(Ipv4::new(10, 0, 2, 15), 24));
    assert_eq!(network.gateway, Some(Ipv4::new(10, 0, 2, 2)));
    assert_eq!(network.dns, [Ipv4::new(10, 0, 2, 3)]);
}

#[test]
fn minimal_local_file_needs_no_provider_table() {
    let parsed = parse_file(b"[provider]\nactive = \"local\"\n").unwrap();
    assert!(parsed.warnings.is_empty());
    assert_eq!(parsed.config, MoteConfig::new(ProviderId::Local));
    assert_eq!(parsed.config.active_provider(), Some(ActiveProvider::Local { model_file: DEFAULT_MODEL_FILE }));
}

#[test]
fn minimal_cloud_file_uses_the_defaults() {
    for kind in ProviderId::CLOUD {
        let key = match kind {
            ProviderId::Anthropic => "sk-ant-api03-0123456789",
            ProviderId::OpenAi => "sk-proj-0123456789",
            ProviderId::Groq => "gsk_0123456789",
            _ => "xai-0123456789",
        };
        let text = format!("[provider]\nactive = \"{kind}\"\n[providers.{kind}]\napi_key = \"{key}\"\n");
        let parsed = parse_file(text.as_bytes()).unwrap();
        assert!(parsed.warnings.is_empty(), "{kind}: {:?}", parsed.warnings);
        let Some(ActiveProvider::Remote { base_url, model, api_key, .. }) = parsed.config.active_provider() else {
            panic!("{kind} is remote");
        };
        assert_eq!(Some(base_url), kind.default_base_url());
        assert_eq!(Some(model), kind.default_model());
        assert_eq!(api_key, Some(key));
    }
}

#[test]
fn inline_tables_and_dotted_keys_mean_the_same() {
    let dotted = parse("provider.active = \"groq\"\nproviders.groq.api_key = \"gsk_x\"\n").unwrap();
    let inline = parse("provider = { active = \"groq\" }\nproviders = { groq = { api_key = \"gsk_x\" } }\n").unwrap();
    let headers = parse("[provider]\nactive = \"groq\"\n[providers.groq]\napi_key = \"gsk_x\"\n").unwrap();
    assert_eq!(dotted, headers);
    assert_eq!(inline, headers);
}

#[test]
fn capitalised_names_are_forgiven() {
    let config = parse("[provider]\nactive = \"OpenAI\"\n[network]\nmode = \"DHCP\"\n").unwrap();
    assert_eq!(config.provider.active, ProviderId::OpenAi);
    assert_eq!(config.network.mode, NetworkMode::Dhcp);
}

fn full_config() -> MoteConfig {
    let mut config = MoteConfig::new(ProviderId::OpenAiCompatible);
    config.providers.anthropic = Some(CloudProvider {
        api_key: "sk-ant-api03-AAAABBBBCCCCDDDD-wxyz".into(),
        model: Some("claude-opus-4-1".into()),
        base_url: None,
        temperature: Some(0.7),
        max_tokens: Some(4096),
    });
    config.providers.openai = Some(CloudProvider {
        api_key: "sk-proj-\"quoted\"\\slash".into(),
        model: None,
        base_url: None,
        ..Default::default()
    });
    config.providers.groq = Some(CloudProvider::default());
    config.providers.xai = Some(CloudProvider {
        api_key: "xai-1".into(),
        model: None,
        base_url: Some("https://gw.example/xai".into()),
        ..Default::default()
    });
    config.providers.openai_compatible = Some(CompatibleProvider {
        base_url: "http://ollama:11434/v1".into(),
        api_key: Some("secret".into()),
        model: "qwen2.5:7b".into(),
        temperature: Some(0.1),
        max_tokens: None,
    });
    config.providers.local =
        Some(LocalProvider { model_file: "\\models\\tiny 'q4'.gguf".into(), ..Default::default() });
    config.network.mode = NetworkMode::Static;
    config.network.address = Ipv4Cidr::new(Ipv4::new(192, 168, 7, 20), 23);
    config.network.gateway = Some(Ipv4::new(192, 168, 6, 1));
    config.network.dns = vec![Ipv4::new(192, 168, 6, 1), Ipv4::new(9, 9, 9, 9)];
    config.tls.extra_ca_file = Some("\\moteos\\corp-ca.pem".into());
    config
}

#[test]
fn round_trip_keeps_every_setting() {
    let config = full_config();
    let text = config.to_toml();
    assert_eq!(parse(&text).unwrap(), config, "{text}");
    assert!(text.contains("[providers.openai-compatible]"), "{text}");

    let example = parse(ARCHITECTURE_EXAMPLE).unwrap();
    let again = parse(&example.to_toml()).unwrap();
    assert_eq!(again, example);
    // And a second trip changes nothing more.
    assert_eq!(again.to_toml(), example.to_toml());
}

#[test]
fn round_trip_of_a_minimal_config_stays_minimal() {
    let config = MoteConfig::new(ProviderId::Local);
    let text = config.to_toml();
    assert_eq!(parse(&text).unwrap(), config);
    assert!(!text.contains("[providers"), "{text}");
    assert!(!text.contains("[tls]"), "{text}");
    assert!(text.contains("mode = \"dhcp\""), "{text}");
}

#[test]
fn windows_line_endings_are_accepted() {
    let crlf = ARCHITECTURE_EXAMPLE.replace('\n', "\r\n");
    assert_eq!(parse_file(crlf.as_bytes()).unwrap().config, parse(ARCHITECTURE_EXAMPLE).unwrap());

    // Locations still count lines, not `\r`s.
    let err = parse_bytes(b"[provider]\r\nactive = \"antropic\"\r\n").unwrap_err();
    assert_eq!(err.location(), Some(Location { line: 2, column: 10 }));
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(ARCHITECTURE_EXAMPLE.as_bytes());
    assert_eq!(parse_bytes(&bytes).unwrap(), parse(ARCHITECTURE_EXAMPLE).unwrap());
    let with_char = format!("\u{feff}{ARCHITECTURE_EXAMPLE}");
    assert_eq!(parse(&with_char).unwrap(), parse(ARCHITECTURE_EXAMPLE).unwrap());

    // The mark does not shift columns on the first line.
    let err = parse_bytes(b"\xEF\xBB\xBF[provider\nactive = \"local\"\n").unwrap_err();
    assert_eq!(err.location(), Some(Location { line: 1, column: 10 }));
}

#[test]
fn huge_files_are_refused() {
    let mut text = String::from("[provider]\nactive = \"local\"\n");
    while text.len() <= MAX_FILE_SIZE {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let err = parse_bytes(text.as_bytes()).unwrap_err();
    assert_eq!(err, ConfigError::TooLarge { len: text.len() });
    assert_eq!(
        err.to_string(),
        format!(
            "config.toml is {} bytes, more than the 65536 bytes (64 KiB) a configuration may have: \
             is it the right file?",
            text.len()
        )
    );
    assert!(parse_file(text.as_bytes()).is_err());

    // Exactly at the limit is fine.
    text.truncate(MAX_FILE_SIZE - 1);
    text.push('\n');
    assert!(parse_bytes(text.as_bytes()).is_ok());
}

#[test]
fn non_utf8_is_refused_with_its_position() {
    let err = parse_bytes(b"[provider]\nactive = \"local\"\n# caf\xE9\n").unwrap_err();
    assert_eq!(err.to_string(), "config.toml line 3, column 6: byte 0xE9 is not UTF-8 text; save the file as UTF-8");
    assert_eq!(err.location(), Some(Location { line: 3, column: 6 }));

    let utf16: Vec<u8> = "\u{feff}[provider]".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let err = parse_bytes(&utf16).unwrap_err();
    assert_eq!(err, ConfigError::Utf16);
    assert!(err.to_string().contains("save it as UTF-8"), "{err}");
}

#[test]
fn empty_file_has_no_provider() {
    let err = parse_file(b"").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no provider is chosen: add a [provider] table with a line like active = \"anthropic\"; \
         the choices are anthropic, openai, groq, xai, openai-compatible or local"
    );
    assert_eq!(err.location(), None);
}
