//! The sentences users see, asserted word for word.

use config::{ConfigError, ConfigProblem, Location, ProblemKind, Severity, parse, parse_file, parse_with_warnings};

/// The error sentences of a file that must be refused.
fn errors(text: &str) -> Vec<String> {
    let err = parse_file(text.as_bytes()).expect_err("the file must be refused");
    match &err {
        ConfigError::Invalid { problems } => {
            problems.iter().filter(|p| p.is_error()).map(ToString::to_string).collect()
        }
        other => vec![other.to_string()],
    }
}

/// The warning sentences of a file that must be accepted.
fn warnings(text: &str) -> Vec<String> {
    let parsed = parse_file(text.as_bytes()).unwrap_or_else(|e| panic!("the file must be accepted: {e}"));
    parsed.warnings.iter().map(ToString::to_string).collect()
}

const ANTHROPIC: &str = "[provider]\nactive = \"anthropic\"\n[providers.anthropic]\napi_key = \"sk-ant-api03-x\"\n";

#[test]
fn syntax_errors_name_line_and_column() {
    let text = "[provider]\nactive = \"local\"\napi_key \"sk\"\n";
    let err = parse_file(text.as_bytes()).unwrap_err();
    assert_eq!(err.to_string(), "config.toml line 3, column 9: expected `=` after the key");
    let ConfigError::Syntax { location, line_text, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*location, Location { line: 3, column: 9 });
    // The line is kept for display, with the key masked character for character.
    assert_eq!(line_text, "api_key \"**\"");
    assert_eq!(err.severity(), Severity::Error);

    let cases = [
        (
            "[provider]\nactive = anthropic\n",
            "config.toml line 2, column 10: text values must be in quotes, like \"anthropic\"",
        ),
        ("[provider\nactive = \"local\"\n", "config.toml line 1, column 10: the table header has no closing `]`"),
        ("[provider]\nactive = \"local\n", "config.toml line 2, column 16: this text has no closing quote"),
        (
            "[provider]\nactive: \"local\"\n",
            "config.toml line 2, column 9: expected `=` after the key (TOML uses `=`, not `:`)",
        ),
        (
            "[provider]\napi key = \"x\"\n",
            "config.toml line 2, column 5: expected `=` after the key (a key cannot contain spaces: use `_` instead)",
        ),
        ("[provider]\nactive =\n", "config.toml line 2, column 9: the value after `=` is missing"),
        (
            "[provider]\nactive = \"local\"\nactive = \"groq\"\n",
            "config.toml line 3, column 1: `active` is set twice in the same table: keep only one",
        ),
        (
            "[provider]\nactive = \"local\"\n[provider]\n",
            "config.toml line 3, column 2: the table [provider] is defined twice: merge the two into one",
        ),
        ("[network]\ndns = [\"10.0.2.3\"\n", "config.toml line 2, column 18: the list has no closing `]`"),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_file(text.as_bytes()).unwrap_err().to_string(), expected, "{text:?}");
    }
}

#[test]
fn unknown_provider_name() {
    assert_eq!(
        errors("[provider]\nactive = \"antropic\"\n"),
        ["config.toml line 2, column 10: [provider] active = \"antropic\" is not a provider: use anthropic, openai, \
          groq, xai, openai-compatible or local — did you mean \"anthropic\"?"]
    );
    assert_eq!(
        errors("[provider]\nactive = \"gemini\"\n"),
        ["config.toml line 2, column 10: [provider] active = \"gemini\" is not a provider: use anthropic, openai, \
          groq, xai, openai-compatible or local"]
    );
}

#[test]
fn missing_active() {
    assert_eq!(
        errors("[provider]\n[providers.local]\n"),
        ["config.toml line 1, column 1: [provider] has no `active` key: add a line like active = \"anthropic\"; \
          the choices are anthropic, openai, groq, xai, openai-compatible or local"]
    );
}

#[test]
fn active_provider_without_its_table() {
    assert_eq!(
        errors("[provider]\nactive = \"openai\"\n[providers.anthropic]\napi_key = \"sk-ant-x\"\n"),
        ["config.toml line 2, column 10: [provider] active = \"openai\" but there is no [providers.openai] table: \
          add one with your api_key"]
    );
    assert_eq!(
        errors("[provider]\nactive = \"openai-compatible\"\n"),
        ["config.toml line 2, column 10: [provider] active = \"openai-compatible\" but there is no \
          [providers.openai-compatible] table: add one with base_url and model"]
    );
}

