//! The command line as the README and `docs/` show it and as clap checks it.

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use super::{Cli, usage_exit_code};

/// Splits a shell command line into words: quotes group, and the command
/// ends at an unquoted `|`, `&`, `;`, `)`, `#` or redirection.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    let mut started = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, '|' | '&' | ';' | ')' | '#' | '>' | '<') => break,
            (None, c) if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            (None, c) => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(current);
    }
    words
}

/// A page of the repository: its path and its text.
macro_rules! page {
    ($path:literal) => {
        ($path, include_str!(concat!("../../", $path)))
    };
}

/// The pages whose shell and YAML blocks the tests below read: the README and
/// every page of `docs/` with a shell block (`every_page_with_shell_blocks_is_read`
/// keeps the list whole).
const PAGES: [(&str, &str); 8] = [
    page!("README.md"),
    page!("docs/api.md"),
    page!("docs/cli.md"),
    page!("docs/mlflow.md"),
    page!("docs/operations.md"),
    page!("docs/performance.md"),
    page!("docs/policy.md"),
    page!("docs/testing.md"),
];

#[test]
fn every_modelgate_command_in_the_readme_parses() {
    let mut parsed = Vec::new();
    for (page, markdown) in PAGES {
        let mut language: Option<&str> = None;
        // shell functions that stand for `modelgate` (`carol() { … modelgate "$@"; }`)
        let mut aliases: Vec<String> = vec!["modelgate".to_owned()];
        for line in markdown.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("```") {
                language = match language {
                    Some(_) => None,
                    None => Some(rest.trim()),
                };
                continue;
            }
            if !matches!(language, Some("sh" | "yaml")) {
                continue;
            }
            let mut text = line.trim();
            text = text.strip_prefix("run: ").unwrap_or(text);
            if let Some((name, body)) = text.split_once("() {") {
                if body.contains(" modelgate \"$@\"") {
                    aliases.push(name.trim().to_owned());
                }
                continue;
            }
            // the command of `$(…)`, or the one after a pipe
            for alias in &aliases {
                if let Some(at) = text.find(&format!("$({alias} ")) {
                    text = &text[at + 2..];
                }
                if let Some(at) = text.find(&format!("| {alias} ")) {
                    text = &text[at + 2..];
                }
            }
            if !aliases
                .iter()
                .any(|alias| text.starts_with(&format!("{alias} ")))
            {
                continue;
            }
            let mut args = words(text);
            args[0] = "modelgate".to_owned();
            if let Err(error) = Cli::try_parse_from(&args) {
                panic!("{page}: `{text}` does not parse: {error}");
            }
            parsed.push(args[1].clone());
        }
    }
    assert!(
        parsed.len() >= 50,
        "only {} modelgate commands found in the README and docs/",
        parsed.len()
    );
    for command in ["promote", "gate", "requests"] {
        let uses = parsed.iter().filter(|c| *c == command).count();
        assert!(
            uses >= 2,
            "the README and docs/ show `modelgate {command}` {uses} times"
        );
    }
}

#[test]
fn every_page_with_shell_blocks_is_read() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let entries = std::fs::read_dir(docs).unwrap_or_else(|e| panic!("docs/: {e}"));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("docs/: {e}"));
        let name = format!("docs/{}", entry.file_name().to_string_lossy());
        if !name.ends_with(".md") {
            continue;
        }
        let markdown =
            std::fs::read_to_string(entry.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !markdown.contains("```sh") || PAGES.iter().any(|(page, _)| *page == name),
            "{name} has shell blocks: add it to PAGES in src/cli/tests.rs"
        );
    }
}

#[test]
fn the_readme_shows_the_checked_in_workflow() {
    let page = include_str!("../../docs/policy.md");
    let workflow = include_str!("../../deploy/github-actions/train-and-promote.yml");
    assert!(
        page.contains(&format!("```yaml\n{workflow}```")),
        "the workflow in docs/policy.md differs from deploy/github-actions/train-and-promote.yml"
    );
}

#[test]
fn a_misspelled_flag_is_caught() {
    let args = words("modelgate gate churn 1 --stag Production");
    assert!(Cli::try_parse_from(&args).is_err());
    let args = words(r#"modelgate promote churn "$VERSION" --to Staging --comment "a b" | sed x"#);
    assert_eq!(args.len(), 8);
    assert_eq!(args[7], "a b");
    assert!(Cli::try_parse_from(&args).is_ok());
}

#[test]
fn the_command_line_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn a_usage_error_exits_3_and_help_exits_0() {
    assert_eq!(usage_exit_code(ErrorKind::MissingRequiredArgument), 3);
    assert_eq!(usage_exit_code(ErrorKind::ValueValidation), 3);
    assert_eq!(usage_exit_code(ErrorKind::UnknownArgument), 3);
    assert_eq!(usage_exit_code(ErrorKind::DisplayHelp), 0);
    assert_eq!(usage_exit_code(ErrorKind::DisplayVersion), 0);
}

#[test]
fn every_command_has_an_example_in_its_help() {
    fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        let path = format!("{path} {}", command.get_name());
        let subcommands: Vec<_> = command.get_subcommands().collect();
        if subcommands.is_empty() {
            let help = command
                .get_after_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            let about = command
                .get_long_about()
                .map(ToString::to_string)
                .unwrap_or_default();
            if !help.contains("modelgate ") && !about.contains("Example: `modelgate ") {
                missing.push(path.clone());
            }
        }
        for subcommand in subcommands {
            walk(subcommand, &path, missing);
        }
    }
    let mut missing = Vec::new();
    walk(&Cli::command(), "", &mut missing);
    assert!(
        missing.is_empty(),
        "commands without an example: {missing:?}"
    );
}
