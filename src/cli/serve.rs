//! `3ox serve`: the local web dashboard (see [`crate::web`]).
//!
//! Binds 127.0.0.1 (another address only with `--allow-remote`), prints the address with
//! its random token as the first line of stdout (`http://127.0.0.1:PORT/?token=...`) and
//! serves until Ctrl-C. `--port 0` takes a free port.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::web;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The port to listen on (0: any free port; the address printed says which).
    #[arg(long, default_value_t = 7300)]
    pub port: u16,
    /// The address to listen on. Anything but a loopback address needs `--allow-remote`.
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Allow `--bind` to a non-loopback address: anyone who can reach it and has the token
    /// can approve and operate runs.
    #[arg(long)]
    pub allow_remote: bool,
    /// Another host name the dashboard answers to (the Host header, with the port), besides
    /// the bound address (and `localhost` when bound to loopback). Repeatable.
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// Sign approvals made on the dashboard with this private key file (as `3ox approve
    /// --key`).
    #[arg(long, env = "THREEOX_SIGNING_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Who decides and operates, recorded as `web:<NAME>` (default: $USER or $USERNAME).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    if !args.bind.is_loopback() && !args.allow_remote {
        eprintln!(
            "error: --bind {} is not a loopback address; the dashboard can approve and terminate runs\nhint: add --allow-remote to serve it there (the token is still required), or keep the default 127.0.0.1",
            args.bind
        );
        return Ok(super::EXIT_USAGE);
    }
    let listener = std::net::TcpListener::bind(SocketAddr::new(args.bind, args.port))
        .with_context(|| format!("cannot listen on {}:{}", args.bind, args.port))?;
    let bound = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let port = bound.port();
    let mut allowed_hosts = vec![bound.to_string()];
    if args.bind.is_loopback() {
        allowed_hosts.push(format!("localhost:{port}"));
    }
    allowed_hosts.extend(args.allow_host.iter().map(|h| format!("{h}:{port}")));
    let token = web::security::random_token();
    let user = super::control::who(args.by.as_deref());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let app = web::App::new(web::Config {
            station,
            allowed_hosts,
            token: token.clone(),
            user,
            key: args.key,
        })?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "http://{bound}/?token={token}")?;
        stdout.flush()?;
        drop(stdout);
        eprintln!(
            "3ox serve: the dashboard of {} on http://{bound}/ (open the address above; Ctrl-C stops)",
            app.station.root.display()
        );
        web::serve(listener, app, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the dashboard stopped")?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(super::EXIT_OK)
}
