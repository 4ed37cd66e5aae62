//! The `version` of `config.toml` and how older layouts are brought up to date.
//!
//! Version 1 is every file written before `version` existed. Version 2 added `version`,
//! `[chat]`, per-provider `temperature` and `max_tokens` and the local model's sampling keys;
//! each is optional with a default, so a version 1 file means the same under version 2 and
//! migrating it changes only the number. Later layouts that rename or move keys do it here.

use crate::model::MoteConfig;

/// The layout this moteOS writes.
pub const CURRENT_VERSION: u32 = 2;

/// The version of a file that has no `version` key.
pub const UNVERSIONED: u32 = 1;

/// Brings a configuration read from a file of layout `from` up to [`CURRENT_VERSION`].
///
/// `from` above [`CURRENT_VERSION`] (a file from a newer moteOS) is left as it is: its version
/// is kept so writing it back does not claim an older layout, and the keys this version does not
/// know are reported as unknown and kept in the file by [`crate::write_back`].
pub fn migrate(config: &mut MoteConfig, from: u32) {
    if from > CURRENT_VERSION {
        config.version = from;
        return;
    }
    // 1 → 2: every new key is optional with a default; nothing moves.
    config.version = CURRENT_VERSION;
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm::ProviderId;

    #[test]
    fn version_one_becomes_current_and_keeps_values() {
        let mut config = MoteConfig::new(ProviderId::Groq);
        config.version = UNVERSIONED;
        config.network.dns.push(crate::Ipv4::new(1, 1, 1, 1));
        let before = config.clone();
        migrate(&mut config, UNVERSIONED);
        assert_eq!(config.version, CURRENT_VERSION);
        config.version = before.version;
        assert_eq!(config, before);
    }

    #[test]
    fn newer_versions_are_kept() {
        let mut config = MoteConfig::new(ProviderId::Local);
        migrate(&mut config, 7);
        assert_eq!(config.version, 7);
    }
}
