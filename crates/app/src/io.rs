//! What reaches the application ([`Input`]) and what it asks the machine to do
//! ([`Effect`]). Both are plain data: the kernel turns interrupts into inputs and runs
//! effects on devices; tests do the same with vectors.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use hal::keys::KeyEvent;
use llm::{Message, Provider, ReplyEvent};
use tui::ui::Geometry;

/// Identifies one request (a reply or a model list) so late events of a cancelled one are
/// recognised and dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Something that happened.
#[derive(Clone, Debug)]
pub enum Input {
    /// A key was pressed (any keyboard, or the serial console).
    Key(KeyEvent),
    /// An event of a reply started with [`Effect::StartReply`].
    Reply {
        /// Which request.
        id: RequestId,
        /// What happened.
        event: ReplyEvent,
    },
    /// The answer to [`Effect::FetchModels`]: the model ids, or why there are none.
    Models {
        /// Which request.
        id: RequestId,
        /// The list, or a sentence saying why it could not be fetched.
        result: Result<Vec<String>, String>,
    },
    /// The network changed (address, link, DHCP).
    Network(NetInfo),
    /// Something worth telling the user that did not come from the chat (a failed
    /// download, weak entropy, a wrong clock).
    Notice(String),
    /// The screen's size in pixels (at start, and if it ever changes).
    Screen {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// A frame was drawn; what its layout measured (for scrolling by pages).
    Layout(Geometry),
    /// Time passed (a timer fired); nothing else happened.
    Tick,
    /// The answer to [`Effect::ListDir`]: the files of the folder (none when it does not
    /// exist), or why it could not be read.
    Dir {
        /// Which request.
        id: RequestId,
        /// Names and sizes in bytes, or a sentence.
        result: Result<Vec<(String, u64)>, String>,
    },
    /// The answer to [`Effect::ReadFiles`]: each path with its bytes or why not.
    Files {
        /// Which request.
        id: RequestId,
        /// In the order asked.
        files: Vec<(String, Result<Vec<u8>, String>)>,
    },
    /// The answer to [`Effect::WriteFile`] and [`Effect::SaveSettings`]: where the data went
    /// (a short phrase for the log) or why it could not be kept anywhere.
    Written {
        /// Which request.
        id: RequestId,
        /// Where, or a sentence saying why not.
        result: Result<String, String>,
    },
}

/// The network as the header shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetInfo {
    /// Where it stands.
    pub phase: NetPhase,
    /// Our address, e.g. `10.0.2.15/24`.
    pub address: Option<String>,
    /// One line of detail for the log and the status bar (DHCP state, card name).
    pub detail: String,
}

/// The network's state in one word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NetPhase {
    /// No network card was found.
    #[default]
    Offline,
    /// Waiting for DHCP or a link.
    Connecting,
    /// An address is configured.
    Connected,
    /// DHCP keeps failing, or the link is down.
    Error,
}

/// What the application asks the machine to do.
#[derive(Clone, Debug)]
pub enum Effect {
    /// Start producing a reply; its events come back as [`Input::Reply`] with `id`.
    StartReply(ReplyJob),
    /// Stop the reply `id` now (connections reset, computation ended). No further events
    /// of it are expected.
    CancelReply(RequestId),
    /// Fetch the models `provider` offers; the answer comes back as [`Input::Models`].
    FetchModels {
        /// Which request.
        id: RequestId,
        /// Whom to ask.
        provider: Provider,
    },
    /// Write text to the serial console (the line-mode chat); no newline is added.
    Console(String),
    /// Write a line to the log.
    Log(Level, String),
    /// Draw the whole screen again (Ctrl+L).
    Redraw,
    /// Switch the machine off (ACPI S5 / PSCI SYSTEM_OFF).
    PowerOff,
    /// List a folder of the boot partition; the answer is [`Input::Dir`].
    ListDir {
        /// Which request.
        id: RequestId,
        /// The folder, e.g. `\\moteos\\chats`.
        path: String,
    },
    /// Read whole files (each at most `limit` bytes); the answer is [`Input::Files`].
    ReadFiles {
        /// Which request.
        id: RequestId,
        /// The files.
        paths: Vec<String>,
        /// The largest file accepted.
        limit: u64,
    },
    /// Replace a file so that a power cut leaves the old or the new version; the answer is
    /// [`Input::Written`].
    WriteFile {
        /// Which request.
        id: RequestId,
        /// The file.
        path: String,
        /// Its new content.
        bytes: Vec<u8>,
    },
    /// Remove a file (and its previous version); nothing comes back, failures are logged.
    RemoveFile {
        /// The file.
        path: String,
    },
    /// Put this `[network]` configuration into effect now (DHCP or a static address),
    /// replacing the one the machine booted with; the change shows in the next
    /// [`Input::Network`].
    ConfigureNetwork(config::NetworkConfig),
    /// Save the settings (`config.toml` text) to the boot partition and the EFI variable
    /// copy; the answer is [`Input::Written`]. The text holds API keys: never log it.
    SaveSettings {
        /// Which request.
        id: RequestId,
        /// The whole file.
        toml: Secret,
    },
}

/// Text that holds secrets: its `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// How important a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Normal operation.
    Info,
    /// Something went wrong but moteOS carries on.
    Warn,
    /// Detail for debugging (typed text never goes higher than this).
    Trace,
}

/// A reply to produce.
#[derive(Clone)]
pub struct ReplyJob {
    /// Which request.
    pub id: RequestId,
    /// Who answers.
    pub target: Target,
    /// Instructions for the model.
    pub system: Option<String>,
    /// The conversation, oldest first, ending with the user's message.
    pub messages: Vec<Message>,
    /// The longest reply asked for, in tokens.
    pub max_tokens: u32,
    /// Sampling temperature; `None` leaves the provider's default.
    pub temperature: Option<f32>,
    /// How the local model samples (from `[providers.local]`, defaults filled in).
    pub sampling: config::LocalSampling,
}

impl fmt::Debug for ReplyJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The messages are the user's words: not for logs.
        f.debug_struct("ReplyJob")
            .field("id", &self.id)
            .field("target", &self.target)
            .field("messages", &self.messages.len())
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

/// Who answers a reply.
#[derive(Clone, Debug)]
pub enum Target {
    /// A provider over HTTP(S) (its `Debug` never shows the key).
    Remote {
        /// The provider, its address and key.
        provider: Provider,
        /// The model to ask.
        model: String,
    },
    /// The model loaded from the boot partition.
    Local,
}
