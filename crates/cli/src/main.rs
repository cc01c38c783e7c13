//! The `gongjian` binary: a thin shell over the store and web crates.

mod bench;
mod bench_baseline;
mod bench_checkin;
mod bench_http;
mod bench_imports;
mod bench_pages;
mod bench_points;
mod config;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use gongjian_domain::access::Role;
use gongjian_store::Store;
use gongjian_store::demo::{DemoCity, Scale};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;

#[derive(Parser)]
#[command(
    name = "gongjian",
    version,
    about = "共建 — party-building-led urban grassroots governance platform"
)]
struct Cli {
    /// Configuration file (TOML); `GONGJIAN__…` environment variables override it.
    #[arg(long, global = true, env = "GONGJIAN_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory for the embedded database (default ./data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… (default: SQLite in the data directory).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database and serve HTTP.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Load this demo city first when it is not there yet: foshan, yuquan or toutunhe.
        #[arg(long)]
        demo: Option<String>,
        /// Demo scale: small or full.
        #[arg(long, default_value = "small")]
        scale: String,
    },
    /// Create or upgrade the database schema.
    Migrate,
    /// Load a demo city from the real division list, with synthetic grids and organisations.
    Demo {
        /// foshan, yuquan or toutunhe.
        #[arg(long)]
        city: String,
        /// small or full.
        #[arg(long, default_value = "small")]
        scale: String,
    },
    /// Manage accounts from the command line.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print an annotated configuration file with the defaults.
    DefaultConfig,
    /// Personal access tokens for automation.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Import records from a spreadsheet (.xlsx, .xls, .ods, .csv).
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// The data key that encrypts personal data at rest.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Time the hot paths on the Foshan demo: in a scratch database built for the run, unless
    /// --database-url or --data-dir names an existing database, or --reuse keeps one.
    Bench {
        /// Timed runs per operation (metrics and pages: at most 100).
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// Demo scale built when the database holds no Foshan yet: small or full.
        #[arg(long, default_value = "small")]
        scale: String,
        /// Keep the scratch database in the temporary directory (gongjian-bench-foshan-SCALE)
        /// and reuse it on the next run instead of building the demo again.
        #[arg(long)]
        reuse: bool,
        /// Leave out the 100,000-row import benchmark (which adds residents to the database).
        #[arg(long)]
        skip_import: bool,
        /// Only the points benchmark: sustained points transactions per second over HTTP
        /// against the bare single-row insert rate of the engine, measured in the same run.
        #[arg(long)]
        points: bool,
        /// Only the check-in benchmark: QR check-ins per second over HTTP against the bare
        /// single-row insert rate of the engine, measured in the same run.
        #[arg(long)]
        checkins: bool,
        /// Only the import benchmark: CSV and .xlsx files of 100,000 and 300,000 resident rows
        /// read and imported (rows per second, peak memory), against the .xlsx read and the
        /// old CSV line numbering measured in the same run. Adds 300,000 residents.
        #[arg(long)]
        imports: bool,
        /// Concurrent HTTP clients of the points (or check-in) benchmark.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Seconds each phase of the points benchmark runs.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for an account and print only the token.
    Create {
        /// The account the token acts as.
        #[arg(long)]
        user: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// read or write.
        #[arg(long, default_value = "read")]
        scope: String,
        /// Days until it expires (1–366).
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Residents: columns 姓名, 网格编码 and optionally 身份证号, 手机号码, 门牌, 户籍.
    Residents(ImportArgs),
    /// Party members: 身份证号 (a registered resident), 所在党组织, and 党员类别, 入党日期, 转正日期.
    Members(ImportArgs),
    /// Units in the area: 单位名称, 所在社区/街道, and 统一社会信用代码, 单位类型, 地址, 联系人, 职务, 联系电话.
    Units(ImportArgs),
    /// Posts: 身份证号 (a registered resident), 职务, 任职单位, and 等级, 任职日期.
    Posts(ImportArgs),
}

#[derive(clap::Args)]
struct ImportArgs {
    file: PathBuf,
    /// The account whose rights and scope the import uses (it is audited under this name).
    #[arg(long)]
    user: String,
    /// The node (by code) the import is done at: every row must lie in its subtree.
    #[arg(long)]
    node: String,
    /// Update records already there (same ID number, same credit code) instead of leaving
    /// them as they are.
    #[arg(long)]
    update: bool,
    /// Check every row and report, without writing.
    #[arg(long)]
    dry_run: bool,
    /// Write the refused rows to this .xlsx file.
    #[arg(long)]
    rejected: Option<PathBuf>,
}

impl ImportCommand {
    fn split(self) -> (gongjian_store::imports::ImportKind, ImportArgs) {
        use gongjian_store::imports::ImportKind;
        match self {
            ImportCommand::Residents(a) => (ImportKind::Residents, a),
            ImportCommand::Members(a) => (ImportKind::Members, a),
            ImportCommand::Units(a) => (ImportKind::Units, a),
            ImportCommand::Posts(a) => (ImportKind::Posts, a),
        }
    }
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Make a new current key (the old one stays in the key file to read older values) and
    /// re-encrypt every stored value under it.
    Rotate,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain and name the first altered, inserted or missing entry.
    Verify,
    /// Remove entries older than the retention (at least 180 days); the pruning is audited.
    Prune {
        #[arg(long, default_value_t = 180)]
        days: i64,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; prints its one-time password, which must be changed at first login.
    Add {
        username: String,
        /// Name shown in the console.
        #[arg(long)]
        display_name: Option<String>,
        /// Role key (system_admin, security_admin, audit_admin, org_department, …).
        #[arg(long, default_value = "system_admin")]
        role: String,
    },
    /// Set a new one-time password for an account and end its sessions.
    ResetPassword { username: String },
}

/// Prints to stdout; a closed pipe (`| head`) ends quietly instead of panicking.
pub(crate) fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").is_err() {
        std::process::exit(0);
    }
}

