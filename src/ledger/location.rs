//! Where the ledger lives: a SQLite file by default, a PostgreSQL database
//! for a team that shares one. Chosen by `--ledger`, else
//! `SG_DEBUG_LEDGER`, else `$XDG_DATA_HOME/sg-debug/ledger.sqlite` (or
//! `~/.local/share/sg-debug/ledger.sqlite`).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use anyhow::{Result, bail};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL, password and all.
    Postgres(String),
}

impl Location {
    /// The first setting given, in order of precedence, or the default
    /// file from the XDG variables.
    pub fn resolve(
        flag: Option<&str>,
        env: Option<OsString>,
        xdg_data_home: Option<OsString>,
        home: Option<OsString>,
    ) -> Result<Location> {
        let env = env.filter(|v| !v.is_empty());
        if let Some(s) = flag {
            return Ok(Location::parse(s));
        }
        if let Some(v) = env {
            let Some(s) = v.to_str() else {
                bail!("SG_DEBUG_LEDGER is not valid UTF-8; give a file path or a postgres:// URL");
            };
            return Ok(Location::parse(s));
        }
        // The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
        let base = match xdg_data_home.map(PathBuf::from) {
            Some(p) if p.is_absolute() => p,
            _ => match home.map(PathBuf::from) {
                Some(h) if h.is_absolute() => h.join(".local/share"),
                _ => bail!(
                    "no place for the ledger: neither XDG_DATA_HOME nor HOME is an absolute path; pass --ledger PATH"
                ),
            },
        };
        Ok(Location::Sqlite(
            base.join("sg-debug").join("ledger.sqlite"),
        ))
    }

    pub fn parse(s: &str) -> Location {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Location::Postgres(s.to_string())
        } else {
            Location::Sqlite(PathBuf::from(s.strip_prefix("sqlite://").unwrap_or(s)))
        }
    }
}

/// Shown in messages: the URL with its password masked.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => f.write_str(&masked(url)),
        }
    }
}

/// `postgres://user:secret@host/db?password=x` → `postgres://user:***@host/db?password=***`.
fn masked(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let main = match main.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => main.to_string(),
        },
        None => main.to_string(),
    };
    let mut out = format!("{scheme}://{main}");
    if let Some(q) = query {
        let params: Vec<String> = q
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(s.into())
    }

    #[test]
    fn precedence_flag_env_xdg_home() {
        let r = |f, e, x, h| Location::resolve(f, e, x, h).unwrap();
        assert_eq!(
            r(Some("/f.sqlite"), os("/e"), None, os("/h")),
            Location::Sqlite("/f.sqlite".into())
        );
        assert_eq!(
            r(None, os("postgres://u@h/db"), os("/x"), os("/h")),
            Location::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            r(None, os(""), os("/x"), os("/h")),
            Location::Sqlite("/x/sg-debug/ledger.sqlite".into())
        );
        assert_eq!(
            r(None, None, os("relative"), os("/h")),
            Location::Sqlite("/h/.local/share/sg-debug/ledger.sqlite".into())
        );
        assert!(Location::resolve(None, None, None, None).is_err());
    }

    #[test]
    fn passwords_are_not_shown() {
        let l =
            Location::parse("postgresql://sg:s3cret@db:5432/ledger?sslmode=require&password=x2");
        let shown = l.to_string();
        assert!(
            !shown.contains("s3cret") && !shown.contains("x2"),
            "{shown}"
        );
        assert_eq!(
            shown,
            "postgresql://sg:***@db:5432/ledger?sslmode=require&password=***"
        );
        assert_eq!(
            Location::parse("postgres://sg@db/l").to_string(),
            "postgres://sg@db/l"
        );
    }
}
