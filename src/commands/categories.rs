//! `sg-debug categories`: the incident taxonomy, for people and scripts.

use std::process::ExitCode;

use anyhow::Result;

use crate::category::CATEGORIES;

pub fn run(json: bool) -> Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(CATEGORIES)?);
    } else {
        let width = CATEGORIES.iter().map(|c| c.id.len()).max().unwrap_or(0);
        for c in CATEGORIES {
            println!("{:width$}  {}", c.id, c.description);
            println!("{:width$}  e.g. {}", "", c.symptoms);
        }
    }
    Ok(ExitCode::SUCCESS)
}