fn parse_city(s: &str) -> Result<DemoCity> {
    DemoCity::from_key(s).with_context(|| format!("unknown demo city '{s}': use foshan, yuquan or toutunhe"))
}

fn parse_scale(s: &str) -> Result<Scale> {
    Scale::from_key(s).with_context(|| format!("unknown scale '{s}': use small or full"))
}

/// Connects, migrates and checks the data key against the one the database records (see
/// [`Store::unlock`]): every command that opens the database goes through here.
async fn open(config: &Config) -> Result<Store> {
    let store = connect(config).await?;
    Ok(store.unlock(&config.data_dir).await?)
}

/// Connects and migrates, with no data key yet.
async fn connect(config: &Config) -> Result<Store> {
    let store = match &config.database_url {
        Some(url) if !url.is_empty() => Store::connect(url).await?,
        _ => Store::open_data_dir(&config.data_dir).await?,
    };
    let store = store
        .with_clock(config.clock()?)
        .with_audit_witness(witness_path(config));
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

/// The audit witness file: the configured one, else `audit.witness` in the data directory.
fn witness_path(config: &Config) -> PathBuf {
    config
        .audit_witness
        .clone()
        .unwrap_or_else(|| config.data_dir.join("audit.witness"))
}

/// Records the audit chain's head in the witness now and every `seconds` after (0: now only);
/// a failure is logged and tried again at the next turn.
async fn witness_audit(store: Store, seconds: u64) {
    let mut tick = tokio::time::interval(Duration::from_secs(seconds.max(1)));
    loop {
        tick.tick().await;
        if let Err(e) = store.witness_audit_head().await {
            tracing::warn!(error = %e, "the audit chain's head was not recorded in the witness");
        }
        if seconds == 0 {
            return;
        }
    }
}

async fn load_demo(store: &Store, city: DemoCity, scale: Scale) -> Result<()> {
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{msg:12} [{bar:40}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Without a terminal (a log file) the bar is hidden: each stage is logged as it starts.
    let started = std::time::Instant::now();
    let stage_now = std::sync::Mutex::new(String::new());
    let progress = |stage: &str, done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
        if let Ok(mut current) = stage_now.lock()
            && *current != stage
        {
            *current = stage.to_string();
            bar.set_message(stage.to_string());
            if bar.is_hidden() {
                eprintln!("{:8.1} s  {stage} ({total})", started.elapsed().as_secs_f64());
            }
        }
    };
    let report = store.load_demo(city, scale, &progress).await;
    bar.finish_and_clear();
    let report = report?;
    store.refresh_rollups().await?;
    say(&format!(
        "演示城市 {}: {} 区, {} 街道(镇), {} 社区(一级网格), {} 二级网格, {} 三级网格, {} 党组织, {} 居民, {} 个岗位 — {:.1} s",
        report.city_name,
        report.districts,
        report.streets,
        report.communities,
        report.grids_l2,
        report.grids_l3,
        report.party_orgs,
        report.residents,
        report.posts,
        report.seconds
    ));
    let r = report.registration;
    say(&format!(
        "双报到: {} 个驻区单位, {} 名党员, {} 名在职党员报到, {} 名干部选派或下沉",
        r.units, r.members, r.registrations, r.deployments
    ));
    let v = report.volunteers;
    say(&format!(
        "志愿服务: {} 名志愿者, {} 支队伍, {} 场活动, {} 条服务记录, {} 笔积分交易, {} 次兑换, {} 个活动目标",
        v.volunteers, v.teams, v.activities, v.records, v.point_transactions, v.redemptions, v.campaigns
    ));
    Ok(())
}

/// An import from the command line: progress on standard error, the outcome on standard output.
async fn run_import(store: &Store, kind: gongjian_store::imports::ImportKind, args: ImportArgs) -> Result<()> {
    use gongjian_store::imports::{ImportOptions, OnDuplicate};
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let actor = store.actor_by_name(&args.user).await?;
    let node = store
        .node_by_code(&actor, &args.node)
        .await
        .with_context(|| format!("node {} not found in the scope of {}", args.node, args.user))?;
    let options = ImportOptions {
        kind,
        on_duplicate: if args.update {
            OnDuplicate::Update
        } else {
            OnDuplicate::Skip
        },
        commit: !args.dry_run,
        at: Some(node.id),
    };
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{msg:6} [{bar:40}] {pos}/{len} rows ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // On a terminal a bar; otherwise (a log, a pipe) a line per stage and per 5,000 rows.
    let plain = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let last = std::sync::Mutex::new((String::new(), 0u64));
    let progress = |stage: &str, done: u64, total: u64| {
        if !plain {
            bar.set_length(total.max(1));
            bar.set_position(done);
            bar.set_message(stage.to_string());
        } else if let Ok(mut last) = last.lock()
            && (last.0 != stage || done >= last.1 + 5000 || (done == total && last.1 != done))
        {
            eprintln!("{stage} {done}/{total}");
            *last = (stage.to_string(), done);
        }
    };
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let report = store.import(&actor, &name, &bytes, options, "cli", &progress).await;
    bar.finish_and_clear();
    let report = report?;
    say(&format!(
        "{} data rows (header on row {}): {} new, {} updated, {} unchanged, {} refused, {} warnings{}",
        report.data_rows,
        report.header_row,
        report.inserted,
        report.updated,
        report.unchanged,
        report.rejected_rows(),
        report.warnings.len(),
        if report.committed {
            ""
        } else {
            " — dry run, nothing written"
        }
    ));
    for (label, issues) in [("row", &report.rejected), ("warning, row", &report.warnings)] {
        for issue in issues.iter().take(20) {
            say(&format!(
                "  {label} {} [{}] “{}”: {}",
                issue.row, issue.column, issue.value, issue.reason
            ));
        }
        if issues.len() > 20 {
            say(&format!("  … and {} more", issues.len() - 20));
        }
    }
    if let Some(path) = args.rejected {
        let book = gongjian_store::imports::rejected_workbook(&report)?;
        std::fs::write(&path, book).with_context(|| format!("cannot write {}", path.display()))?;
        say(&format!("refused rows written to {}", path.display()));
    }
    Ok(())
}

/// Refreshes the statistics roll-ups now and every `minutes` after; a failure is logged and
/// retried at the next turn.
async fn refresh_rollups(store: Store, minutes: u64) {
    let mut tick = tokio::time::interval(Duration::from_secs(minutes * 60));
    loop {
        tick.tick().await;
        match store.refresh_rollups().await {
            Ok(at) => tracing::info!(%at, "statistics roll-ups refreshed"),
            Err(e) => tracing::warn!(error = %e, "statistics roll-ups not refreshed"),
        }
    }
}

/// Every minute, issues the points of service records that are still pending
/// (`Store::retry_pending_points`).
async fn retry_pending_points(store: Store) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match store.retry_pending_points(500).await {
            Ok(run) if run.credited.is_empty() && run.pending.is_empty() => {}
            Ok(run) => tracing::info!(
                credited = run.credited.len(),
                pending = run.pending.len(),
                "pending volunteer points retried"
            ),
            Err(e) => tracing::warn!(error = %e, "pending volunteer points not retried"),
        }
    }
}

