//! The `sagemaker-remediator` command line: a thin layer over the library.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
#[cfg(feature = "sim")]
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use sagemaker_remediator::audit::{self, Progress};
use sagemaker_remediator::config::{Config, LogFormat, StoreKind};
#[cfg(feature = "sim")]
use sagemaker_remediator::sim::{SimConfig, Simulator};
use sagemaker_remediator::store::{
    DynamoStore, SqliteStore, Store, StoreError, TableInit, Verdict,
};
use sagemaker_remediator::{approvals, aws, daemon, journal};
#[cfg(feature = "sim")]
use sagemaker_remediator::{demo, shutdown};

/// Keeps Amazon SageMaker compliant with the AWS Security Hub controls SageMaker.1 to
/// SageMaker.8.
///
/// Configuration comes from built-in safe defaults, overridden by the file given with
/// --config, overridden by SMR_* environment variables (nested keys joined with "__", e.g.
/// SMR_AUDIT__CONCURRENCY=8). AWS credentials and region come from the usual AWS chain
/// (environment, profile, container role); AWS_ENDPOINT_URL points every call at an emulator.
#[derive(Debug, Parser)]
#[command(name = "sagemaker-remediator", version, about, long_about)]
struct Cli {
    /// TOML configuration file (see config/default.toml for every key).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sweep every configured account and region and report compliance with SageMaker.1-.8.
    ///
    /// Read-only: never calls a mutating API. Exit code 0 when the sweep was complete, 2 when
    /// any part of it failed (each failure is reported on stderr and, with --format json, as a
    /// record with an "error" key), 1 for a configuration error.
    Audit {
        /// `table`: a summary per control and the failing resources. `json`: JSON Lines on
        /// stdout, one object per (control, resource) evaluation.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Use the daemon's sweep cache (in daemon.store): describe only what its sweeps have
        /// not found compliant since it last changed, and count the rest as unchanged. Without
        /// it (the default) every resource is read and judged.
        #[arg(long)]
        cached: bool,
    },
    /// Run the daemon: consume EventBridge events from SQS (daemon.queue_url), sweep
    /// periodically, reconcile each affected resource and, in enforce mode and opted-in
    /// accounts, remediate it. Serves /healthz, /readyz and /metrics on daemon.listen.
    /// SIGTERM/SIGINT: stop taking messages, finish the step in flight, exit 0.
    Run,
    /// Print the remediation journal: each remediation with its steps, times and outcome, and
    /// the flagged resources with their recreation plans.
    Remediations {
        /// Only this resource (its ARN).
        #[arg(long, value_name = "ARN")]
        resource: Option<String>,
        /// At most this many remediations, newest first (1 or more).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
        limit: u64,
        /// `table` or `json` (one JSON object per remediation or flag).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Instead of the journal, the newest plan for --resource as people apply it in
        /// code: `cli` (AWS CLI commands), `terraform` or `cloudformation` (a JSON template).
        #[arg(long = "as", value_name = "LANGUAGE", requires = "resource")]
        render: Option<sagemaker_remediator::render::Language>,
    },
    /// List and decide approval requests (fixes that wait for a person). Works on the store in
    /// daemon.store_path, also while the daemon runs; a decision is acted on within seconds.
    Approvals {
        #[command(subcommand)]
        action: ApprovalsAction,
    },
    /// The store: `store init` creates the DynamoDB table of daemon.store = "dynamodb".
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Enforcement per account: `enforcement resume ACCOUNT` ends a pause of the hourly limit
    /// on notebook fixes (limits.notebook_fixes_per_hour) before the hour is over.
    Enforcement {
        #[command(subcommand)]
        action: EnforcementAction,
    },
    /// Show what the tool does, with no AWS account: starts a built-in SageMaker simulator,
    /// seeds a small fleet with compliant and violating resources, audits it, then runs the
    /// daemon in enforce mode on events for the violations and shows each remediation.
    #[cfg(feature = "sim")]
    Demo,
    /// Check the configuration (defaults, --config file, SMR_* environment) and report every
    /// problem at once. Exit code 0 when valid, 1 otherwise.
    ValidateConfig,
    /// The container health check: GET /healthz (with --ready: /readyz) of the daemon on
    /// daemon.listen (loopback for 0.0.0.0). Exit code 0 on 200, 1 otherwise.
    Healthcheck {
        /// Ask /readyz (ready to work: store open, AWS reachable) instead of /healthz.
        #[arg(long)]
        ready: bool,
        /// Seconds to wait for the answer (1 or more).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
        timeout_secs: u64,
    },
    #[cfg(feature = "sim")]
    /// Run the SageMaker simulator standalone on 127.0.0.1 (for tests and local experiments).
    ///
    /// Speaks the SageMaker JSON protocol: point the AWS SDK or CLI at it with
    /// AWS_ENDPOINT_URL_SAGEMAKER=http://127.0.0.1:PORT. Admin endpoints under /_sim/.
    Simulator {
        /// Port to listen on (0: any free port; the address is printed on stdout).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// How long every asynchronous transition (Pending -> InService, ...) takes.
        #[arg(long, default_value_t = 2000, value_name = "MS")]
        delay_ms: u64,
        /// The account id in the ARNs it makes.
        #[arg(long, default_value = "123456789012")]
        account: String,
    },
}

