//! The one rule for text users see but did not all write: device names and
//! place labels. Characters that show nothing, or reorder or hide the text
//! around them, would let one name pass for another on "Your devices".

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Whether `c` must not appear in a name or a place label: control
/// characters (Cc), format characters (Cf: bidirectional marks, overrides
/// and isolates, zero-width spaces and joiners, the soft hyphen, the Arabic
/// letter mark, the Mongolian vowel separator, interlinear annotations,
/// tags), the line and paragraph separators (Zl, Zp), the combining
/// grapheme joiner (U+034F, which displays nothing), the Hangul fillers
/// (U+115F, U+1160, U+3164, U+FFA0, letters that render blank) and the
/// Braille blank (U+2800, a symbol that renders blank).
pub(crate) fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{2800}' | '\u{3164}' | '\u{FFA0}'
    ) || matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// Whether `text` shows nothing to stand on: no character but combining
/// marks (Mn, Mc, Me) and white space, which would render as a blank or
/// sit on whatever the page put before it.
pub(crate) fn is_marks_only(text: &str) -> bool {
    text.chars().all(|c| {
        c.is_whitespace()
            || matches!(
                c.general_category(),
                GeneralCategory::NonspacingMark
                    | GeneralCategory::SpacingMark
                    | GeneralCategory::EnclosingMark
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_found() {
        for c in [
            '\u{0}',
            '\t',
            '\n',
            '\u{7F}',
            '\u{85}',
            '\u{00AD}',
            '\u{034F}',
            '\u{061C}',
            '\u{115F}',
            '\u{1160}',
            '\u{180E}',
            '\u{200B}',
            '\u{200D}',
            '\u{200E}',
            '\u{2028}',
            '\u{2029}',
            '\u{202E}',
            '\u{2060}',
            '\u{2066}',
            '\u{2800}',
            '\u{3164}',
            '\u{FEFF}',
            '\u{FFA0}',
            '\u{FFF9}',
            '\u{E0001}',
            '\u{E0041}',
        ] {
            assert!(is_hidden(c), "U+{:04X}", c as u32);
        }
        for c in "Work laptop, Ünïcode 💻 ❤\u{FE0F} 東京 한국 ١٢ é\u{301}".chars() {
            assert!(!is_hidden(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn marks_alone_show_nothing() {
        assert!(is_marks_only(&"\u{301}".repeat(64)));
        assert!(is_marks_only("\u{301} \u{20DD}"));
        assert!(!is_marks_only("e\u{301}"));
        assert!(!is_marks_only("한국"));
    }
}