#[test]
fn empty_api_key_of_the_active_provider() {
    assert_eq!(
        errors("[provider]\nactive = \"anthropic\"\n[providers.anthropic]\napi_key = \"\"\n"),
        ["config.toml line 4, column 11: [providers.anthropic] api_key is empty: paste your Anthropic API key \
          (it starts with sk-ant-)"]
    );
    // A table without the key at all points at the table's header.
    assert_eq!(
        errors("[provider]\nactive = \"xai\"\n\n[providers.xai]\nmodel = \"grok-3\"\n"),
        ["config.toml line 4, column 1: [providers.xai] api_key is empty: paste your xAI API key \
             (it starts with xai-)"]
    );
    // Providers that need no key, and providers that are not active, may go without.
    assert!(warnings("[provider]\nactive = \"local\"\n[providers.groq]\napi_key = \"\"\n").is_empty());
    assert!(
        warnings(
            "[provider]\nactive = \"openai-compatible\"\n[providers.openai-compatible]\n\
             base_url = \"http://localhost:8080/v1\"\nmodel = \"m\"\n"
        )
        .is_empty()
    );
}

#[test]
fn openai_compatible_needs_url_and_model() {
    assert_eq!(
        errors("[provider]\nactive = \"openai-compatible\"\n[providers.openai-compatible]\napi_key = \"k\"\n"),
        [
            "config.toml line 3, column 1: [providers.openai-compatible] needs base_url, the server's API root, \
             like \"http://192.168.1.10:11434/v1\"",
            "config.toml line 3, column 1: [providers.openai-compatible] needs model, the model's name as the \
             server knows it, like \"llama3.2\"",
        ]
    );
}

#[test]
fn base_url_scheme() {
    assert_eq!(
        errors(&format!("{ANTHROPIC}base_url = \"ftp://api.anthropic.com\"\n")),
        ["config.toml line 5, column 12: [providers.anthropic] base_url = \"ftp://api.anthropic.com\" must start \
          with http:// or https://, not ftp://"]
    );
    assert_eq!(
        errors(&format!("{ANTHROPIC}base_url = \"api.anthropic.com\"\n")),
        ["config.toml line 5, column 12: [providers.anthropic] base_url = \"api.anthropic.com\" must start with \
          http:// or https://, like \"https://api.anthropic.com\""]
    );
    // The same mistake in a provider that is not in use is only a warning.
    let text = format!("{ANTHROPIC}[providers.openai]\napi_key = \"sk-x\"\nbase_url = \"ftp://x\"\n");
    assert_eq!(
        warnings(&text),
        ["config.toml line 7, column 12: [providers.openai] base_url = \"ftp://x\" must start with http:// or \
          https://, not ftp://"]
    );
}

#[test]
fn plain_http_to_a_cloud_provider_is_refused_unless_local() {
    assert_eq!(
        errors(&format!("{ANTHROPIC}base_url = \"http://api.anthropic.com\"\n")),
        ["config.toml line 5, column 12: [providers.anthropic] base_url = \"http://api.anthropic.com\" is refused: \
          plain http:// would send your Anthropic API key unencrypted over the internet; use https:// (plain \
          http:// is allowed only to this machine or a private address such as 192.168.x.x)"]
    );
    // Host names are public whatever they resolve to; only addresses can be known to be local.
    for url in ["http://proxy.lan/anthropic", "http://8.8.8.8", "http://gw.example:80/?api-key=sk-x"] {
        let refused = errors(&format!("{ANTHROPIC}base_url = \"{url}\"\n"));
        assert!(refused[0].contains("is refused"), "{url}: {refused:?}");
        assert!(!refused[0].contains("sk-x"), "{refused:?}");
    }
    // A provider that is not the active one only gets a warning.
    let inactive = "[provider]\nactive = \"local\"\n[providers.openai]\napi_key = \"sk-proj-x\"\n";
    let w = warnings(&format!("{inactive}base_url = \"http://api.openai.com/v1\"\n"));
    assert!(w.len() == 1 && w[0].contains("is refused"), "{w:?}");
    // A gateway on this machine or a private network: allowed, with a warning shown once.
    for url in ["http://10.0.2.2:8080", "http://localhost:3000/v1", "http://192.168.1.2/anthropic"] {
        let w = warnings(&format!("{ANTHROPIC}base_url = \"{url}\"\n"));
        assert_eq!(
            w,
            [format!(
                "config.toml line 5, column 12: [providers.anthropic] base_url = \"{url}\" is not encrypted: your \
                 Anthropic API key travels in clear text on the local network"
            )],
            "{url}"
        );
    }
    // An OpenAI-compatible server over HTTP is fine unless a key goes to a public host.
    let compatible = "[provider]\nactive = \"openai-compatible\"\n[providers.openai-compatible]\nmodel = \"m\"\n";
    assert!(warnings(&format!("{compatible}base_url = \"http://example.com/v1\"\n")).is_empty());
    assert_eq!(
        warnings(&format!("{compatible}base_url = \"http://example.com/v1\"\napi_key = \"sk-or-v1-abc\"\n")).len(),
        1
    );
}