/// How often the server deletes the uploads left uncommitted for 24 hours.
const PURGE_UPLOADS_EVERY: Duration = Duration::from_secs(3600);

/// Deletes stale uploads now and every [`PURGE_UPLOADS_EVERY`] after; a failure is logged and
/// retried at the next turn.
async fn purge_stale_uploads(store: Store) {
    let mut tick = tokio::time::interval(PURGE_UPLOADS_EVERY);
    loop {
        tick.tick().await;
        match store.purge_stale_imports().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "stale uploads deleted"),
            Err(e) => tracing::warn!(error = %e, "stale uploads not deleted"),
        }
    }
}

async fn demo_present(store: &Store, city: DemoCity) -> Result<bool> {
    let admin = gongjian_domain::access::Actor {
        user_id: 0,
        username: "system".into(),
        grants: vec![gongjian_domain::access::Grant {
            role: Role::SystemAdmin,
            reach: gongjian_domain::access::Reach::All,
        }],
    };
    let code = match city {
        DemoCity::Foshan => "440600000000",
        DemoCity::Yuquan => "150100000000",
        DemoCity::Toutunhe => "650100000000",
    };
    Ok(store.node_by_code(&admin, code).await.is_ok())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(d) = cli.data_dir {
        config.data_dir = d;
    }
    if let Some(u) = cli.database_url {
        config.database_url = Some(u);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log)),
        )
        .with_writer(std::io::stderr)
        .init();

    match cli.command {
        Command::DefaultConfig => say(config::ANNOTATED_DEFAULTS),
        Command::Bench {
            runs,
            scale,
            reuse,
            skip_import,
            points,
            checkins,
            imports,
            clients,
            seconds,
        } => {
            let options = bench::Options {
                runs: runs.max(5),
                scale: parse_scale(&scale)?,
                skip_import,
            };
            let given = config.database_url.is_some() || config.data_dir.join("gongjian.db").exists();
            let scratch = (!given).then(|| {
                let name = if reuse && !points && !checkins && !imports {
                    format!("gongjian-bench-foshan-{scale}")
                } else {
                    format!("gongjian-bench-{}", std::process::id())
                };
                std::env::temp_dir().join(name)
            });
            let store = match &scratch {
                Some(dir) => {
                    say(&format!("bench database in {}", dir.display()));
                    let store = Store::open_data_dir(dir).await?.with_clock(config.clock()?);
                    store.migrate().await?;
                    store
                }
                None => open(&config).await?,
            };
            if checkins {
                let figures = bench_checkin::run(&store, clients.clamp(1, 1024), seconds.clamp(1, 600)).await;
                store.close().await;
                if let Some(dir) = scratch {
                    std::fs::remove_dir_all(dir).ok();
                }
                bench_checkin::print(store.engine().name(), &figures?);
                return Ok(());
            }
            if imports {
                let figures = bench_imports::run(&store).await;
                store.close().await;
                if let Some(dir) = scratch {
                    std::fs::remove_dir_all(dir).ok();
                }
                bench_imports::print(store.engine().name(), &figures?);
                return Ok(());
            }
            if points {
                let figures = bench_points::run(&store, clients.clamp(1, 1024), seconds.clamp(1, 600)).await;
                store.close().await;
                if let Some(dir) = scratch {
                    std::fs::remove_dir_all(dir).ok();
                }
                bench_points::print(store.engine().name(), &figures?);
                return Ok(());
            }
            let samples = bench::run(&store, &options).await;
            store.close().await;
            if let Some(dir) = scratch.filter(|_| !reuse) {
                std::fs::remove_dir_all(dir).ok();
            }
            bench::print(store.engine().name(), &samples?);
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    user,
                    name,
                    scope,
                    days,
                },
        } => {
            let store = open(&config).await?;
            let input = gongjian_store::tokens::NewToken {
                name,
                scope,
                expires_in_days: days,
            };
            let token = store.create_token_for(&user, &input).await?;
            say(&token);
        }
        Command::Import { command } => {
            let (kind, args) = command.split();
            let store = open(&config).await?;
            run_import(&store, kind, args).await?;
        }
        Command::Key {
            command: KeyCommand::Rotate,
        } => {
            let store = connect(&config).await?;
            let found = gongjian_store::crypto::Keyring::find(&config.data_dir)?;
            let last = std::sync::Mutex::new(std::time::Instant::now());
            let progress = |column: &str, done: u64, total: u64| {
                if let Ok(mut last) = last.lock()
                    && (done == 0 || done == total || last.elapsed() >= Duration::from_secs(1))
                {
                    eprintln!("{column} {done}/{total}");
                    *last = std::time::Instant::now();
                }
            };
            let options = gongjian_store::datakey::RotateOptions::default();
            let (store, report) = store
                .rotate_data_key(found, &config.data_dir, options, &progress)
                .await?;
            store.close().await;
            say(&format!(
                "data key {} replaced by {}; re-encrypted {} values",
                report.from, report.to, report.reencrypted
            ));
        }
        Command::Audit { command } => {
            let store = open(&config).await?;
            match command {
                AuditCommand::Verify => match store.verify_audit().await? {
                    gongjian_store::audit::AuditVerdict::Intact {
                        entries,
                        first_seq,
                        last_seq,
                        unkeyed_to,
                        witnessed_to,
                    } => {
                        say(&format!("audit log intact: {entries} entries ({first_seq}–{last_seq})"));
                        if let Some(u) = unkeyed_to {
                            say(&format!(
                                "entries {first_seq}–{u} are unkeyed (made before entries were sealed: a plain \
                                 SHA-256, which anyone who can write to the database can recompute)"
                            ));
                        }
                        let witness = witness_path(&config);
                        match witnessed_to {
                            Some(w) => say(&format!("witness {}: head {w} recorded", witness.display())),
                            None => say(&format!(
                                "no witness in {} yet: entries cut off the end cannot be found",
                                witness.display()
                            )),
                        }
                        // The verified head is a head worth recording.
                        store.witness_audit_head().await?;
                    }
                    gongjian_store::audit::AuditVerdict::Broken { seq, kind, problem } => {
                        say(&format!("audit log BROKEN at entry {seq} ({}): {problem}", kind.key()));
                        std::process::exit(1);
                    }
                },
                AuditCommand::Prune { days } => {
                    let by = gongjian_store::audit::AuditEvent {
                        actor_name: "cli".into(),
                        client_addr: "cli".into(),
                        ..Default::default()
                    };
                    let removed = store.prune_audit(&by, days).await?;
                    say(&format!("removed {removed} audit entries older than {days} days"));
                }
            }
        }
        Command::Migrate => {
            open(&config).await?;
            say("数据库已是最新结构。");
        }
        Command::Demo { city, scale } => {
            let (city, scale) = (parse_city(&city)?, parse_scale(&scale)?);
            let store = open(&config).await?;
            load_demo(&store, city, scale).await?;
        }
        Command::User { command } => {
            let store = open(&config).await?;
            match command {
                UserCommand::Add {
                    username,
                    display_name,
                    role,
                } => {
                    let Some(role) = Role::from_key(&role) else {
                        bail!("unknown role '{role}'")
                    };
                    let password = gongjian_store::accounts::one_time_password();
                    let name = display_name.unwrap_or_else(|| username.clone());
                    store.add_user(&username, &name, &password, true, role, None).await?;
                    store.audit(&cli_event("user.create", &username, role.key())).await?;
                    say(&format!(
                        "已创建用户 {username}（{}），一次性密码：{password}",
                        role.label_zh()
                    ));
                    say("首次登录后须修改密码。");
                }
                UserCommand::ResetPassword { username } => {
                    let password = store.reset_password(&username).await?;
                    store.audit(&cli_event("password.reset", &username, "")).await?;
                    say(&format!("用户 {username} 的新一次性密码：{password}（登录后须修改）"));
                }
            }
        }
        Command::Serve { listen, demo, scale } => {
            let listen = listen.unwrap_or(config.listen.clone());
            let store = open(&config).await?;
            if let Some(city) = demo {
                let (city, scale) = (parse_city(&city)?, parse_scale(&scale)?);
                if !demo_present(&store, city).await? {
                    load_demo(&store, city, scale).await?;
                }
            }
            let first_password = store.ensure_admin().await?;
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            say(&format!("共建已启动：http://{addr}"));
            match first_password {
                Some(pw) => say(&format!("管理员用户名：admin  一次性密码：{pw}（首次登录后须修改）")),
                None => say("使用已有账户登录；忘记管理员密码可运行 gongjian user reset-password admin"),
            }
            let web_config = gongjian_web::WebConfig {
                secure_cookies: config.secure_cookies,
                session: gongjian_store::accounts::SessionPolicy {
                    idle: chrono_minutes(config.session_idle_minutes),
                    absolute: chrono_minutes(config.session_absolute_minutes),
                },
            };
            let state = gongjian_web::AppState::new(store.clone(), web_config);
            let rollups = (config.stats_rollup_minutes > 0)
                .then(|| tokio::spawn(refresh_rollups(store.clone(), config.stats_rollup_minutes)));
            let points_retry = tokio::spawn(retry_pending_points(store.clone()));
            let purge = tokio::spawn(purge_stale_uploads(store.clone()));
            let witness = tokio::spawn(witness_audit(store.clone(), config.audit_witness_seconds));
            gongjian_web::serve(listener, state, shutdown_signal()).await?;
            if let Some(task) = rollups {
                task.abort();
            }
            points_retry.abort();
            purge.abort();
            witness.abort();
            if let Err(e) = store.witness_audit_head().await {
                tracing::warn!(error = %e, "the audit chain's head was not recorded in the witness at shutdown");
            }
            tokio::time::timeout(Duration::from_secs(5), store.close()).await.ok();
        }
    }
    Ok(())
}

/// An audit entry for an operator's command-line action.
fn cli_event(action: &str, username: &str, detail: &str) -> gongjian_store::audit::AuditEvent {
    gongjian_store::audit::AuditEvent {
        actor_name: "cli".into(),
        action: action.into(),
        object: format!("user:{username}"),
        result: "success".into(),
        client_addr: "cli".into(),
        detail: detail.into(),
        ..Default::default()
    }
}

fn chrono_minutes(m: i64) -> gongjian_store::accounts::Duration {
    gongjian_store::accounts::Duration::minutes(m)
}
