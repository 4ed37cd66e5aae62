//! placeholder
use alloc::string::String;
use crate::model::MoteConfig;
/// Placeholder.
pub fn write_back(_previous: Option<&str>, config: &MoteConfig) -> String { config.to_toml() }
