//! Chat templates: a conversation rendered as the text the model was trained on.
//!
//! Models ship their template as Jinja source (`tokenizer.chat_template`). Rather than carry a
//! Jinja interpreter into the OS, the source is recognised as one of the few formats that
//! small models use and rendered by code that produces the same text: ChatML
//! (`<|im_start|>`, SmolLM, Qwen), Llama 3 (`<|start_header_id|>`), Llama 2 (`[INST]`), Gemma
//! (`<start_of_turn>`) and Phi-3 (`<|user|>`).
//! The one data-dependent part of such templates, a default system prompt added when the
//! conversation has none (SmolLM2 adds "You are a helpful AI assistant named SmolLM..."), is
//! read from the template source.

use alloc::string::String;

use super::TokenizerError;

/// Who said something in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions for the assistant.
    System,
    /// The person chatting.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The role's name as chat templates write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One turn of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: &'a str,
}

impl<'a> Message<'a> {
    /// A system message.
    pub fn system(content: &'a str) -> Self {
        Self { role: Role::System, content }
    }

    /// A user message.
    pub fn user(content: &'a str) -> Self {
        Self { role: Role::User, content }
    }

    /// An assistant message.
    pub fn assistant(content: &'a str) -> Self {
        Self { role: Role::Assistant, content }
    }
}