#[derive(Debug, Subcommand)]
enum ApprovalsAction {
    /// The requests, newest first.
    List {
        /// pending, approved, rejected, expired, superseded or all.
        #[arg(long, default_value = "pending", value_parser = parse_filter)]
        state: approvals::Filter,
        /// `table`, or `json`: JSON Lines with id, resource_arn, controls, state, plan,
        /// requested_at, expires_at, decided_by, reason and more.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// At most this many.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
        limit: u64,
    },
    /// Approve a pending request: the fix runs on a fresh look at the resource, if its plan is
    /// still the one approved.
    Approve {
        /// The request's id (`#ID` in the list).
        id: i64,
        /// Who decides (recorded in the journal).
        #[arg(long, value_name = "NAME")]
        by: String,
        /// Why (recorded in the journal).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Reject a pending request: the plan is not asked again until approvals.reask_after_hours
    /// passed or the plan changes.
    Reject {
        id: i64,
        #[arg(long, value_name = "NAME")]
        by: String,
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
}

/// The configured exemptions in force, for `remediations`.
/// A plan's Terraform form naming the resource's address, when `iac.terraform_states` names
/// `arn`; states that cannot be read are warnings on stderr.
async fn terraform_address(config: &Config, arn: &str, form: &str) -> String {
    if config.iac.terraform_states.is_empty() {
        return form.to_string();
    }
    let base = sagemaker_remediator::aws::base_config().await;
    let (map, warnings) = sagemaker_remediator::terraform::read(config, &base).await;
    for w in &warnings {
        eprintln!("warning: Terraform state {w}: the plan names no address from it");
    }
    match map.get(arn) {
        Some(address) => sagemaker_remediator::terraform::at_address(form, address),
        None => form.to_string(),
    }
}

fn print_exemptions(config: &Config, out: &mut dyn Write) -> std::io::Result<()> {
    let now = sagemaker_remediator::clock::now_ms();
    let active: Vec<_> = config.exemptions.iter().filter(|e| e.active(now)).collect();
    if active.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nExemptions in the configuration, in force ({}):",
        active.len()
    )?;
    for e in active {
        let controls = match e.controls.is_empty() {
            true => "all controls".to_string(),
            false => sagemaker_remediator::model::ControlId::spaced(&e.controls),
        };
        writeln!(
            out,
            "  {} [{controls}] until {}: {}",
            e.arn, e.expires, e.reason
        )?;
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
enum StoreAction {
    /// Create the DynamoDB table of daemon.dynamodb_table (on-demand capacity, the `due`
    /// index, TTL on `expires`) and wait until it is active; a table that exists is checked.
    Init,
}

/// The store of `config` for a command that reads or decides (never creates a journal).
async fn open_store(config: &Config) -> anyhow::Result<Box<dyn Store>> {
    Ok(match config.daemon.store {
        StoreKind::Sqlite => Box::new(SqliteStore::open_existing(&config.daemon.store_path)?),
        StoreKind::Dynamodb => {
            let base = sagemaker_remediator::aws::base_config().await;
            let client = sagemaker_remediator::store::dynamodb_client(&base);
            Box::new(DynamoStore::open(
                client,
                &config.daemon.dynamodb_table,
                config.daemon.dynamodb_retention_days,
            )?)
        }
    })
}

#[derive(Debug, Subcommand)]
enum EnforcementAction {
    /// Resume enforcement in a paused account now.
    Resume {
        /// The 12-digit account id.
        account: String,
    },
}

fn parse_filter(s: &str) -> Result<approvals::Filter, String> {
    approvals::Filter::parse(s).ok_or_else(|| {
        format!("`{s}` is not one of pending, approved, rejected, expired, superseded, all")
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes, each said once: a cause whose text the message before it already
/// contains (our error types name their causes) is not repeated.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

/// Loads and validates the configuration, printing every problem.
fn load_config(path: Option<&Path>) -> Option<Config> {
    match Config::load(path).and_then(|c| c.validate().map(|()| c)) {
        Ok(config) => Some(config),
        Err(errors) => {
            eprintln!(
                "error: the configuration has {} problem(s):",
                errors.problems.len()
            );
            for line in errors.to_string().lines() {
                eprintln!("  {line}");
            }
            None
        }
    }
}

/// `daemon.store_path` in a directory that does not exist: the daemon could not create its
/// journal there. Checked by `validate-config` and `run` (not by `audit`, which has no store).
fn store_directory_problem(config: &Config) -> Option<String> {
    if config.daemon.store != StoreKind::Sqlite {
        return None;
    }
    let path = &config.daemon.store_path;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    (!dir.is_dir()).then(|| {
        format!(
            "daemon.store_path: the directory {} does not exist: make it (or mount the volume) \
             before the daemon creates its journal there",
            dir.display()
        )
    })
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    #[cfg_attr(not(feature = "sim"), allow(unused_mut))]
    let Some(mut config) = load_config(cli.config.as_deref()) else {
        return Ok(ExitCode::from(1));
    };
    #[cfg(feature = "sim")]
    if matches!(cli.command, Command::Demo) && std::env::var_os("SMR_LOG__LEVEL").is_none() {
        // The demo shows the steps itself; its logs would only interleave with them.
        config.log.level = "warn".to_string();
    }
    init_logging(&config);
    match cli.command {
        Command::Healthcheck {
            ready,
            timeout_secs,
        } => {
            use sagemaker_remediator::http::healthcheck;
            let listen = config
                .daemon
                .listen_addr()
                .context("daemon.listen is not an address")?;
            let path = if ready { "/readyz" } else { "/healthz" };
            let addr = healthcheck::target(listen);
            match healthcheck::status(addr, path, std::time::Duration::from_secs(timeout_secs))
                .await
            {
                Ok(200) => {
                    println!("{path} at {addr}: 200");
                    Ok(ExitCode::SUCCESS)
                }
                Ok(status) => {
                    eprintln!("{path} at {addr}: {status}");
                    Ok(ExitCode::from(1))
                }
                Err(e) => {
                    eprintln!("unhealthy: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::ValidateConfig => {
            if let Some(problem) = store_directory_problem(&config) {
                eprintln!("error: the configuration has 1 problem(s):");
                eprintln!("  {problem}");
                return Ok(ExitCode::from(1));
            }
            for w in config.warnings() {
                eprintln!("warning: {}: {}", w.key, w.message);
            }
            println!(
                "configuration is valid ({})",
                cli.config
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "built-in defaults and SMR_* environment".to_string())
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { format, cached } => {
            let base = aws::base_config().await;
            let progress = match format {
                Format::Table => Progress::on_terminal(),
                Format::Json => Progress::new(false),
            };
            let cache = match cached {
                true => Some(open_store(&config).await?),
                false => None,
            };
            let report = audit::run_cached(&config, &base, &progress, cache.as_deref()).await;
            for e in &report.errors {
                eprintln!("{}", audit::describe_error(e));
            }
            if format == Format::Json {
                // The table prints them; JSON Lines keeps stdout to records.
                for note in &report.parameter_notes {
                    eprintln!("note: {note}");
                }
            }
            let mut stdout = std::io::stdout().lock();
            match format {
                Format::Table => audit::write_table(&report, &mut stdout),
                Format::Json => audit::write_json(&report, &mut stdout),
            }
            .context("writing the report")?;
            Ok(if report.complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Run => {
            if let Some(problem) = store_directory_problem(&config) {
                anyhow::bail!("{problem}");
            }
            daemon::run(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Remediations {
            resource,
            limit,
            format,
            render,
        } => {
            let store = open_store(&config).await?;
            let mut stdout = std::io::stdout().lock();
            if let (Some(language), Some(arn)) = (render, resource.as_deref()) {
                let flag = store.flags(Some(arn))?.into_iter().next();
                let latest = store.remediations(Some(arn), 1)?.into_iter().next();
                let mut text =
                    sagemaker_remediator::render::newest(flag.as_ref(), latest.as_ref(), language);
                if let (Some(form), sagemaker_remediator::render::Language::Terraform) =
                    (&mut text, language)
                {
                    *form = terraform_address(&config, arn, form).await;
                }
                return match text {
                    Some(text) => {
                        write!(stdout, "{text}")?;
                        Ok(ExitCode::SUCCESS)
                    }
                    None => {
                        eprintln!("no plan for {arn} has a {language} form (see `remediations --resource {arn}`)");
                        Ok(ExitCode::from(2))
                    }
                };
            }
            journal::print(
                &*store,
                resource.as_deref(),
                usize::try_from(limit).unwrap_or(usize::MAX),
                format == Format::Json,
                &mut stdout,
            )
            .context("reading the journal")?;
            if format == Format::Table {
                print_exemptions(&config, &mut stdout)?;
                let now = sagemaker_remediator::clock::now_ms();
                for p in store.pauses()? {
                    if p.until > now && p.resumed_at.is_none() {
                        writeln!(
                            stdout,
                            "\nEnforcement paused in {}: {}",
                            p.account, p.reason
                        )?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Store {
            action: StoreAction::Init,
        } => {
            let table = &config.daemon.dynamodb_table;
            let base = sagemaker_remediator::aws::base_config().await;
            let client = sagemaker_remediator::store::dynamodb_client(&base);
            match DynamoStore::init(&client, table).await? {
                TableInit::Created => println!("created the DynamoDB table {table}"),
                TableInit::Existed => {
                    println!("the DynamoDB table {table} exists and is as expected")
                }
            }
            if config.daemon.store != StoreKind::Dynamodb {
                eprintln!(
                    "note: daemon.store is \"sqlite\"; set daemon.store = \"dynamodb\" to use the table"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Enforcement {
            action: EnforcementAction::Resume { account },
        } => {
            let store = open_store(&config).await?;
            let now = sagemaker_remediator::clock::now_ms();
            if sagemaker_remediator::reconcile::limits::resume(&*store, &account, now)? {
                println!("enforcement in {account} resumed");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: enforcement in {account} is not paused");
                Ok(ExitCode::from(2))
            }
        }
        Command::Approvals { action } => {
            let store = open_store(&config).await?;
            let now = sagemaker_remediator::clock::now_ms();
            let mut stdout = std::io::stdout().lock();
            let (id, verdict, by, reason) = match action {
                ApprovalsAction::List {
                    state,
                    format,
                    limit,
                } => {
                    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                    let found = approvals::list(&*store, state, now, limit)?;
                    approvals::print(&found, now, format == Format::Json, &mut stdout)?;
                    return Ok(ExitCode::SUCCESS);
                }
                ApprovalsAction::Approve { id, by, reason } => (id, Verdict::Approve, by, reason),
                ApprovalsAction::Reject { id, by, reason } => (id, Verdict::Reject, by, reason),
            };
            if by.trim().is_empty() || reason.trim().is_empty() {
                anyhow::bail!("--by and --reason must not be empty: they go into the journal");
            }
            match approvals::decide(&*store, id, verdict, by.trim(), reason.trim(), now) {
                Ok(a) => {
                    writeln!(stdout, "request #{} is {} by {}", a.id, a.state, by.trim())?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e @ (StoreError::NotFound { .. } | StoreError::Conflict { .. })) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(e.into()),
            }
        }
        #[cfg(feature = "sim")]
        Command::Demo => {
            let mut stdout = std::io::stdout().lock();
            let report = demo::run(&config, &mut stdout).await?;
            Ok(if report.complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        #[cfg(feature = "sim")]
        Command::Simulator {
            port,
            delay_ms,
            account,
        } => {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .with_context(|| format!("binding 127.0.0.1:{port}"))?;
            let addr = listener.local_addr()?;
            let simulator = Simulator::new(SimConfig {
                account,
                transition_delay: Duration::from_millis(delay_ms),
                ..SimConfig::default()
            });
            println!("http://{addr}");
            simulator.serve(listener, shutdown::signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
