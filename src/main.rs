//! The `hookbridge` command: parse the CLI, load the config, set up logging, bind the
//! listeners, run, and map the outcome to an exit code.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use hookbridge::config::{Config, Secrets};
use hookbridge::{probe, sender};

/// EverBright webhooks in, acknowledged CloudEvents on Kafka out.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Log format; `auto` is JSON unless stderr is a terminal.
    #[arg(
        long,
        global = true,
        env = "HOOKBRIDGE_LOG_FORMAT",
        default_value = "auto"
    )]
    log_format: LogFormat,
    /// The config file.
    #[arg(
        long,
        global = true,
        env = "HOOKBRIDGE_CONFIG",
        default_value = "hookbridge.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve webhooks until SIGTERM or SIGINT.
    Serve,
    /// Validate the config file: exit 0, or 64 with every error listed.
    CheckConfig {
        /// Check `{ env }` and `{ file }` secret references without reading them (for
        /// checking a config away from where its secrets are mounted).
        #[arg(long, conflicts_with = "kafka")]
        skip_secrets: bool,
        /// Also connect to `kafka.brokers` and check that every topic the config writes
        /// to takes the largest record it may produce (exit 69 when unreachable).
        #[arg(long)]
        kafka: bool,
    },
    /// Print, as a curl command, a request signed for a credential.
    Sign(sender::Args),
    /// Send a request signed for a credential; print the status and answer. Exits 1
    /// when the answer is not 2xx.
    Send(sender::Args),
    /// Write the contract of the config's topics: an AsyncAPI 3.0 document and the JSON
    /// Schemas of the records.
    Contract {
        /// The folder to write `asyncapi.yaml` and `schemas/` into (created if needed).
        #[arg(long)]
        out: PathBuf,
    },
    /// Republish the dead letters that today's config turns into events, then report.
    Redrive {
        /// Report what would be republished; publish and commit nothing.
        #[arg(long)]
        dry_run: bool,
        /// Examine every dead letter still on the topics, not only those after the last
        /// run (records republished before are republished again, with the same id).
        #[arg(long)]
        from_beginning: bool,
    },
    /// GET a URL (e.g. /readyz) and exit 0 on a 2xx answer, 1 otherwise; reads no
    /// config. For checks where the image has no shell or curl (`helm test`).
    Probe(probe::Args),
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Auto,
    Json,
    Text,
}

/// mimalloc instead of glibc's malloc: measured in docs/performance.md (fewer
/// instructions per request, and no `malloc_consolidate` stalls under load).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EX_USAGE: u8 = 2;
const EX_CONFIG: u8 = 64;
const EX_UNAVAILABLE: u8 = 69;
const EX_SOFTWARE: u8 = 70;
const EX_CANTCREAT: u8 = 73;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Probe(args) => return run_probe(&args),
        command => command,
    };
    init_tracing(cli.log_format);
    let env = std::sync::Arc::new(|name: &str| std::env::var(name).ok());
    let secrets = match command {
        Command::CheckConfig {
            skip_secrets: true, ..
        } => Secrets::Skip,
        _ => Secrets::Read,
    };
    let config = match Config::load_with(&cli.config, env.clone(), secrets) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{}: {errors}", cli.config.display());
            return ExitCode::from(EX_CONFIG);
        }
    };
    match command {
        Command::CheckConfig {
            skip_secrets,
            kafka,
        } => {
            let unread = if skip_secrets {
                ", secret references not read"
            } else {
                ""
            };
            let n = config.credentials.len();
            let path = cli.config.display();
            if kafka {
                let code = check_kafka(&config, &path.to_string());
                if code != ExitCode::SUCCESS {
                    return code;
                }
            }
            print(&format!("{path}: ok ({n} credentials{unread})"));
            ExitCode::SUCCESS
        }
        Command::Serve => match hookbridge::trace::Settings::from_env(&|name| env(name)) {
            Ok(traces) => serve(config, traces),
            Err(problems) => {
                eprintln!("error: {problems}");
                ExitCode::from(EX_CONFIG)
            }
        },
        Command::Contract { out } => contract(&config, &out),
        Command::Redrive {
            dry_run,
            from_beginning,
        } => redrive(
            &config,
            hookbridge::redrive::Options {
                dry_run,
                from_beginning,
            },
        ),
        Command::Sign(r) => request(&config, r, false),
        Command::Send(r) => request(&config, r, true),
        Command::Probe(args) => run_probe(&args),
    }
}

