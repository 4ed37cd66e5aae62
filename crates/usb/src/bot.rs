//! Bulk-only transport (USB Mass Storage Class Bulk-Only Transport 1.0): a
//! 31-byte command block wrapper (CBW) out, the data stage, a 13-byte command
//! status wrapper (CSW) in, and the error recovery the spec prescribes (clear a
//! stalled endpoint; reset recovery after a phase error or a CSW that is not
//! valid and meaningful).
//!
//! [`Transaction`] is sans-I/O: it says which transfer to do next and is told
//! how each went. The data itself stays with the caller.

use crate::UsbError;
use crate::error::{le32, need};
use crate::scsi::{Command, Direction};

/// Length of a command block wrapper.
pub const CBW_LEN: usize = 31;
/// Length of a command status wrapper.
pub const CSW_LEN: usize = 13;
const CBW_SIGNATURE: u32 = 0x4342_5355;
const CSW_SIGNATURE: u32 = 0x5342_5355;

/// Builds the CBW for `command` with `tag`, addressed to `lun`.
pub fn command_block(tag: u32, lun: u8, command: &Command) -> [u8; CBW_LEN] {
    let mut cbw = [0u8; CBW_LEN];
    cbw[0..4].copy_from_slice(&CBW_SIGNATURE.to_le_bytes());
    cbw[4..8].copy_from_slice(&tag.to_le_bytes());
    cbw[8..12].copy_from_slice(&command.transfer_length.to_le_bytes());
    cbw[12] = if command.direction == Direction::In { 0x80 } else { 0 };
    cbw[13] = lun & 0x0f;
    let cdb = command.bytes();
    cbw[14] = cdb.len() as u8;
    cbw[15..15 + cdb.len()].copy_from_slice(cdb);
    cbw
}

/// The outcome a CSW reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandStatus {
    /// The command passed; `residue` bytes of the data stage were not moved.
    Passed {
        /// Bytes expected but not transferred.
        residue: u32,
    },
    /// The command failed: ask REQUEST SENSE why.
    Failed,
    /// The device lost track of the protocol: reset recovery is needed.
    PhaseError,
}

/// Parses a CSW answering the command with `tag` and `expected` data bytes.
/// A CSW that is not "valid and meaningful" (BOT 6.3) is an error.
pub fn parse_status(bytes: &[u8], tag: u32, expected: u32) -> Result<CommandStatus, UsbError> {
    need("command status wrapper", bytes, CSW_LEN)?;
    if bytes.len() != CSW_LEN {
        return Err(UsbError::Malformed { what: "command status wrapper", why: "longer than 13 bytes" });
    }
    if le32(bytes, 0) != CSW_SIGNATURE {
        return Err(UsbError::Malformed { what: "command status wrapper", why: "wrong signature" });
    }
    if le32(bytes, 4) != tag {
        return Err(UsbError::Malformed { what: "command status wrapper", why: "tag of another command" });
    }
    let residue = le32(bytes, 8);
    match bytes[12] {
        0 | 1 if residue > expected => {
            Err(UsbError::Malformed { what: "command status wrapper", why: "residue larger than the transfer" })
        }
        0 => Ok(CommandStatus::Passed { residue }),
        1 => Ok(CommandStatus::Failed),
        2 => Ok(CommandStatus::PhaseError),
        _ => Err(UsbError::Malformed { what: "command status wrapper", why: "unknown status" }),
    }
}

/// Which bulk endpoint a step uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipe {
    /// Bulk IN.
    In,
    /// Bulk OUT.
    Out,
}

/// The next thing the caller must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotStep {
    /// Send these 31 bytes on bulk OUT; report with [`Transaction::on_transfer`].
    SendCommand([u8; CBW_LEN]),
    /// Receive up to this many bytes of data on bulk IN.
    DataIn(u32),
    /// Send this many bytes of the caller's data on bulk OUT.
    DataOut(u32),
    /// Receive the 13-byte CSW on bulk IN; report with [`Transaction::on_status`].
    ReceiveStatus,
    /// Clear the halt of a stalled endpoint (CLEAR_FEATURE(ENDPOINT_HALT));
    /// report with [`Transaction::on_transfer`].
    ClearHalt(Pipe),
    /// Reset recovery: mass storage reset, then clear the halt of both
    /// endpoints; report with [`Transaction::on_transfer`].
    ResetRecovery,
    /// Finished: the bytes moved, or why the command did not pass.
    Done(Result<u32, UsbError>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Command,
    Data,
    Status {
        retried: bool,
    },
    /// Clearing a halt; the status stage that follows is a retry if `retry`.
    ClearHalt {
        retry: bool,
    },
    Recovery,
    Finished,
}

