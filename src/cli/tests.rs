//! The command line as the README shows it and as clap checks it.

use std::ffi::OsString;

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

#[test]
fn every_modelgate_command_in_the_readme_parses() {
    let readme = include_str!("../../README.md");
    let mut language: Option<&str> = None;
    let mut parsed = Vec::new();
    for line in readme.lines() {
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
        if let Some(at) = text.find("$(modelgate ") {
            text = &text[at + 2..];
        }
        if !text.starts_with("modelgate ") {
            continue;
        }
        let args = words(text);
        if let Err(error) = Cli::try_parse_from(&args) {
            panic!("README: `{text}` does not parse: {error}");
        }
        parsed.push(args[1].clone());
    }
    for command in ["promote", "gate", "requests"] {
        let uses = parsed.iter().filter(|c| *c == command).count();
        assert!(
            uses >= 2,
            "the README shows `modelgate {command}` {uses} times"
        );
    }
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
fn a_usage_error_exits_2_but_3_under_gate_and_help_exits_0() {
    let args = |line: &str| -> Vec<OsString> { words(line).into_iter().map(Into::into).collect() };
    let gate = args("modelgate gate churn 1");
    let promote = args("modelgate promote churn 1");
    assert_eq!(
        usage_exit_code(ErrorKind::MissingRequiredArgument, &gate),
        3
    );
    assert_eq!(usage_exit_code(ErrorKind::ValueValidation, &gate), 3);
    assert_eq!(
        usage_exit_code(ErrorKind::MissingRequiredArgument, &promote),
        2
    );
    assert_eq!(usage_exit_code(ErrorKind::DisplayHelp, &gate), 0);
    assert_eq!(usage_exit_code(ErrorKind::DisplayVersion, &promote), 0);
    // a global option before the subcommand does not hide it
    for line in [
        "modelgate --config modelgate.toml gate churn 1",
        "modelgate --config=modelgate.toml gate churn 1",
    ] {
        assert_eq!(
            usage_exit_code(ErrorKind::MissingRequiredArgument, &args(line)),
            3,
            "{line}"
        );
    }
}
