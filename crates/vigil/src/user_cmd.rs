//! `vigil user add|list|passwd|disable|enable`: the people who may sign in to the web UI.
//!
//! Passwords come from `VIGIL_USER_PASSWORD` (scripts) or are typed twice on a terminal
//! without echo; there is no default password and weak ones are refused. Every change is an
//! audit event (`user.create`, `user.change`, by `cli:<unix user>`; never a password).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::json;

use crate::audit_cmd::CliAudit;
use crate::DataArgs;

/// The environment variable a script sets to give a password without a terminal.
pub const PASSWORD_ENV: &str = "VIGIL_USER_PASSWORD";

#[derive(Subcommand)]
pub enum UserCmd {
    /// Add a user (password from VIGIL_USER_PASSWORD, or typed twice on a terminal).
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Login name: letters, digits, '.', '_' or '-'.
        name: String,
        /// administrator (IT), leadership, guard or viewer.
        #[arg(long, value_parser = parse_role)]
        role: govern::Role,
        /// Name shown in the UI and on the video watermark (default: the login name).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List users (never their passwords).
    List {
        #[command(flatten)]
        data: DataArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password (ends their sessions).
    Passwd {
        #[command(flatten)]
        data: DataArgs,
        name: String,
    },
    /// Disable a user (ends their sessions).
    Disable {
        #[command(flatten)]
        data: DataArgs,
        name: String,
    },
    /// Enable a disabled user.
    Enable {
        #[command(flatten)]
        data: DataArgs,
        name: String,
    },
}

fn parse_role(s: &str) -> Result<govern::Role, String> {
    s.parse().map_err(|e: govern::GovernError| e.to_string())
}

/// Opens the user tables of the data directory (creating the database if needed).
pub fn open_govern(data: &DataArgs) -> Result<govern::Govern> {
    Ok(open_with_dir(data)?.0)
}

/// [`open_govern`], and the data directory.
fn open_with_dir(data: &DataArgs) -> Result<(govern::Govern, PathBuf)> {
    let cfg = data.load()?;
    // Make sure the store's schema exists first (it owns the database file).
    drop(crate::camera_cmd::open_dir(&cfg.data_dir)?);
    let g = govern::Govern::open(&cfg.data_dir.join(store::DB_FILE))
        .context("opening the user database")?;
    Ok((g, cfg.data_dir))
}

/// Opens the user tables and the audit trail (before anything changes), makes the change
/// with `f`, and records `action` on `user:<name>` with the detail `f` returns.
fn audited(
    data: &DataArgs,
    action: &'static str,
    name: &str,
    f: impl FnOnce(&govern::Govern) -> Result<serde_json::Value>,
) -> Result<()> {
    let (g, dir) = open_with_dir(data)?;
    let audit = CliAudit::open(&dir)?;
    let detail = f(&g)?;
    audit.record(action, format!("user:{name}"), detail)?;
    audit.close()
}

pub fn now_secs() -> i64 {
    crate::recorder::now_ticks() / media::time::TICKS_PER_SEC
}

pub fn run(c: UserCmd) -> Result<()> {
    match c {
        UserCmd::Add {
            data,
            name,
            role,
            display_name,
        } => {
            let pw = read_new_password(&name)?;
            audited(&data, "user.create", &name, |g| {
                let u = g.create_user(
                    &name,
                    display_name.as_deref().unwrap_or(""),
                    role,
                    &pw,
                    now_secs(),
                )?;
                println!("added {} ({}) as {}", u.username, u.display_name, u.role);
                Ok(json!({
                    "role": u.role.as_str(),
                    "roles": u.roles,
                    "zone": u.zone,
                    "display_name": u.display_name,
                }))
            })?;
        }
        UserCmd::List { data, json } => {
            let g = open_govern(&data)?;
            let users = g.users()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                println!("{:<20} {:<14} {:<9} display name", "user", "role", "state");
                for u in users {
                    println!(
                        "{:<20} {:<14} {:<9} {}",
                        u.user.username,
                        u.user.role,
                        if u.disabled { "disabled" } else { "active" },
                        u.user.display_name
                    );
                }
            }
        }
        UserCmd::Passwd { data, name } => {
            let pw = read_new_password(&name)?;
            audited(&data, "user.change", &name, |g| {
                g.set_password(&name, &pw, now_secs())?;
                println!("password of {name} changed; their sessions ended");
                // That it changed, never the password.
                Ok(json!({ "change": "password" }))
            })?;
        }
        UserCmd::Disable { data, name } => {
            audited(&data, "user.change", &name, |g| {
                g.set_disabled(&name, true, now_secs())?;
                println!("{name} disabled");
                Ok(json!({ "disabled": true }))
            })?;
        }
        UserCmd::Enable { data, name } => {
            audited(&data, "user.change", &name, |g| {
                g.set_disabled(&name, false, now_secs())?;
                println!("{name} enabled");
                Ok(json!({ "disabled": false }))
            })?;
        }
    }
    Ok(())
}

/// The new password: from [`PASSWORD_ENV`], or typed twice on the terminal. Checked
/// against the rules before anything is written.
fn read_new_password(user: &str) -> Result<String> {
    let pw = match std::env::var(PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => p,
        _ => {
            anyhow::ensure!(
                std::io::stdin().is_terminal(),
                "no password: set {PASSWORD_ENV} or run this on a terminal to type it"
            );
            let a = prompt_hidden(&format!("New password for {user}: "))?;
            let b = prompt_hidden("Again: ")?;
            anyhow::ensure!(a == b, "the two passwords differ; nothing changed");
            a
        }
    };
    govern::check_password_strength(&pw).map_err(|e| anyhow::anyhow!("{e}; nothing changed"))?;
    Ok(pw)
}

/// Reads a line from the terminal with echo off.
fn prompt_hidden(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a terminal fd.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    let have = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have {
        let mut quiet = old;
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        // SAFETY: `quiet` is a valid termios derived from the current one.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let res = std::io::stdin().lock().read_line(&mut line);
    if have {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    }
    res?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