#[tokio::main]
async fn serve(config: Config, traces: Option<hookbridge::trace::Settings>) -> ExitCode {
    let bind = |addr| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .inspect_err(|e| tracing::error!(%addr, error = %e, "cannot bind"))
    };
    let (Ok(webhook), Ok(admin)) = (
        bind(config.server.listen).await,
        bind(config.server.admin_listen).await,
    ) else {
        return ExitCode::from(EX_UNAVAILABLE);
    };
    let listeners = hookbridge::Listeners { webhook, admin };
    let stop = hookbridge::shutdown::signal();
    match hookbridge::run_traced(listeners, config, traces, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "hookbridge stopped");
            ExitCode::from(EX_SOFTWARE)
        }
    }
}

/// `check-config --kafka`: every topic takes the largest record (else 64), asked of a
/// reachable cluster (else 69).
#[tokio::main(flavor = "current_thread")]
async fn check_kafka(config: &Config, path: &str) -> ExitCode {
    let topics = config.topics();
    match hookbridge::publish::topics::findings(&config.kafka, &topics).await {
        Ok(findings) if findings.is_empty() => {
            print(&format!(
                "{path}: kafka: {} topics take records of up to {} bytes",
                topics.len(),
                config.kafka.max_record_bytes
            ));
            ExitCode::SUCCESS
        }
        Ok(findings) => {
            eprintln!("{path}: {} errors on kafka", findings.len());
            for finding in findings {
                eprintln!("  kafka: {finding}");
            }
            ExitCode::from(EX_CONFIG)
        }
        Err(e) => {
            eprintln!("{path}: kafka: cannot look up the topics' limits: {e}");
            ExitCode::from(EX_UNAVAILABLE)
        }
    }
}

/// `contract`: the AsyncAPI document and the schemas, written under `out`.
fn contract(config: &Config, out: &std::path::Path) -> ExitCode {
    let files = hookbridge::contract::generate(config);
    match hookbridge::contract::write(&files, out) {
        Ok(()) => {
            for file in &files {
                print(&out.join(&file.path).display().to_string());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write the contract to {}: {e}", out.display());
            ExitCode::from(EX_CANTCREAT)
        }
    }
}

/// `redrive`: the report on stdout, progress and errors on stderr.
#[tokio::main]
async fn redrive(config: &Config, options: hookbridge::redrive::Options) -> ExitCode {
    let mut progress = |line: &str| eprintln!("{line}");
    let (report, result) = hookbridge::redrive::run(config, options, &mut progress).await;
    print(&report.to_string());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ hookbridge::redrive::Error::Producer(_)) => {
            eprintln!("error: {e}");
            ExitCode::from(EX_SOFTWARE)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EX_UNAVAILABLE)
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn request(config: &Config, args: sender::Args, send: bool) -> ExitCode {
    match sender::command(config, args, send).await {
        Ok((output, ok)) => {
            print(&output);
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EX_USAGE)
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn run_probe(args: &probe::Args) -> ExitCode {
    match probe::run(args).await {
        Ok(answer) => {
            print(&answer.line());
            if answer.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EX_UNAVAILABLE)
        }
    }
}

/// Prints a line to stdout. A reader that went away (`hookbridge sign … | head`) is not
/// an error worth a panic: the rest of the output is simply not wanted.
fn print(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    if json {
        builder
            .event_format(hookbridge::log_format::JsonLines)
            .init();
    } else {
        builder.init();
    }
}
