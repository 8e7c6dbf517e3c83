//! `vigil verify PACKAGE_DIR`: checks an evidence package offline and prints AUTHENTIC or
//! exactly what is wrong (exit status 1 when it is not authentic).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Args)]
pub struct VerifyArgs {
    /// The package's directory (the one holding manifest.json).
    pub package: PathBuf,
    /// Also require the package to be signed by this public key (the recorder's
    /// DATA/keys/recorder-ed25519.pub.pem, obtained independently of the package).
    #[arg(long)]
    pub public_key: Option<PathBuf>,
}

/// Prints the report; `Ok(false)` when the package is not authentic.
pub fn run(args: VerifyArgs) -> Result<bool> {
    let report = match &args.public_key {
        Some(p) => {
            let pem = std::fs::read_to_string(p)
                .with_context(|| format!("reading the public key {}", p.display()))?;
            evidence::verify_with_key(&args.package, &pem)
        }
        None => evidence::verify(&args.package),
    };
    println!("{report}");
    Ok(report.is_authentic())
}
