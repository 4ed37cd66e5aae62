//! The windows that open over the chat: help, the provider and model pickers, the
//! power-off question and the setup wizard.

use alloc::string::String;
use alloc::vec::Vec;

use llm::ProviderId;

/// A window over the chat, with its own keys.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    /// Keys and commands (F1).
    Help,
    /// A list to choose from (F2, F3).
    Picker(Picker),
    /// Switch off? (F10)
    ConfirmPowerOff {
        /// Whether "Power off" (rather than "Cancel") is focused.
        yes_focused: bool,
    },
    /// The setup wizard (at first boot, with a broken configuration, F4 \u{2192} Run setup).
    Wizard(alloc::boxed::Box<crate::wizard::Wizard>),
}

/// What a picker chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PickerKind {
    /// The provider (F2).
    Provider,
    /// The model of a provider (F3).
    Model(ProviderId),
    /// A saved conversation (`/chats`, F5).
    Conversation,
    /// A setting to edit (F4).
    Setting,
}

/// One choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// What is shown and chosen.
    pub label: String,
    /// Dimmed detail on the right.
    pub detail: String,
    /// The one in use.
    pub current: bool,
    /// Why it cannot be chosen, if it cannot.
    pub disabled: Option<String>,
}

/// A list with a highlighted entry and a filter typed by the user.
#[derive(Clone, Debug, PartialEq)]
pub struct Picker {
    /// What is chosen.
    pub kind: PickerKind,
    /// Every choice.
    pub choices: Vec<Choice>,
    /// What was typed to narrow the list.
    pub filter: String,
    /// The highlighted entry, an index into [`visible`](Self::visible).
    pub selected: usize,
    /// A line of status: "loading...", why the list is a fallback.
    pub status: String,
}

impl Picker {
    /// A picker over `choices` with the current one highlighted.
    pub fn new(kind: PickerKind, choices: Vec<Choice>, status: String) -> Picker {
        let selected = choices.iter().position(|c| c.current).unwrap_or(0);
        Picker { kind, choices, filter: String::new(), selected, status }
    }

    /// Replaces the choices (a list arrived), keeping the highlight on the current one.
    pub fn set_choices(&mut self, choices: Vec<Choice>, status: String) {
        self.choices = choices;
        self.status = status;
        self.selected = self.visible().iter().position(|&i| self.choices[i].current).unwrap_or(0);
    }

    /// Indices of the choices matching the filter (case-insensitive substring).
    pub fn visible(&self) -> Vec<usize> {
        let filter = self.filter.to_lowercase();
        (0..self.choices.len()).filter(|&i| self.choices[i].label.to_lowercase().contains(&filter)).collect()
    }

    /// The highlighted choice.
    pub fn highlighted(&self) -> Option<&Choice> {
        self.visible().get(self.selected).map(|&i| &self.choices[i])
    }

    /// Moves the highlight by `delta`, stopping at the ends.
    pub fn move_by(&mut self, delta: isize) {
        let len = self.visible().len();
        if len == 0 {
            self.selected = 0;
            return;
        }
        self.selected = self.selected.saturating_add_signed(delta).min(len - 1);
    }

    /// Types into the filter.
    pub fn type_char(&mut self, c: char) {
        self.filter.push(c);
        self.selected = 0;
    }

    /// Deletes from the filter; false when it was empty.
    pub fn backspace(&mut self) -> bool {
        let removed = self.filter.pop().is_some();
        self.selected = 0;
        removed
    }
}