/// One command through the bulk-only transport.
#[derive(Debug, Clone)]
pub struct Transaction {
    tag: u32,
    command: Command,
    stage: Stage,
    moved: u32,
    failure: Option<UsbError>,
}

impl Transaction {
    /// A transaction for `command` with `tag` (the caller picks a new tag per
    /// command, so a stale CSW is recognised).
    pub fn new(tag: u32, command: Command) -> Transaction {
        Transaction { tag, command, stage: Stage::Command, moved: 0, failure: None }
    }

    /// The first step: the CBW for LUN `lun`.
    pub fn start(&mut self, lun: u8) -> BotStep {
        self.stage = Stage::Command;
        BotStep::SendCommand(command_block(self.tag, lun, &self.command))
    }

    /// The outcome of the last transfer (command, data, clear halt or reset
    /// recovery): the bytes moved, or why it failed ([`UsbError::Stalled`] for
    /// a stall).
    pub fn on_transfer(&mut self, result: Result<u32, UsbError>) -> BotStep {
        match (self.stage, result) {
            (Stage::Command, Ok(_)) => match self.command.direction {
                _ if self.command.transfer_length == 0 => self.receive_status(false),
                Direction::None => self.receive_status(false),
                Direction::In => {
                    self.stage = Stage::Data;
                    BotStep::DataIn(self.command.transfer_length)
                }
                Direction::Out => {
                    self.stage = Stage::Data;
                    BotStep::DataOut(self.command.transfer_length)
                }
            },
            (Stage::Command, Err(e)) => self.recover(e),
            (Stage::Data, Ok(moved)) => {
                self.moved = moved.min(self.command.transfer_length);
                self.receive_status(false)
            }
            (Stage::Data, Err(UsbError::Stalled)) => {
                // The device ends the data stage early by stalling; the CSW still follows.
                self.stage = Stage::ClearHalt { retry: false };
                BotStep::ClearHalt(if self.command.direction == Direction::Out { Pipe::Out } else { Pipe::In })
            }
            (Stage::Data, Err(e)) => self.recover(e),
            (Stage::ClearHalt { retry }, Ok(_)) => self.receive_status(retry),
            (Stage::ClearHalt { .. }, Err(e)) => self.recover(e),
            (Stage::Status { .. }, _) => BotStep::Done(Err(UsbError::Command("status reported as a transfer"))),
            (Stage::Recovery, _) => {
                self.stage = Stage::Finished;
                BotStep::Done(Err(self.failure.take().unwrap_or(UsbError::Command("reset recovery"))))
            }
            (Stage::Finished, _) => BotStep::Done(Err(UsbError::Command("transaction already finished"))),
        }
    }

    /// The outcome of receiving the CSW.
    pub fn on_status(&mut self, result: Result<&[u8], UsbError>) -> BotStep {
        let Stage::Status { retried } = self.stage else {
            return BotStep::Done(Err(UsbError::Command("status received out of order")));
        };
        let bytes = match result {
            Ok(bytes) => bytes,
            // BOT 6.7.2: a stalled status stage is cleared and read once more.
            Err(UsbError::Stalled) if !retried => {
                self.stage = Stage::ClearHalt { retry: true };
                return BotStep::ClearHalt(Pipe::In);
            }
            Err(e) => return self.recover(e),
        };
        match parse_status(bytes, self.tag, self.command.transfer_length) {
            Ok(CommandStatus::Passed { residue }) => {
                self.stage = Stage::Finished;
                let expected = self.command.transfer_length;
                BotStep::Done(Ok(self.moved.min(expected.saturating_sub(residue))))
            }
            Ok(CommandStatus::Failed) => {
                self.stage = Stage::Finished;
                BotStep::Done(Err(UsbError::Command("the device reported the command failed")))
            }
            Ok(CommandStatus::PhaseError) => self.recover(UsbError::Command("phase error")),
            Err(e) => self.recover(e),
        }
    }

    fn receive_status(&mut self, retried: bool) -> BotStep {
        self.stage = Stage::Status { retried };
        BotStep::ReceiveStatus
    }

    fn recover(&mut self, why: UsbError) -> BotStep {
        self.stage = Stage::Recovery;
        self.failure = Some(why);
        BotStep::ResetRecovery
    }
}

#[cfg(test)]
mod tests;
