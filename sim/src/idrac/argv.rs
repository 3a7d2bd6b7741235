//! Splitting an SSH exec line into words the way the iDRAC's shell does
//! (POSIX-style quotes and backslashes), and masking secrets for the log.

/// Splits `line` into words; `None` when a quote is left open.
pub(crate) fn split(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        other => word.push(other),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            escaped @ ('"' | '\\' | '$' | '`') => word.push(escaped),
                            other => {
                                word.push('\\');
                                word.push(other);
                            }
                        },
                        other => word.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

pub(crate) const MASK: &str = "******";

/// The words with every secret replaced: the value after `-p`, and the value
/// of a `set` on a password attribute.
pub(crate) fn masked(words: &[String]) -> Vec<String> {
    let mut out: Vec<String> = words.to_vec();
    for i in 1..out.len() {
        if words[i - 1] == "-p" {
            out[i] = MASK.to_string();
        }
    }
    if let Some(set) = words.iter().position(|w| w.eq_ignore_ascii_case("set")) {
        let is_password = words
            .get(set + 1)
            .is_some_and(|object| object.to_ascii_lowercase().ends_with("password"));
        if is_password && set + 2 < out.len() {
            out[set + 2] = MASK.to_string();
        }
    }
    out
}

/// A loggable rendering of a raw line, secrets masked even when it does not
/// split cleanly.
pub(crate) fn masked_line(line: &str) -> String {
    let words =
        split(line).unwrap_or_else(|| line.split_whitespace().map(str::to_string).collect());
    masked(&words).join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            split(r#"racadm remoteimage -c -u 'a b' -p "x\"y" -l //h/s/f.iso"#),
            Some(vec![
                "racadm".into(),
                "remoteimage".into(),
                "-c".into(),
                "-u".into(),
                "a b".into(),
                "-p".into(),
                "x\"y".into(),
                "-l".into(),
                "//h/s/f.iso".into()
            ])
        );
        assert_eq!(split("a 'it'\\''s'"), Some(vec!["a".into(), "it's".into()]));
        assert_eq!(split("a ''"), Some(vec!["a".into(), "".into()]));
        assert_eq!(split("a 'open"), None);
    }

    #[test]
    fn secrets_are_masked() {
        assert_eq!(
            masked_line("racadm remoteimage -c -u u -p 'hunter 2' -l //h/s/f.iso"),
            "racadm remoteimage -c -u u -p ****** -l //h/s/f.iso"
        );
        assert_eq!(
            masked_line("racadm set iDRAC.VNCServer.Password s3cret"),
            "racadm set iDRAC.VNCServer.Password ******"
        );
        assert_eq!(
            masked_line("racadm set iDRAC.VNCServer.Port 5901"),
            "racadm set iDRAC.VNCServer.Port 5901"
        );
    }
}
