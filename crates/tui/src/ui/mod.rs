//! The chat application's screen as data ([`Frame`]) and the [`Renderer`] that draws it.
//!
//! The application (`app` crate) decides what is on screen and builds a [`Frame`] that
//! borrows its state; the renderer lays it out (wrapping, markdown, scrolling), draws it on
//! a [`Canvas`](crate::Canvas) and redraws only what changed, so a keystroke or a streamed
//! token touches a few rows, not the whole frame.

mod highlight;
pub mod layout;
pub mod markdown;
pub mod mdparse;
mod overlay;
mod paint;
mod render;
mod theme;

pub use paint::Sizes;
pub use render::{Geometry, Renderer, render_once};
pub use theme::{Theme, ThemeId};

/// Everything on screen.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Colours.
    pub theme: ThemeId,
    /// The bar at the top.
    pub header: Header<'a>,
    /// The conversation.
    pub transcript: Transcript<'a>,
    /// The input editor.
    pub input: InputBox<'a>,
    /// A banner above the input (an error, a hint); `None` for none.
    pub notice: Option<Notice<'a>>,
    /// A window over the chat (help, a picker, a question); `None` for none.
    pub overlay: Option<Overlay<'a>>,
}

/// The header bar.
#[derive(Clone, Copy, Debug, Default)]
pub struct Header<'a> {
    /// Provider and model, e.g. "Anthropic · claude-sonnet-4-5".
    pub provider: &'a str,
    /// The network in one word.
    pub net: NetBadge,
    /// The network's detail, e.g. "10.0.2.15".
    pub net_text: &'a str,
    /// Generation speed while a reply streams, e.g. "42 tok/s"; empty for none.
    pub speed: &'a str,
    /// Context use, e.g. "1.2k / 200k tokens"; empty for none.
    pub context: &'a str,
}

/// The network's state, drawn as a coloured dot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NetBadge {
    /// No network card.
    #[default]
    Offline,
    /// Waiting for an address.
    Connecting,
    /// Configured.
    Connected,
    /// Failing.
    Error,
}

/// The conversation.
#[derive(Clone, Copy, Debug)]
pub struct Transcript<'a> {
    /// The blocks, oldest first.
    pub blocks: &'a [Block<'a>],
    /// Which part is visible.
    pub scroll: Scroll,
    /// Shown centred when there are no blocks (a welcome, a hint).
    pub empty_hint: &'a str,
}

/// Which part of the conversation is visible.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scroll {
    /// The newest text, following it as it streams.
    #[default]
    Follow,
    /// The transcript from this line (counted from the top, in body lines) on.
    FromTop(u32),
}

/// One block of the conversation.
#[derive(Clone, Copy, Debug)]
pub struct Block<'a> {
    /// Stable for the block's life (its layout is cached under it).
    pub id: u64,
    /// Whose it is: decides the accent and label.
    pub kind: BlockKind,
    /// The text (markdown for assistant blocks).
    pub text: &'a str,
    /// A short mark after the label, e.g. "cut short" or "not sent".
    pub mark: Option<&'a str>,
    /// Text is still arriving (a cursor is drawn at its end).
    pub streaming: bool,
}

/// Whose a block is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockKind {
    /// The person at the keyboard (plain text).
    User,
    /// The model (markdown).
    Assistant,
    /// moteOS reporting an error.
    Error,
    /// moteOS answering a command or noting something.
    Info,
}

/// The input editor.
#[derive(Clone, Copy, Debug)]
pub struct InputBox<'a> {
    /// The text (lines separated by `\n`).
    pub text: &'a str,
    /// The cursor, a byte offset into `text`.
    pub cursor: usize,
    /// Draw bullets instead of the characters (a key being typed).
    pub masked: bool,
    /// Shown while the text is empty.
    pub placeholder: &'a str,
    /// A short hint under the box (keys).
    pub hint: &'a str,
}

/// A banner above the input.
#[derive(Clone, Copy, Debug)]
pub struct Notice<'a> {
    /// The sentence.
    pub text: &'a str,
    /// How it is coloured.
    pub level: NoticeLevel,
}

