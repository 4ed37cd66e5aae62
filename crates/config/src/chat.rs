//! `[chat]`: how the conversation looks and what the model is told first.

use core::fmt;

use alloc::string::String;
use serde::Serialize;

/// `[chat]`. A file without this table means the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChatSettings {
    /// Dark (the default) or light colours.
    pub theme: Theme,
    /// Sent before the conversation as the system message; `None` sends none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// How large the text is drawn.
    pub font_scale: FontScale,
}

/// The colour scheme of the chat screen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Light text on a dark background.
    #[default]
    Dark,
    /// Dark text on a light background.
    Light,
}

impl Theme {
    /// Every theme, in the order a picker shows them.
    pub const ALL: [Theme; 2] = [Theme::Dark, Theme::Light];

    /// The name used in `config.toml` and by `/set chat.theme`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Theme::Dark => "dark",
            Theme::Light => "light",
        }
    }

    /// The theme called `name` (any capitalisation).
    pub fn from_name(name: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for Theme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many screen pixels a font pixel takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FontScale {
    /// Chosen from the screen size (the default): 2 on large screens, 1 otherwise.
    #[default]
    Auto,
    /// Every font pixel is one screen pixel.
    One,
    /// Every font pixel is two by two screen pixels.
    Two,
}

impl FontScale {
    /// Every scale, in the order a picker shows them.
    pub const ALL: [FontScale; 3] = [FontScale::Auto, FontScale::One, FontScale::Two];

    /// The fixed factor, or `None` for [`FontScale::Auto`].
    pub const fn factor(self) -> Option<u32> {
        match self {
            FontScale::Auto => None,
            FontScale::One => Some(1),
            FontScale::Two => Some(2),
        }
    }

    /// Reads `auto`, `1` or `2` (as typed after `/set chat.font_scale`).
    pub fn from_name(name: &str) -> Option<FontScale> {
        match name.trim() {
            s if s.eq_ignore_ascii_case("auto") => Some(FontScale::Auto),
            "1" => Some(FontScale::One),
            "2" => Some(FontScale::Two),
            _ => None,
        }
    }
}

impl fmt::Display for FontScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.factor() {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("auto"),
        }
    }
}

/// Written as `font_scale = "auto"`, `1` or `2`.
impl Serialize for FontScale {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.factor() {
            Some(n) => serializer.serialize_u32(n),
            None => serializer.serialize_str("auto"),
        }
    }
}
