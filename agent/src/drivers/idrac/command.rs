//! One racadm command line: built from words, some of them secret. The
//! wire form quotes words for the iDRAC's shell; the masked form is the only
//! one that may reach a log or an error.

use crate::credentials::Secret;

const MASK: &str = "******";

#[derive(Clone, Debug)]
enum Word {
    Plain(String),
    Secret(Secret),
}

#[derive(Clone, Debug)]
pub(super) struct Command {
    words: Vec<Word>,
}

impl Command {
    /// `racadm` followed by `args`.
    pub fn racadm<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut words = vec![Word::Plain("racadm".to_string())];
        words.extend(args.into_iter().map(|a| Word::Plain(a.into())));
        Self { words }
    }

    pub fn arg(mut self, word: impl Into<String>) -> Self {
        self.words.push(Word::Plain(word.into()));
        self
    }

    pub fn secret(mut self, secret: &Secret) -> Self {
        self.words.push(Word::Secret(secret.clone()));
        self
    }

    /// What goes over SSH, secrets included. Never log this.
    pub fn wire(&self) -> String {
        self.render(|w| match w {
            Word::Plain(p) => quote(p),
            Word::Secret(s) => quote(s.expose()),
        })
    }

    /// What logs and errors show: secrets replaced by `******`.
    pub fn masked(&self) -> String {
        self.render(|w| match w {
            Word::Plain(p) => quote(p),
            Word::Secret(_) => MASK.to_string(),
        })
    }

    /// Removes this command's secret values from text the device sent back.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        for word in &self.words {
            if let Word::Secret(secret) = word {
                if !secret.expose().is_empty() {
                    text = text.replace(secret.expose(), MASK);
                }
            }
        }
        text
    }

    fn render(&self, word: impl Fn(&Word) -> String) -> String {
        self.words.iter().map(word).collect::<Vec<_>>().join(" ")
    }
}

/// Single-quotes a word unless it is made of characters no shell treats specially.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/:@%+=,-#".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Words that go into a command must not carry control characters (a
/// newline would end the command early on some firmware).
pub(super) fn check_word(what: &str, word: &str) -> Result<(), String> {
    if word.chars().any(char::is_control) {
        return Err(format!("the {what} contains control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_quotes_and_masked_hides() {
        let cmd = Command::racadm(["remoteimage", "-c", "-u", "share user", "-p"])
            .secret(&Secret::new("it's"))
            .arg("-l")
            .arg("//10.0.0.5/iso/x.iso");
        assert_eq!(
            cmd.wire(),
            r"racadm remoteimage -c -u 'share user' -p 'it'\''s' -l //10.0.0.5/iso/x.iso"
        );
        assert_eq!(
            cmd.masked(),
            "racadm remoteimage -c -u 'share user' -p ****** -l //10.0.0.5/iso/x.iso"
        );
        assert_eq!(
            cmd.scrub("ERROR: bad password it's"),
            "ERROR: bad password ******"
        );
        assert!(!format!("{cmd:?}").contains("it's"));
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(check_word("image", "a\nb").is_err());
        assert!(check_word("image", "//h/s/a b.iso").is_ok());
    }
}