/// How a notice is coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeLevel {
    /// Neutral information.
    Info,
    /// Something to look at.
    Warning,
    /// Something failed.
    Error,
}

/// A window over the chat.
#[derive(Clone, Copy, Debug)]
pub enum Overlay<'a> {
    /// The keys and commands.
    Help(&'a [HelpSection<'a>]),
    /// A list to choose from.
    Picker(Picker<'a>),
    /// A yes/no question.
    Confirm(Confirm<'a>),
    /// The setup wizard: one step of it.
    Wizard(Wizard<'a>),
}

/// One step of the setup wizard: a title, what the step is about, its rows (choices and
/// text fields) and a result line.
#[derive(Clone, Copy, Debug)]
pub struct Wizard<'a> {
    /// The window's title, e.g. "Set up moteOS".
    pub title: &'a str,
    /// Where the user is, e.g. "Step 2 of 6 \u{b7} Provider".
    pub step: &'a str,
    /// A problem shown at the top in the error colour (a broken `config.toml`).
    pub problem: Option<&'a str>,
    /// What this step is for (wrapped).
    pub intro: &'a str,
    /// The rows of the step.
    pub rows: &'a [WizardRow<'a>],
    /// The focused row.
    pub focus: usize,
    /// The outcome of the step (a test passed, an input was refused), coloured by level.
    pub status: Option<Notice<'a>>,
    /// The keys at the bottom.
    pub keys: &'a str,
}

/// One row of a wizard step.
#[derive(Clone, Copy, Debug)]
pub struct WizardRow<'a> {
    /// The name on the left.
    pub label: &'a str,
    /// What the row is.
    pub kind: WizardRowKind<'a>,
}

/// What a wizard row is.
#[derive(Clone, Copy, Debug)]
pub enum WizardRowKind<'a> {
    /// One of several choices; `chosen` marks the one in effect.
    Choice {
        /// The one in effect.
        chosen: bool,
        /// Dimmed detail on the right.
        detail: &'a str,
        /// Cannot be chosen (drawn dimmed).
        disabled: bool,
    },
    /// A text field: a window of it around the cursor is shown when it is longer than the
    /// field.
    Field {
        /// The text.
        text: &'a str,
        /// The cursor, a byte offset into `text`.
        cursor: usize,
        /// Bullets instead of the characters (an API key).
        masked: bool,
        /// Shown dimmed while the text is empty.
        placeholder: &'a str,
    },
    /// A value to read (a summary line).
    Info {
        /// The value.
        value: &'a str,
    },
}

/// A titled group of help lines.
#[derive(Clone, Copy, Debug)]
pub struct HelpSection<'a> {
    /// The group's title.
    pub title: &'a str,
    /// (keys, what they do).
    pub lines: &'a [(&'a str, &'a str)],
}

/// A list to choose from.
#[derive(Clone, Copy, Debug)]
pub struct Picker<'a> {
    /// What is being chosen ("Provider", "Model").
    pub title: &'a str,
    /// The entries.
    pub items: &'a [PickerItem<'a>],
    /// The highlighted entry.
    pub selected: usize,
    /// What was typed to filter the list.
    pub filter: &'a str,
    /// A line under the title (loading, why the list is a fallback).
    pub status: &'a str,
}

/// One entry of a picker.
#[derive(Clone, Copy, Debug)]
pub struct PickerItem<'a> {
    /// The name.
    pub label: &'a str,
    /// Detail on the right (dimmed).
    pub detail: &'a str,
    /// The entry in use (marked).
    pub current: bool,
    /// Cannot be chosen (drawn dimmed).
    pub disabled: bool,
}

/// A yes/no question.
#[derive(Clone, Copy, Debug)]
pub struct Confirm<'a> {
    /// The question.
    pub title: &'a str,
    /// What happens.
    pub text: &'a str,
    /// The label of the "yes" button.
    pub yes: &'a str,
    /// The label of the "no" button.
    pub no: &'a str,
    /// Whether "yes" is focused.
    pub yes_focused: bool,
}
