//! The operator's guide, the README and the systemd unit describe the agent
//! that is built: every `giif-agent` command and flag they show exists, the
//! documented `agent.toml` loads, and the documented site file imports with
//! the answer the guide quotes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The fenced block that follows `<!-- marker -->` in `text`.
fn block_after(text: &str, marker: &str) -> String {
    let start = text
        .find(&format!("<!-- {marker} -->"))
        .unwrap_or_else(|| panic!("docs/operations.md has no <!-- {marker} --> block"));
    let rest = &text[start..];
    let open = rest.find("```").expect("a fenced block after the marker");
    let body = &rest[open..];
    let body = &body[body.find('\n').expect("fence line") + 1..];
    body[..body.find("```").expect("closing fence")].to_string()
}

/// Quoted log lines that start like a command.
const NOT_COMMANDS: &[&str] = &["giif-agent serving "];

/// Every `giif-agent ...` invocation in `text`: lines of fenced blocks
/// (continuations joined, prompts, `sudo` and comments dropped) and inline
/// code spans, as token lists starting after `giif-agent`.
fn invocations(text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut take = |command: &str| {
        let command = command.trim();
        let command = command.strip_prefix("$ ").unwrap_or(command);
        let command = command
            .strip_prefix("sudo -u giif ")
            .or_else(|| command.strip_prefix("sudo "))
            .unwrap_or(command);
        let command = command.split(" #").next().unwrap_or_default();
        if NOT_COMMANDS.iter().any(|n| command.starts_with(n)) {
            return;
        }
        let mut words = command.split_whitespace();
        match words.next() {
            Some(program) if program == "giif-agent" || program.ends_with("/giif-agent") => {
                found.push(words.map(str::to_string).collect());
            }
            _ => {}
        }
    };
    let mut in_block = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            pending.clear();
            continue;
        }
        if in_block {
            if let Some(head) = line.strip_suffix('\\') {
                pending.push_str(head);
                pending.push(' ');
                continue;
            }
            pending.push_str(line);
            take(&pending);
            pending.clear();
        } else {
            for (i, span) in line.split('`').enumerate() {
                if i % 2 == 1 {
                    take(span);
                }
            }
        }
    }
    found
}

struct Help(HashMap<Vec<String>, String>);

impl Help {
    fn of(&mut self, path: &[String]) -> &str {
        self.0.entry(path.to_vec()).or_insert_with(|| {
            let output = Command::new(giif_tests::binary("giif-agent"))
                .args(path)
                .arg("--help")
                .output()
                .expect("run giif-agent --help");
            assert!(
                output.status.success(),
                "`giif-agent {} --help` failed: {}",
                path.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout).into_owned()
        })
    }

    fn subcommands(&mut self, path: &[String]) -> Vec<String> {
        let help = self.of(path);
        let Some(start) = help.find("Commands:") else {
            return Vec::new();
        };
        help[start..]
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .filter(|c| c != "help")
            .collect()
    }
}

/// Problems with one invocation: unknown subcommands, unknown flags, or a
/// command group used as if it were a command.
fn check(words: &[String], help: &mut Help) -> Vec<String> {
    let shown = format!("giif-agent {}", words.join(" "));
    let mut path: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    let mut words = words
        .iter()
        .map(|w| w.trim_matches(|c| c == '[' || c == ']'));
    let mut rest = Vec::new();
    for word in words.by_ref() {
        let commands = help.subcommands(&path);
        if commands.is_empty() {
            rest.push(word.to_string());
            break;
        }
        let alternatives: Vec<&str> = word.split('|').collect();
        if alternatives.iter().all(|a| commands.iter().any(|c| c == a)) {
            for alternative in &alternatives[1..] {
                let mut other = path.clone();
                other.push(alternative.to_string());
                problems.extend(check(&other, help));
            }
            path.push(alternatives[0].to_string());
        } else {
            problems.push(format!(
                "`{shown}`: {word:?} is not a subcommand of `giif-agent {}` (it has {commands:?})",
                path.join(" ")
            ));
            return problems;
        }
    }
    rest.extend(words.map(str::to_string));
    if path.is_empty() {
        return problems;
    }
    if !help.subcommands(&path).is_empty() && rest.iter().any(|w| w.starts_with("--")) {
        problems.push(format!(
            "`{shown}`: `giif-agent {}` needs a subcommand",
            path.join(" ")
        ));
    }
    let usage = help.of(&path).to_string();
    for flag in rest.iter().filter(|w| w.starts_with("--")) {
        let flag = flag.split('=').next().unwrap_or_default();
        let listed = usage.lines().any(|l| {
            l.split_whitespace()
                .any(|w| w.trim_end_matches(',') == flag)
        });
        if !listed {
            problems.push(format!(
                "`{shown}`: `giif-agent {}` has no flag {flag}",
                path.join(" ")
            ));
        }
    }
    problems
}