#[test]
fn urls_in_messages_never_carry_credentials() {
    let compatible = "[provider]\nactive = \"openai-compatible\"\n[providers.openai-compatible]\nmodel = \"m\"\n";
    let w = warnings(&format!(
        "{compatible}base_url = \"http://example.com/v1?api-key=sk-q-secret\"\napi_key = \"sk-or-v1-abc\"\n"
    ));
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("\"http://example.com/v1?api-key=***\""), "{w:?}");
    let e = errors(&format!("{compatible}base_url = \"http://me:hunter2@example.com/v1\"\n"));
    assert_eq!(
        e,
        [
            "config.toml line 5, column 12: [providers.openai-compatible] base_url = \"http://***@example.com/v1\" has a \
          user name or password before the host, which moteOS does not send: remove it and put the key in api_key"
        ]
    );
    let e = errors(&format!("{ANTHROPIC}base_url = \"https://u:hunter2@h:99999/?token=sk-q-secret\"\n"));
    assert!(!e[0].contains("hunter2") && !e[0].contains("sk-q-secret"), "{e:?}");
    // The one-line summary and Debug output too.
    let text = format!("{ANTHROPIC}base_url = \"https://u:hunter2@gw.example/v1?key=sk-q-secret\"\n");
    let config = parse(&text).unwrap();
    for shown in [config.to_string(), format!("{config:?}")] {
        assert!(!shown.contains("hunter2") && !shown.contains("sk-q-secret"), "{shown}");
    }
}

#[test]
fn api_key_sanity_warnings() {
    assert_eq!(
        warnings("[provider]\nactive = \"anthropic\"\n[providers.anthropic]\napi_key = \"sk-proj-abc\"\n"),
        ["config.toml line 4, column 11: [providers.anthropic] api_key does not look like an Anthropic key (those \
          start with sk-ant-); is it in the right table?"]
    );
    assert_eq!(
        warnings("[provider]\nactive = \"groq\"\n[providers.groq]\napi_key = \"gsk_abc \\n\"\n"),
        ["config.toml line 4, column 11: [providers.groq] api_key contains spaces or line breaks, which API keys \
          never do: paste it again"]
    );
    // Behind a gateway the key format is the gateway's business.
    assert!(
        warnings(
            "[provider]\nactive = \"openai\"\n[providers.openai]\napi_key = \"gw-123\"\n\
             base_url = \"https://gw.example.com/v1\"\n"
        )
        .is_empty()
    );
}

#[test]
fn wrong_types() {
    assert_eq!(
        errors("[provider]\nactive = \"anthropic\"\n[providers.anthropic]\napi_key = 12345\n"),
        ["config.toml line 4, column 11: [providers.anthropic] api_key must be text in quotes, not a number"]
    );
    assert_eq!(
        errors("provider = \"local\"\n"),
        ["config.toml line 1, column 12: `provider` must be a table like [provider], not text"]
    );
    assert_eq!(
        errors("[provider]\nactive = \"local\"\n[network]\ndns = 8\n"),
        ["config.toml line 4, column 7: [network] dns must be a list of addresses like [\"10.0.2.3\"], not a number"]
    );
}

#[test]
fn bad_addresses() {
    let base = "[provider]\nactive = \"local\"\n[network]\nmode = \"static\"\n";
    assert_eq!(
        errors(&format!("{base}address = \"10.0.2.300/24\"\ngateway = \"10.0.2.2\"\ndns = [\"10.0.2.3\"]\n")),
        ["config.toml line 5, column 11: [network] address = \"10.0.2.300/24\" is not an IPv4 address with a prefix \
          length like \"10.0.2.15/24\": 300 is larger than 255"]
    );
    assert_eq!(
        errors(&format!("{base}address = \"10.0.2.15\"\n")),
        ["config.toml line 5, column 11: [network] address = \"10.0.2.15\" is not an IPv4 address with a prefix \
          length like \"10.0.2.15/24\": the prefix length is missing: add it after a slash, like /24 for a \
          255.255.255.0 netmask"]
    );
    assert_eq!(
        errors(&format!("{base}address = \"10.0.2.15/24\"\ngateway = \"10.0.2\"\n")),
        ["config.toml line 6, column 11: [network] gateway = \"10.0.2\" is not an IPv4 address like \"10.0.2.2\": \
          an IPv4 address is four numbers separated by dots, this has 3 parts"]
    );
    assert_eq!(
        errors(&format!("{base}address = \"10.0.2.15/24\"\ndns = [\"10.0.2.3\", \"1.1.1.01\"]\n")),
        ["config.toml line 6, column 20: [network] dns entry \"1.1.1.01\" is not an IPv4 address like \"10.0.2.3\": \
          `01` has a leading zero, which some software reads as octal; leave it out"]
    );
    assert_eq!(
        errors(&format!("{base}address = \"10.0.2.255/24\"\n")),
        ["config.toml line 5, column 11: [network] address = \"10.0.2.255/24\" cannot be this machine's address: \
          it is the network's broadcast address (all host bits one)"]
    );
    assert_eq!(
        errors("[provider]\nactive = \"local\"\n[network]\nmode = \"dhpc\"\n"),
        ["config.toml line 4, column 8: [network] mode = \"dhpc\" is not a network mode: use dhcp or static — did \
          you mean \"dhcp\"?"]
    );
}

