//! The one rule for text users see but did not all write: device names and
//! place labels. Characters that show nothing, or reorder or hide the text
//! around them, would let one name pass for another on "Your devices".

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Whether `c` must not appear in a name or a place label: control
/// characters (Cc), format characters (Cf: bidirectional marks, overrides
/// and isolates, zero-width spaces and joiners, the soft hyphen, the Arabic
/// letter mark, the Mongolian vowel separator, interlinear annotations,
/// tags), the line and paragraph separators (Zl, Zp), the combining
/// grapheme joiner (U+034F, which displays nothing) and the Hangul fillers
/// (U+115F, U+1160, U+3164, U+FFA0, letters that render blank).
pub(crate) fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
    ) || matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
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
}
