//! Keeping long conversations inside the model's context.
//!
//! Providers reject requests larger than the context window, so before each request the
//! oldest turns are left out (they stay on screen). Token counts are estimated, not
//! exact: every provider tokenizes differently and none offers a tokenizer here. About
//! four bytes per token holds for English with all the common tokenizers and
//! overestimates for code and non-Latin text by less than 2x, so the budget should
//! leave that much headroom.

use crate::chat::{Message, Role};

/// Per-message overhead of the chat framing (role markers, separators), in tokens.
const PER_MESSAGE_TOKENS: usize = 4;

/// Estimated tokens of `text`.
pub fn estimate_tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

fn cost(message: &Message) -> usize {
    estimate_tokens(&message.content) + PER_MESSAGE_TOKENS
}

/// The index of the first message to send so that the system prompt and
/// `messages[index..]` fit in `budget` estimated tokens.
///
/// The last message is always kept (even alone over budget: the provider's own error then
/// says so), and the kept part starts with a user turn, as the APIs expect.
pub fn trim_to_budget(messages: &[Message], system: Option<&str>, budget: usize) -> usize {
    let Some(last) = messages.len().checked_sub(1) else {
        return 0;
    };
    let mut used = system.map_or(0, estimate_tokens) + cost(&messages[last]);
    let mut first = last;
    while first > 0 {
        let next = used + cost(&messages[first - 1]);
        if next > budget {
            break;
        }
        used = next;
        first -= 1;
    }
    // Never start on an assistant turn unless it is all there is.
    while first < last && messages[first].role == Role::Assistant {
        first += 1;
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn chat(turns: usize, bytes: usize) -> Vec<Message> {
        (0..turns)
            .map(|i| {
                let text = "w".repeat(bytes);
                if i % 2 == 0 { Message::user(text) } else { Message::assistant(text) }
            })
            .collect()
    }

    #[test]
    fn short_conversations_are_sent_whole() {
        assert_eq!(trim_to_budget(&chat(6, 40), Some("be brief"), 10_000), 0);
        assert_eq!(trim_to_budget(&[], None, 10), 0);
    }

    #[test]
    fn oldest_turns_go_first_and_the_rest_starts_with_the_user() {
        // Each turn costs 100/4 + 4 = 29 tokens.
        let messages = chat(9, 100);
        let first = trim_to_budget(&messages, None, 29 * 4);
        assert_eq!(first, 6, "four turns fit, but the first would be an assistant's");
        assert_eq!(messages[first].role, Role::User);
        let first = trim_to_budget(&messages, None, 29 * 3);
        assert_eq!(first, 6);
    }

    #[test]
    fn the_last_turn_is_kept_even_over_budget() {
        let messages = chat(3, 10_000);
        assert_eq!(trim_to_budget(&messages, Some("system"), 10), 2);
    }

    #[test]
    fn the_system_prompt_counts() {
        let messages = chat(3, 100);
        assert_eq!(trim_to_budget(&messages, None, 29 * 3), 0);
        assert_eq!(trim_to_budget(&messages, Some(&"s".repeat(400)), 29 * 3), 2);
    }
}