#[test]
fn static_network_with_and_without_address() {
    let base = "[provider]\nactive = \"local\"\n[network]\nmode = \"static\"\n";
    assert_eq!(
        errors(base),
        ["config.toml line 3, column 1: [network] mode = \"static\" needs this machine's address and prefix length, \
          like address = \"10.0.2.15/24\""]
    );
    let full = format!("{base}address = \"10.0.2.15/24\"\ngateway = \"10.0.2.2\"\ndns = [\"10.0.2.3\"]\n");
    assert!(warnings(&full).is_empty());

    assert_eq!(
        warnings(&format!("{base}address = \"10.0.2.15/24\"\n")),
        [
            "config.toml line 3, column 1: [network] mode = \"static\" has no gateway, so only the local network can \
             be reached: add one like gateway = \"10.0.2.2\"",
            "config.toml line 3, column 1: [network] mode = \"static\" has no dns servers, so host names such as \
             api.anthropic.com cannot be looked up: add some like dns = [\"10.0.2.3\"]",
        ]
    );
    assert_eq!(
        warnings(&format!("{base}address = \"10.0.2.15/24\"\ngateway = \"10.0.3.1\"\ndns = [\"10.0.2.3\"]\n")),
        ["config.toml line 6, column 11: [network] gateway = \"10.0.3.1\" is outside the network 10.0.2.0/24 of \
          address = \"10.0.2.15/24\", so it cannot be reached"]
    );
    // /31 point-to-point links have no network or broadcast address to avoid.
    let p2p = format!("{base}address = \"10.9.9.0/31\"\ngateway = \"10.9.9.1\"\ndns = [\"1.1.1.1\"]\n");
    assert!(warnings(&p2p).is_empty());
}

#[test]
fn dns_lists() {
    let base = "[provider]\nactive = \"local\"\n[network]\n";
    let config = parse(&format!("{base}dns = [\"10.0.2.3\", \"1.1.1.1\", \"9.9.9.9\"]\n")).unwrap();
    let dns: Vec<String> = config.network.dns.iter().map(ToString::to_string).collect();
    assert_eq!(dns, ["10.0.2.3", "1.1.1.1", "9.9.9.9"]);
    // In DHCP mode (the default) the servers are kept: they are tried before the lease's.
    assert!(warnings(&format!("{base}dns = [\"1.1.1.1\"]\n")).is_empty());
    // A single server without brackets is understood.
    assert_eq!(parse(&format!("{base}dns = \"1.1.1.1\"\n")).unwrap().network.dns.len(), 1);
    assert!(parse(&format!("{base}dns = []\n")).unwrap().network.dns.is_empty());
    assert_eq!(
        errors(&format!("{base}dns = [\"1.1.1.1\", 5]\n")),
        ["config.toml line 4, column 19: [network] dns must be a list of addresses in quotes, not a number"]
    );
    assert_eq!(
        warnings(&format!("{base}dns = [\"0.0.0.0\"]\n")),
        ["config.toml line 4, column 7: [network] dns entry \"0.0.0.0\" cannot be a DNS server and will be skipped"]
    );
}

#[test]
fn dhcp_ignores_static_settings_with_a_warning() {
    assert_eq!(
        warnings("[provider]\nactive = \"local\"\n[network]\naddress = \"10.0.2.15/24\"\n"),
        ["config.toml line 4, column 11: [network] address is ignored because mode = \"dhcp\": set mode = \"static\" \
          to use it"]
    );
}

