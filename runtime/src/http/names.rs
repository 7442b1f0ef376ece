//! Names people give things: business names, product titles, campaign names, file names
//! and API token names, checked by one rule.
//!
//! A name is shown back to people (the dashboard, the admin's lists, a download's file
//! name), so characters that change how the text *around* it reads are refused: control
//! characters, the bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069:
//! they make `gpj.exe` display as `exe.jpg`), and zero-width characters (U+200B–U+200D,
//! U+2060, U+FEFF: they make two names that look the same differ). Letters of every
//! script, accents, emoji and CJK are ordinary characters and welcome; an emoji joined
//! to another by U+200D (👩‍💻) is refused with the other zero-width characters, whose
//! rule has no exception.
//!
//! A name is trimmed before it is kept, so it must have a character other than white
//! space; its length (1 to the field's maximum, in characters) is that of the text as
//! sent, so the limit a client reads in the document is the one applied.
//!
//! The OpenAPI document states the rule on each name field as a `pattern` ([`pattern`]):
//! any number of allowed characters around one that is neither forbidden nor white space.
//! The character classes are written with `\uXXXX` escapes only, which JSON Schema's
//! ECMA-262 patterns, Python's `re` and Rust's `regex` all read alike.

/// The rule in words, for 422 messages.
const RULE: &str = "must not contain control characters, bidirectional overrides or isolates \
                    (U+202A–U+202E, U+2066–U+2069) or zero-width characters (U+200B–U+200D, U+2060, U+FEFF)";

/// Whether `c` may not appear in a name.
pub(crate) fn is_forbidden_in_name(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The characters a name may not contain, as the inside of a pattern's `[...]`.
pub(crate) const FORBIDDEN_CLASS: &str =
    r"\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF";

/// The characters `str::trim` removes (Rust's `char::is_whitespace`), as the inside of
/// a pattern's `[...]`.
pub(crate) const WHITESPACE_CLASS: &str =
    r"\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// The name rule as a JSON Schema `pattern`: allowed characters only, at least one of
/// them not white space.
pub(crate) fn pattern() -> String {
    format!("^[^{FORBIDDEN_CLASS}]*[^{FORBIDDEN_CLASS}{WHITESPACE_CLASS}][^{FORBIDDEN_CLASS}]*$")
}

/// A name: 1 to `max_chars` characters as sent, none of them forbidden, not all white
/// space; kept trimmed. Otherwise the problem in words (for a 422 naming the field).
pub(crate) fn parse_name(text: &str, max_chars: usize) -> Result<String, String> {
    // The length as sent, as the document's `maxLength` counts it.
    if text.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    // Anywhere in the text as sent: a tab around a name is refused, not trimmed away.
    if text.chars().any(is_forbidden_in_name) {
        return Err(RULE.into());
    }
    let name = text.trim();
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(name.to_owned())
}

/// Whether every value of `key` in a raw query string percent-decodes to valid UTF-8.
/// (The query extractor decodes leniently, turning bad bytes into U+FFFD, so a name
/// sent as `%FF` would otherwise be kept as `�`.)
pub(crate) fn query_value_is_utf8(query: &str, key: &str) -> bool {
    query.split('&').filter_map(|pair| pair.split_once('=').or(Some((pair, "")))).all(|(name, value)| {
        if percent_decode(name).as_deref() != Some(key.as_bytes()) {
            return true;
        }
        percent_decode(value).is_some_and(|bytes| std::str::from_utf8(&bytes).is_ok())
    })
}

/// `application/x-www-form-urlencoded` decoding to bytes (`+` is a space); `None` for a
/// malformed escape.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(rest.get(..2)?).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &rest[2..];
            }
            other => bytes.push(other),
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_in_any_script_are_accepted_and_trimmed() {
        for name in ["Café Crème", "Ünïcödé Shop", "🚀 Rocket Mugs", "東京の店", "서울 상점", "Жук", "Ελληνικά"]
        {
            assert_eq!(parse_name(&format!("  {name} "), 100).as_deref(), Ok(name), "{name}");
        }
    }

    #[test]
    fn control_bidi_and_zero_width_characters_are_refused() {
        for bad in [
            "tab\there",
            "bell\u{7}",
            "n\u{85}el",
            "\u{202E}gpj.exe",
            "a\u{202A}b",
            "a\u{202D}b",
            "a\u{2066}b",
            "a\u{2069}b",
            "zero\u{200B}width",
            "a\u{200C}b",
            "a\u{2060}b",
            "a\u{FEFF}b",
        ] {
            let problem = parse_name(bad, 100).expect_err(bad);
            assert!(problem.contains("zero-width"), "{problem}");
        }
        assert!(parse_name("   ", 100).is_err());
        assert!(parse_name(&"x".repeat(101), 100).is_err());
        // The length is the text's as sent: white space around it counts.
        assert!(parse_name(&format!(" {} ", "x".repeat(99)), 100).is_err());
        assert_eq!(parse_name(&format!(" {}", "x".repeat(99)), 100).map(|name| name.len()), Ok(99));
    }

    #[test]
    fn the_whitespace_class_is_what_trim_removes() {
        // Every character `trim` removes is in the class, and nothing else is: the
        // pattern's "one character that is not white space" is the parser's "not empty
        // once trimmed".
        let class = parse_class(WHITESPACE_CLASS);
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(class.iter().any(|(low, high)| (*low..=*high).contains(&c)), c.is_whitespace(), "{:?}", c);
        }
        let forbidden = parse_class(FORBIDDEN_CLASS);
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let in_class = forbidden.iter().any(|(low, high)| (*low..=*high).contains(&c));
            assert_eq!(in_class, is_forbidden_in_name(c), "{:?}", c);
        }
    }

    /// The ranges of a class written as `\uXXXX` and `\uXXXX-\uXXXX`.
    fn parse_class(class: &str) -> Vec<(char, char)> {
        let code = |hex: &str| char::from_u32(u32::from_str_radix(hex, 16).expect("hex")).expect("a char");
        let mut ranges = Vec::new();
        let mut rest = class;
        while let Some(tail) = rest.strip_prefix("\\u") {
            let low = code(&tail[..4]);
            rest = &tail[4..];
            let high = match rest.strip_prefix("-\\u") {
                Some(tail) => {
                    rest = &tail[4..];
                    code(&tail[..4])
                }
                None => low,
            };
            ranges.push((low, high));
        }
        assert!(rest.is_empty(), "unparsed: {rest}");
        ranges
    }

    #[test]
    fn a_query_value_must_decode_to_utf8() {
        assert!(query_value_is_utf8("business_id=1&name=caf%C3%A9+cr%C3%A8me.png", "name"));
        assert!(query_value_is_utf8("business_id=1&name=%E6%9D%B1%E4%BA%AC.txt", "name"));
        assert!(!query_value_is_utf8("business_id=1&name=%FF%FE.txt", "name"));
        assert!(!query_value_is_utf8("name=%C3", "name"), "a truncated sequence");
        assert!(query_value_is_utf8("other=%FF&name=ok", "name"), "only the named key is checked");
    }
}
