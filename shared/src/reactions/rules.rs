//! What a reaction may be.

use crate::model::Invalid;

/// A reaction is at most this many bytes of UTF-8.
pub const REACTION_BYTES_MAX: usize = 64;

/// Checks a reaction as the client sent it (the path segment, percent-decoded): 1 to
/// [`REACTION_BYTES_MAX`] bytes, no whitespace, no control characters, and no invisible format
/// characters but those emoji are made of (the zero-width joiner of a sequence like 👩‍💻 and the
/// tag characters of a subdivision flag). An emoji, a sequence or a `:shortcode:` passes.
pub fn validate(reaction: &str) -> Result<(), Invalid> {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    if reaction.is_empty() || reaction.len() > REACTION_BYTES_MAX {
        return Err(Invalid::new(format!("a reaction is 1-{REACTION_BYTES_MAX} bytes of UTF-8")));
    }
    let emoji_format = |c: char| c == '\u{200D}' || ('\u{E0020}'..='\u{E007F}').contains(&c);
    let bad = |c: char| {
        c.is_whitespace() || c.is_control() || (c.general_category() == GeneralCategory::Format && !emoji_format(c))
    };
    if reaction.chars().any(bad) {
        return Err(Invalid::new(
            "a reaction has no whitespace, control or invisible format characters (zero-width joiners aside)",
        ));
    }
    Ok(())
}

/// A path segment, percent-decoded, as UTF-8 (`None` when its bytes are not UTF-8).
pub fn decode_segment(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment).decode_utf8().ok().map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_sequences_and_shortcodes_pass() {
        for ok in ["👍", "👩‍💻", "👨‍👩‍👧‍👦", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "❤️", ":party_parrot:", "+1", "a#b/c"]
        {
            assert!(validate(ok).is_ok(), "{ok:?}");
        }
        assert!(validate(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn bad_reactions_are_refused() {
        for bad in ["", "a b", "\t", "a\u{7}", "\u{200B}", "a\u{202E}b", "\u{FEFF}x", "a\u{00A0}"] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
        assert!(validate(&"x".repeat(65)).is_err());
        // 17 four-byte emoji: 68 bytes.
        assert!(validate(&"😀".repeat(17)).is_err());
    }

    #[test]
    fn segments_decode_strictly() {
        assert_eq!(decode_segment("%F0%9F%91%8D").as_deref(), Some("👍"));
        assert_eq!(decode_segment("%3Aok%3A").as_deref(), Some(":ok:"));
        assert_eq!(decode_segment("%FF"), None);
        assert_eq!(decode_segment("%F0%9F"), None);
    }
}
