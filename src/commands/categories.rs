//! `sg-debug categories`: the incident taxonomy, for people and scripts.

use std::process::ExitCode;

use anyhow::Result;

use crate::category;

pub fn run(json: bool) -> Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(category::all())?);
    } else {
        let width = category::all()
            .iter()
            .map(|c| c.id.len())
            .max()
            .unwrap_or(0);
        for c in category::all() {
            println!("{:width$}  {}", c.id, c.description);
            println!("{:width$}  e.g. {}", "", c.symptoms);
        }
    }
    Ok(ExitCode::SUCCESS)
}
