//! The two themes: one coherent palette each.

use crate::Rgb;

/// Which theme.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ThemeId {
    /// Deep navy with a warm accent (the default).
    #[default]
    Dark,
    /// Paper white with the same accents, darkened for contrast.
    Light,
}

impl ThemeId {
    /// The name used in settings and commands.
    pub const fn as_str(self) -> &'static str {
        match self {
            ThemeId::Dark => "dark",
            ThemeId::Light => "light",
        }
    }

    /// The theme named `name`.
    pub fn from_name(name: &str) -> Option<ThemeId> {
        match name {
            "dark" => Some(ThemeId::Dark),
            "light" => Some(ThemeId::Light),
            _ => None,
        }
    }

    /// The colours.
    pub const fn theme(self) -> &'static Theme {
        match self {
            ThemeId::Dark => &DARK,
            ThemeId::Light => &LIGHT,
        }
    }
}

/// A palette: background layers, text hierarchy, and accents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    /// The page.
    pub background: Rgb,
    /// Raised panels: the header, the input box, user messages.
    pub surface: Rgb,
    /// One more level up: code blocks, overlays, the selected picker entry.
    pub raised: Rgb,
    /// Hairlines and borders.
    pub border: Rgb,
    /// Body text.
    pub text: Rgb,
    /// Secondary text: labels, hints, detail.
    pub muted: Rgb,
    /// Text on disabled entries and the placeholder.
    pub faint: Rgb,
    /// The user's accent (their label, the cursor, the focus ring).
    pub user: Rgb,
    /// The model's accent.
    pub assistant: Rgb,
    /// Good news: connected, a test that passed.
    pub success: Rgb,
    /// Attention: connecting, a fallback list.
    pub warning: Rgb,
    /// Failures.
    pub error: Rgb,
    /// Code text.
    pub code: Rgb,
    /// Keywords in code.
    pub keyword: Rgb,
    /// Strings in code.
    pub string: Rgb,
    /// Numbers in code.
    pub number: Rgb,
    /// Comments in code.
    pub comment: Rgb,
    /// Links.
    pub link: Rgb,
}

const DARK: Theme = Theme {
    background: Rgb(0x0b, 0x11, 0x1f),
    surface: Rgb(0x14, 0x1c, 0x2e),
    raised: Rgb(0x1c, 0x26, 0x3b),
    border: Rgb(0x26, 0x31, 0x48),
    text: Rgb(0xe8, 0xec, 0xf4),
    muted: Rgb(0x8d, 0x99, 0xb3),
    faint: Rgb(0x5a, 0x66, 0x80),
    user: Rgb(0xf4, 0xb9, 0x4e),
    assistant: Rgb(0x6c, 0xc4, 0xf0),
    success: Rgb(0x5c, 0xc9, 0x8a),
    warning: Rgb(0xf0, 0xc0, 0x4f),
    error: Rgb(0xe5, 0x48, 0x4d),
    code: Rgb(0xd6, 0xdc, 0xea),
    keyword: Rgb(0xc7, 0x92, 0xea),
    string: Rgb(0xa5, 0xd6, 0x7f),
    number: Rgb(0xf7, 0x8c, 0x6c),
    comment: Rgb(0x6a, 0x76, 0x90),
    link: Rgb(0x82, 0xaa, 0xff),
};

const LIGHT: Theme = Theme {
    background: Rgb(0xfa, 0xf9, 0xf6),
    surface: Rgb(0xef, 0xed, 0xe7),
    raised: Rgb(0xe4, 0xe1, 0xd8),
    border: Rgb(0xd0, 0xcc, 0xc0),
    text: Rgb(0x1d, 0x22, 0x2c),
    muted: Rgb(0x5c, 0x63, 0x70),
    faint: Rgb(0x9a, 0x9f, 0xa8),
    user: Rgb(0xb0, 0x6a, 0x00),
    assistant: Rgb(0x1f, 0x6f, 0xb2),
    success: Rgb(0x1e, 0x87, 0x4b),
    warning: Rgb(0xa0, 0x6a, 0x00),
    error: Rgb(0xc0, 0x2b, 0x30),
    code: Rgb(0x24, 0x29, 0x33),
    keyword: Rgb(0x8e, 0x3c, 0xb8),
    string: Rgb(0x3b, 0x7d, 0x1e),
    number: Rgb(0xb8, 0x4a, 0x1c),
    comment: Rgb(0x7b, 0x82, 0x8e),
    link: Rgb(0x1d, 0x5f, 0xd6),
};
