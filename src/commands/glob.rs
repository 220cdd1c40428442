//! Glob-style matching for KEYS and SCAN MATCH, with the semantics of Redis's
//! `stringmatchlen`:
//!
//! - `*` matches any run of bytes (including none), `?` exactly one byte;
//! - `[abc]` one byte of the set, `[^abc]` one byte not in it, `[a-z]` a
//!   range (reversed ranges such as `[z-a]` work too), `\x` inside a set is a
//!   literal `x`; an unterminated `[` set ends at the end of the pattern;
//! - `\x` outside a set matches `x` literally;
//! - matching is byte-wise and case-sensitive.

/// Nesting of `*` beyond which a pattern is treated as not matching, as Redis
/// does to bound the work of abusive patterns.
const MAX_STAR_NESTING: usize = 1000;

/// True when `s` matches the glob `pattern` (Redis `stringmatchlen`).
///
/// One deliberate difference: Redis 7's matcher says `*` does not match the
/// empty string, but KEYS and SCAN never ask it (they treat a lone `*` as
/// "everything"); here a pattern of only `*`s matches the empty string, so
/// callers need no such special case.
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    if s.is_empty() {
        return pattern.iter().all(|&c| c == b'*');
    }
    let mut skip_longer_matches = false;
    match_from(pattern, s, &mut skip_longer_matches, 0)
}

/// The matcher proper. `skip_longer_matches` is set once the rest of a
/// pattern after a `*` has failed at every position of the string: an
/// earlier `*` trying longer substrings cannot help then, which keeps patterns
/// like `a*a*a*a*b` from taking exponential time.
fn match_from(
    mut pattern: &[u8],
    mut s: &[u8],
    skip_longer_matches: &mut bool,
    nesting: usize,
) -> bool {
    if nesting > MAX_STAR_NESTING {
        return false;
    }
    while !pattern.is_empty() && !s.is_empty() {
        match pattern[0] {
            b'*' => {
                while pattern.len() > 1 && pattern[1] == b'*' {
                    pattern = &pattern[1..];
                }
                if pattern.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_from(&pattern[1..], s, skip_longer_matches, nesting + 1) {
                        return true;
                    }
                    if *skip_longer_matches {
                        return false;
                    }
                    s = &s[1..];
                }
                *skip_longer_matches = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                let (matched, rest) = match_set(&pattern[1..], s[0]);
                if !matched {
                    return false;
                }
                s = &s[1..];
                // `rest` starts at the closing `]` (or is empty when the set
                // was unterminated); the step below moves past it.
                pattern = rest;
                if pattern.is_empty() {
                    // Unterminated set: the whole pattern is consumed.
                    return s.is_empty();
                }
            }
            b'\\' if pattern.len() >= 2 => {
                pattern = &pattern[1..];
                if pattern[0] != s[0] {
                    return false;
                }
                s = &s[1..];
            }
            literal => {
                if literal != s[0] {
                    return false;
                }
                s = &s[1..];
            }
        }
        pattern = &pattern[1..];
        if s.is_empty() {
            while let [b'*', rest @ ..] = pattern {
                pattern = rest;
            }
            break;
        }
    }
    pattern.is_empty() && s.is_empty()
}

/// Matches `byte` against the body of a `[...]` set (the text after `[`).
/// Returns whether it matched and the pattern from the closing `]` on (empty
/// when the set runs to the end of the pattern).
fn match_set(mut pattern: &[u8], byte: u8) -> (bool, &[u8]) {
    let negated = pattern.first() == Some(&b'^');
    if negated {
        pattern = &pattern[1..];
    }
    let mut matched = false;
    loop {
        match pattern {
            [] => break,
            [b'\\', escaped, ..] => {
                if *escaped == byte {
                    matched = true;
                }
                pattern = &pattern[2..];
            }
            [b']', ..] => break,
            [start, b'-', end, ..] => {
                let (low, high) = if start <= end {
                    (*start, *end)
                } else {
                    (*end, *start)
                };
                if (low..=high).contains(&byte) {
                    matched = true;
                }
                pattern = &pattern[3..];
            }
            [single, ..] => {
                if *single == byte {
                    matched = true;
                }
                pattern = &pattern[1..];
            }
        }
    }
    (matched != negated, pattern)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(pattern: &str, s: &str) -> bool {
        glob_match(pattern.as_bytes(), s.as_bytes())
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("a", ""));
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abd"));
        assert!(!m("abc", "ABC"));
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("**", "x"));
        assert!(m("a*", "a"));
        assert!(m("a*", "abc"));
        assert!(!m("a*", "ba"));
        assert!(m("*c", "abc"));
        assert!(m("a*c", "ac"));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbbd"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("user:*:name", "user:42:age"));
        assert!(m("h?llo", "hello"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(!m("?", ""));
        assert!(m("???", "abc"));
        assert!(m("a**", "a"));
        assert!(m("**", ""));
        assert!(!m("?*", ""));
    }

    #[test]
    fn sets_and_ranges() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("[z-a]", "m"), "reversed ranges work");
        assert!(m("[0-9][0-9]", "42"));
        assert!(!m("[0-9]", "x"));
        assert!(m("[\\]]", "]"));
        assert!(m("[a\\-z]", "-"));
        assert!(!m("[a\\-z]", "b"));
        assert!(m("[^a-c]x", "dx"));
        assert!(!m("[^a-c]x", "bx"));
        // An unterminated set runs to the end of the pattern.
        assert!(m("[abc", "b"));
        assert!(!m("[abc", "bz"));
        assert!(!m("[abc", "d"));
        // Bytes >= 0x80 compare as bytes.
        assert!(glob_match(b"[\x80-\xff]", b"\x90"));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("a\\?b", "a?b"));
        assert!(!m("a\\?b", "axb"));
        assert!(m("\\[x]", "[x]"));
        // A trailing backslash is a literal backslash.
        assert!(m("a\\", "a\\"));
    }

    #[test]
    fn pathological_patterns_finish() {
        let pattern = "a*".repeat(30) + "b";
        let s = "a".repeat(60);
        assert!(!m(&pattern, &s));
        let deep = "*a".repeat(2000);
        assert!(!m(&deep, &"a".repeat(1999)));
    }
}