#[test]
fn every_documented_agent_command_and_flag_exists() {
    let mut help = Help(HashMap::new());
    let mut problems = Vec::new();
    let mut seen = 0;
    for file in [
        "README.md",
        "docs/operations.md",
        "agent/dist/giif-agent.service",
    ] {
        let mut text = read(file);
        if file.ends_with(".service") {
            // ExecStart=/usr/local/bin/giif-agent serve ... as a command line.
            text = text
                .lines()
                .filter_map(|l| l.strip_prefix("ExecStart="))
                .map(|l| format!("```\n{l}\n```\n"))
                .collect();
        }
        for words in invocations(&text) {
            seen += 1;
            problems.extend(
                check(&words, &mut help)
                    .into_iter()
                    .map(|p| format!("{file}: {p}")),
            );
        }
    }
    assert!(
        seen >= 20,
        "found only {seen} giif-agent commands: is the extraction broken?"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_catches_a_wrong_flag_and_subcommand() {
    let mut help = Help(HashMap::new());
    let text = "```sh\nsudo -u giif giif-agent inventory import site.toml \\\n  --configuration x\n```\nThen `giif-agent host-keys drop 1.2.3.4:22`.\n";
    let found = invocations(text);
    assert_eq!(found.len(), 2, "{found:?}");
    let problems: Vec<String> = found.iter().flat_map(|w| check(w, &mut help)).collect();
    assert!(
        problems[0].contains("has no flag --configuration"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("\"drop\" is not a subcommand of `giif-agent host-keys`"),
        "{problems:?}"
    );
}

#[test]
fn the_unit_and_the_guide_agree_on_paths_and_the_documented_agent_toml_loads() {
    let unit = read("agent/dist/giif-agent.service");
    let setting = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("the unit has no {key}="))
            .to_string()
    };
    assert_eq!(setting("User"), "giif");
    let exec = setting("ExecStart");
    let config = exec
        .split_whitespace()
        .skip_while(|w| *w != "--config")
        .nth(1)
        .expect("ExecStart passes --config");

    let guide = read("docs/operations.md");
    let toml = block_after(&guide, "agent-toml-example");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, &toml).expect("write agent.toml");
    let loaded =
        giif_agent::config::AgentConfig::load(&path).expect("the guide's agent.toml loads");
    assert_eq!(
        loaded.tls.server_key,
        dir.path().join("server-key.pem"),
        "relative paths are relative to agent.toml"
    );
    // The guide's store lives in the unit's state directory, and its
    // agent.toml is where the unit looks for it.
    let state_dir = format!("/var/lib/{}/", setting("StateDirectory"));
    assert!(
        loaded.store == format!("sqlite://{state_dir}agent.db"),
        "the guide's store {} is not in the unit's StateDirectory {state_dir}",
        loaded.store
    );
    assert!(
        guide.contains(&format!("--config {config}")),
        "the guide never runs commands with the unit's --config {config}"
    );
    assert!(
        !unit.contains("KillSignal=") && guide.contains("stops cleanly on SIGTERM"),
        "the agent stops on systemd's SIGTERM; the unit needs no KillSignal and the guide says so"
    );
}

#[test]
fn the_documented_site_file_imports_with_the_quoted_answer() {
    let guide = read("docs/operations.md");
    let site = block_after(&guide, "site-file-example");
    let dir = tempfile::tempdir().expect("temp dir");

    // Every file the site file refers to, with something in it.
    let mut referenced = Vec::new();
    for key in ["file = \"", "ca_cert = \""] {
        for (at, _) in site.match_indices(key) {
            let rest = &site[at + key.len()..];
            referenced.push(rest[..rest.find('"').expect("closing quote")].to_string());
        }
    }
    assert!(referenced.len() >= 4, "{referenced:?}");
    for file in &referenced {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, "not-a-real-secret\n").expect("write a secret");
    }
    let site_path = dir.path().join("site.toml");
    std::fs::write(&site_path, &site).expect("write site.toml");

    let agent = giif_tests::binary("giif-agent");
    let state = dir.path().join("state");
    let init = Command::new(&agent)
        .args(["init", "--dir"])
        .arg(&state)
        .output()
        .expect("run giif-agent init");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let import = Command::new(&agent)
        .args(["inventory", "import"])
        .arg(&site_path)
        .arg("--config")
        .arg(state.join("agent.toml"))
        .output()
        .expect("run giif-agent inventory import");
    let answer = String::from_utf8_lossy(&import.stdout).into_owned();
    assert!(
        import.status.success(),
        "the guide's site file is refused:\n{}",
        String::from_utf8_lossy(&import.stderr)
    );

    // The guide quotes the answer for /etc/giif/site.toml, wrapped.
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let quoted = flat(&guide);
    let expected = flat(&answer).replace(&site_path.display().to_string(), "/etc/giif/site.toml");
    assert!(
        quoted.contains(&format!("`{expected}`")),
        "the guide does not quote the import's answer:\n{expected}"
    );
}