/// The conversation formats this crate renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatStyle {
    /// `<|im_start|>role\ncontent<|im_end|>\n` turns.
    ChatMl,
    /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` turns.
    Llama3,
    /// `<s>[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] assistant </s>` turns.
    Llama2,
    /// `<start_of_turn>user\ncontent<end_of_turn>\n` turns, `model` for the assistant, the
    /// system prompt folded into the first user turn (Gemma).
    Gemma,
    /// `<|user|>\ncontent<|end|>\n` turns (Phi-3; Phi-4-mini writes no newlines).
    Phi3,
}

/// A recognised chat template, ready to render conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTemplate {
    style: ChatStyle,
    default_system: Option<String>,
    /// The template writes the BOS token text itself (Llama 3 and Llama 2 templates do).
    writes_bos: bool,
    bos: Option<String>,
    eos: Option<String>,
    /// Phi-3 style only: a newline follows each role tag and each `<|end|>`.
    newlines: bool,
}

impl ChatTemplate {
    /// Recognises a template from its Jinja source.
    ///
    /// [`TokenizerError::UnknownChatTemplate`] when it is none of the supported styles.
    pub fn detect(source: &str) -> Result<Self, TokenizerError> {
        let style = if source.contains("<start_of_turn>") {
            ChatStyle::Gemma
        } else if source.contains("<|user|>") && source.contains("<|end|>") {
            ChatStyle::Phi3
        } else if source.contains("<|im_start|>") {
            ChatStyle::ChatMl
        } else if source.contains("<|start_header_id|>") {
            ChatStyle::Llama3
        } else if source.contains("[INST]") {
            ChatStyle::Llama2
        } else {
            return Err(TokenizerError::UnknownChatTemplate);
        };
        let default_system = match style {
            ChatStyle::ChatMl => default_system_prompt(source),
            _ => None,
        };
        let newlines = source.contains("<|user|>\n") || source.contains("<|user|>\\n");
        Ok(Self { style, default_system, writes_bos: source.contains("bos_token"), bos: None, eos: None, newlines })
    }

    /// Plain ChatML without a default system prompt: the fallback for unknown templates.
    pub fn chatml() -> Self {
        Self::plain(ChatStyle::ChatMl)
    }

    /// A format in its plain form (no default system prompt; Llama-style formats write the BOS
    /// token): what a model of a known family without a template in its file gets.
    pub fn plain(style: ChatStyle) -> Self {
        let writes_bos = matches!(style, ChatStyle::Llama3 | ChatStyle::Llama2 | ChatStyle::Gemma);
        Self { style, default_system: None, writes_bos, bos: None, eos: None, newlines: true }
    }

    /// The control text that ends a turn in this format (the model stops on it).
    pub fn end_of_turn(&self) -> &'static str {
        match self.style {
            ChatStyle::ChatMl => "<|im_end|>",
            ChatStyle::Llama3 => "<|eot_id|>",
            ChatStyle::Llama2 => "</s>",
            ChatStyle::Gemma => "<end_of_turn>",
            ChatStyle::Phi3 => "<|end|>",
        }
    }

    /// Tells the template the texts of the model's BOS and EOS tokens, which Llama-style
    /// templates write into the conversation.
    pub fn with_special_tokens(mut self, bos: Option<String>, eos: Option<String>) -> Self {
        self.bos = bos;
        self.eos = eos;
        self
    }

    /// The format.
    pub fn style(&self) -> ChatStyle {
        self.style
    }

    /// The system prompt the template adds when a conversation does not start with one.
    pub fn default_system_prompt(&self) -> Option<&str> {
        self.default_system.as_deref()
    }

    /// Whether the rendered text already starts with the BOS token's text, in which case the
    /// caller must not add another BOS when encoding it.
    pub fn renders_bos(&self) -> bool {
        self.writes_bos && self.bos.is_some() && self.style != ChatStyle::ChatMl
    }

    /// Renders a conversation; with `add_generation_prompt` the text ends where the
    /// assistant's next reply begins. The result is meant to be encoded with special-token
    /// parsing on.
    pub fn render(&self, messages: &[Message<'_>], add_generation_prompt: bool) -> String {
        let mut out = String::new();
        match self.style {
            ChatStyle::ChatMl => self.render_chatml(messages, add_generation_prompt, &mut out),
            ChatStyle::Llama3 => self.render_llama3(messages, add_generation_prompt, &mut out),
            ChatStyle::Llama2 => self.render_llama2(messages, &mut out),
            ChatStyle::Gemma => self.render_gemma(messages, add_generation_prompt, &mut out),
            ChatStyle::Phi3 => self.render_phi3(messages, add_generation_prompt, &mut out),
        }
        out
    }

    /// Gemma: no system role; a leading system message becomes the start of the first turn,
    /// followed by a blank line. Turn contents are trimmed.
    fn render_gemma(&self, messages: &[Message<'_>], add_generation_prompt: bool, out: &mut String) {
        if self.renders_bos()
            && let Some(bos) = &self.bos
        {
            out.push_str(bos);
        }
        let (system, turns) = match messages.split_first() {
            Some((first, rest)) if first.role == Role::System => (Some(first.content), rest),
            _ => (None, messages),
        };
        for (i, message) in turns.iter().enumerate() {
            let role = match message.role {
                Role::Assistant => "model",
                Role::User | Role::System => "user",
            };
            for part in ["<start_of_turn>", role, "\n"] {
                out.push_str(part);
            }
            if let (0, Some(system)) = (i, system) {
                out.push_str(system);
                out.push_str("\n\n");
            }
            out.push_str(message.content.trim());
            out.push_str("<end_of_turn>\n");
        }
        if add_generation_prompt {
            out.push_str("<start_of_turn>model\n");
        }
    }

    /// Phi-3: `<|role|>` tags and `<|end|>`; without a generation prompt the text ends with EOS.
    fn render_phi3(&self, messages: &[Message<'_>], add_generation_prompt: bool, out: &mut String) {
        let nl = if self.newlines { "\n" } else { "" };
        for message in messages {
            for part in ["<|", message.role.as_str(), "|>", nl, message.content, "<|end|>", nl] {
                out.push_str(part);
            }
        }
        if add_generation_prompt {
            out.push_str("<|assistant|>");
            out.push_str(nl);
        } else if let Some(eos) = &self.eos {
            out.push_str(eos);
        }
    }

    fn render_chatml(&self, messages: &[Message<'_>], add_generation_prompt: bool, out: &mut String) {
        let turn = |out: &mut String, role: &str, content: &str| {
            for part in ["<|im_start|>", role, "\n", content, "<|im_end|>\n"] {
                out.push_str(part);
            }
        };
        if let Some(system) = &self.default_system
            && messages.first().is_some_and(|m| m.role != Role::System)
        {
            turn(out, "system", system);
        }
        for message in messages {
            turn(out, message.role.as_str(), message.content);
        }
        if add_generation_prompt {
            out.push_str("<|im_start|>assistant\n");
        }
    }

    fn render_llama3(&self, messages: &[Message<'_>], add_generation_prompt: bool, out: &mut String) {
        if self.renders_bos()
            && !messages.is_empty()
            && let Some(bos) = &self.bos
        {
            out.push_str(bos);
        }
        for message in messages {
            for part in ["<|start_header_id|>", message.role.as_str(), "<|end_header_id|>\n\n", message.content.trim()]
            {
                out.push_str(part);
            }
            out.push_str("<|eot_id|>");
        }
        if add_generation_prompt {
            out.push_str("<|start_header_id|>assistant<|end_header_id|>\n\n");
        }
    }

    /// Llama 2 folds the system prompt into the first user turn and has no generation
    /// prompt: a rendered conversation ending in a user turn already ends with `[/INST]`.
    fn render_llama2(&self, messages: &[Message<'_>], out: &mut String) {
        let (system, turns) = match messages.split_first() {
            Some((first, rest)) if first.role == Role::System => (Some(first.content), rest),
            _ => (None, messages),
        };
        let bos = self.bos.as_deref().unwrap_or_default();
        let eos = self.eos.as_deref().unwrap_or_default();
        for (i, message) in turns.iter().enumerate() {
            let content = message.content.trim();
            match message.role {
                // A later system message has no place in this format: it is said as a user turn.
                Role::User | Role::System => {
                    out.push_str(bos);
                    out.push_str("[INST] ");
                    if let (0, Some(system)) = (i, system) {
                        out.push_str("<<SYS>>\n");
                        out.push_str(system);
                        out.push_str("\n<</SYS>>\n\n");
                    }
                    out.push_str(content);
                    out.push_str(" [/INST]");
                }
                Role::Assistant => {
                    out.push(' ');
                    out.push_str(content);
                    out.push(' ');
                    out.push_str(eos);
                }
            }
        }
    }
}

/// Finds a literal system turn in a ChatML template (`'<|im_start|>system\n...<|im_end|>'`):
/// the prompt the template adds when the conversation brings none.
fn default_system_prompt(source: &str) -> Option<String> {
    const OPEN: &str = "<|im_start|>system";
    let mut rest = source;
    while let Some(at) = rest.find(OPEN) {
        rest = &rest[at + OPEN.len()..];
        // Jinja sources hold the newline either as itself or as the escape `\n`.
        let body = rest.strip_prefix('\n').or_else(|| rest.strip_prefix("\\n"));
        let Some(body) = body else { continue };
        let Some(end) = body.find("<|im_end|>") else { continue };
        let literal = &body[..end];
        // `' + messages[0]['content'] + '` is an expression, not a literal prompt.
        if literal.is_empty() || literal.contains(['\'', '"', '{', '}']) {
            continue;
        }
        return Some(unescape(literal));
    }
    None
}

/// Resolves the escapes a Jinja string literal may contain.
fn unescape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    let mut chars = literal.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    const LLAMA3: &str = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    const LLAMA2: &str = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    /// Qwen-style: the system turn is an expression, not a literal, when the user gives one.
    const CHATML_NO_DEFAULT: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    #[test]
    fn smollm2_adds_its_default_system_prompt() {
        let t = ChatTemplate::detect(SMOLLM2).unwrap();
        assert_eq!(t.style(), ChatStyle::ChatMl);
        assert_eq!(
            t.default_system_prompt(),
            Some("You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        );
        assert_eq!(
            t.render(&[Message::user("Hi")], true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
             <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        assert_eq!(
            t.render(&[Message::system("Be brief."), Message::user("Hi"), Message::assistant("Hello!")], false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
             <|im_start|>assistant\nHello!<|im_end|>\n"
        );
        assert!(!t.renders_bos());
    }

    #[test]
    fn chatml_without_default_prompt() {
        let t = ChatTemplate::detect(CHATML_NO_DEFAULT).unwrap();
        assert_eq!(t.default_system_prompt(), None);
        assert_eq!(t.render(&[Message::user("x")], true), "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n");
        assert_eq!(ChatTemplate::chatml().render(&[Message::user("x")], false), "<|im_start|>user\nx<|im_end|>\n");
    }

    #[test]
    fn llama3_rendering() {
        let t = ChatTemplate::detect(LLAMA3)
            .unwrap()
            .with_special_tokens(Some("<|begin_of_text|>".into()), Some("<|eot_id|>".into()));
        assert_eq!(t.style(), ChatStyle::Llama3);
        assert!(t.renders_bos());
        assert_eq!(
            t.render(&[Message::system("Sys"), Message::user(" Hi \n")], true),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nSys<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    }

    #[test]
    fn llama2_rendering() {
        let t = ChatTemplate::detect(LLAMA2).unwrap().with_special_tokens(Some("<s>".into()), Some("</s>".into()));
        assert_eq!(t.style(), ChatStyle::Llama2);
        assert_eq!(
            t.render(
                &[Message::system("Sys"), Message::user("Hi"), Message::assistant("Hello"), Message::user("More")],
                true
            ),
            "<s>[INST] <<SYS>>\nSys\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] More [/INST]"
        );
        assert_eq!(t.render(&[Message::user(" a ")], true), "<s>[INST] a [/INST]");
    }

    #[test]
    fn unknown_template_is_an_error() {
        let err = ChatTemplate::detect("{{ messages }}").unwrap_err();
        assert_eq!(err, TokenizerError::UnknownChatTemplate);
        assert!(alloc::format!("{err}").contains("ChatML"));
    }
}