#[test]
fn unknown_keys_are_warnings_with_suggestions() {
    let text = "[provider]\nactive = \"anthropic\"\n\n[providers.anthropic]\napi_key = \"sk-ant-x\"\n\
                modle = \"claude\"\ntemperature = 0.7\n\n[netwrok]\nmode = \"dhcp\"\n\n[anthropic]\napi_key = \"x\"\n\n\
                [providers.antropic]\n\n\
                [providers.ollama]\n\n[tls]\nextra-ca-file = \"x\"\n";
    assert_eq!(
        warnings(text),
        [
            "config.toml line 6, column 1: unknown key `modle` in [providers.anthropic] — did you mean `model`?",
            "config.toml line 7, column 1: unknown key `temperature` in [providers.anthropic] is ignored",
            "config.toml line 9, column 1: unknown table [netwrok] — did you mean [network]?",
            "config.toml line 12, column 1: unknown table [anthropic] — did you mean [providers.anthropic]?",
            "config.toml line 15, column 1: [providers.antropic] is not a provider — did you mean \
             [providers.anthropic]?",
            "config.toml line 17, column 1: [providers.ollama] is not a provider and is ignored: use anthropic, \
             openai, \
             groq, xai, openai-compatible or local (openai-compatible covers Ollama, llama.cpp, vLLM and OpenRouter)",
            "config.toml line 20, column 1: unknown key `extra-ca-file` in [tls] — did you mean `extra_ca_file`?",
        ]
    );
    // `parse` accepts the file and drops the unknown keys; `parse_with_warnings` reports them.
    assert!(parse(text).is_ok());
    let parsed = parse_with_warnings(text).unwrap();
    assert_eq!(parsed.warnings.len(), 7);
    assert!(parsed.warnings.iter().all(|w| w.severity == Severity::Warning));
    assert_eq!(parsed.warnings[0].field.as_deref(), Some("providers.anthropic.modle"));
    assert_eq!(
        parsed.warnings[0].kind,
        ProblemKind::UnknownKey {
            table: "providers.anthropic".into(),
            key: "modle".into(),
            suggestion: Some("model".into())
        }
    );
    assert_eq!(
        warnings("verbose = true\n[provider]\nactive = \"local\"\n"),
        ["config.toml line 1, column 1: unknown key `verbose` at the top of the file is ignored"]
    );
}

#[test]
fn relative_paths_are_warned_about() {
    assert_eq!(
        warnings("[provider]\nactive = \"local\"\n[tls]\nextra_ca_file = \"ca.pem\"\n"),
        ["config.toml line 4, column 17: [tls] extra_ca_file = \"ca.pem\" should be a full path on the boot \
          partition starting with a backslash, like \"\\moteos\\ca.pem\""]
    );
    assert_eq!(
        errors("[provider]\nactive = \"local\"\n[providers.local]\nmodel_file = \"\"\n"),
        ["config.toml line 4, column 14: [providers.local] needs model_file, the path of a .gguf file on the boot \
          partition, like \"\\moteos\\model.gguf\""]
    );
}

#[test]
fn every_problem_is_reported_errors_first() {
    let text = "[provider]\nactive = \"openai\"\nextra = 1\n[providers.openai]\napi_key = \"\"\n\
                base_url = \"gopher://x\"\n\
                [network]\nmode = \"static\"\n";
    let err = parse_file(text.as_bytes()).unwrap_err();
    let problems: &[ConfigProblem] = err.problems();
    let severities: Vec<Severity> = problems.iter().map(|p| p.severity).collect();
    assert_eq!(
        severities,
        [Severity::Error, Severity::Error, Severity::Error, Severity::Warning, Severity::Warning, Severity::Warning]
    );
    assert_eq!(
        err.to_string(),
        "config.toml line 5, column 11: [providers.openai] api_key is empty: paste your OpenAI API key (it starts \
         with sk-) (and 2 more errors)"
    );
    assert_eq!(err.location(), Some(Location { line: 5, column: 11 }));
    let fields: Vec<Option<&str>> = problems.iter().map(|p| p.field.as_deref()).collect();
    assert!(fields.contains(&Some("providers.openai.base_url")), "{fields:?}");
}

#[test]
fn validate_works_without_a_file() {
    let mut config = parse("[provider]\nactive = \"anthropic\"\n").unwrap();
    let problems = config.validate();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].location, None);
    assert_eq!(
        problems[0].to_string(),
        "[provider] active = \"anthropic\" but there is no [providers.anthropic] table: add one with your api_key"
    );
    config.providers.anthropic = Some(config::CloudProvider { api_key: "sk-ant-k".into(), ..Default::default() });
    assert!(config.validate().is_empty());
}
