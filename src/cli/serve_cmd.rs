//! `gleaner serve`: the JSON API and web UI, on a tokio runtime made here.

use std::process::ExitCode;

use gleaner::app;
use gleaner::config::Config;

/// Runs the server until SIGINT/SIGTERM.
pub fn serve(config: &Config) -> anyhow::Result<ExitCode> {
    app::check_listen(config.http.listen, config.http.auth)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let auth = config.http.auth;
    runtime.block_on(app::serve(config, app::shutdown_signal(), |addr| {
        println!("gleaner: serving http://{addr}/");
        if !auth {
            println!("gleaner: authentication is off (loopback only)");
        }
    }))?;
    println!("gleaner: stopped");
    Ok(ExitCode::SUCCESS)
}
