//! Dashboards: a node's overview (counts, every available metric, the breakdown by child
//! nodes with drill-down, ratio gauges against their targets, the nodes below target, trends
//! by month), each table exportable to xlsx, and the self-refreshing big screen (大屏).
//!
//! Every chart is drawn by `assets/dashboard.js` from the table beside it, so what the chart,
//! the table and the exported workbook show is one and the same set of numbers.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::tree::Level;
use gongjian_store::stats::{Basis, METRICS, MetricInfo, MetricValue, Period, def, metric_list};
use gongjian_store::tree::{LevelCounts, Node};
use gongjian_store::{Store, StoreError};
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::PageError;
use crate::ui::Chrome;
use crate::{AppState, Route, get};

pub fn routes() -> Vec<Route> {
    vec![
        get("/dashboard", home),
        get("/tree/{id}/dashboard", overview),
        get("/tree/{id}/dashboard/trends", trends),
        get("/tree/{id}/dashboard/export", export),
        get("/tree/{id}/screen", screen),
        get("/tree/{id}/screen/panel", screen_panel),
    ]
}

/// Metrics shown per child node in the breakdown table, after the grid counts.
const CHILD_METRICS: [&str; 4] = [
    "people.residents",
    "org.branch.count",
    "people.reserve_cadres",
    "org.community.one_shoulder",
];

/// Metrics drawn as monthly trends.
const TREND_METRICS: [&str; 6] = [
    "people.secretaries",
    "people.reserve_cadres",
    "people.instructors",
    "people.grid_workers",
    "people.community_workers",
    "people.workers_recruited",
];

/// One cell: the text shown and, for numbers, the value written to the workbook.
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub value: Option<f64>,
    /// A share, written as a percentage.
    pub percent: bool,
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        Cell {
            text: s.into(),
            value: None,
            percent: false,
        }
    }

    fn count(n: i64) -> Cell {
        Cell {
            text: n.to_string(),
            value: Some(n as f64),
            percent: false,
        }
    }

    fn number(v: Option<f64>, percent: bool) -> Cell {
        let text = match v {
            None => "—".to_string(),
            Some(x) if percent => format!("{:.1}%", x * 100.0),
            Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
            Some(x) => format!("{x:.2}"),
        };
        Cell {
            text,
            value: v,
            percent,
        }
    }

    /// The value for charts (`data-value`), percentages in percent.
    pub fn chart_value(&self) -> String {
        match self.value {
            Some(v) if self.percent => format!("{:.1}", v * 100.0),
            Some(v) => format!("{v}"),
            None => String::new(),
        }
    }
}

/// A table as shown and as exported.
#[derive(Debug, Clone)]
pub struct Table {
    /// The HTML id and the `table` parameter of its export.
    pub id: String,
    pub title: String,
    pub headers: Vec<String>,
    /// Columns that charts may draw (numeric), by index.
    pub numeric: Vec<usize>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone)]
pub struct Row {
    /// Where a click on the row's name (or its bar) leads: the child's own dashboard.
    pub href: Option<String>,
    pub cells: Vec<Cell>,
}

/// A ratio drawn as a gauge.
#[derive(Debug, Clone)]
pub struct Gauge {
    pub id: String,
    pub title: String,
    pub value: Option<f64>,
    pub target: Option<f64>,
    pub numerator: i64,
    pub denominator: i64,
}

impl Gauge {
    pub fn percent(&self) -> String {
        self.value.map(|v| format!("{:.1}", v * 100.0)).unwrap_or_default()
    }

    pub fn target_percent(&self) -> String {
        self.target.map(|v| format!("{:.1}", v * 100.0)).unwrap_or_default()
    }

    pub fn below_target(&self) -> bool {
        matches!((self.value, self.target), (Some(v), Some(t)) if v < t)
    }
}

/// A headline figure.
#[derive(Debug, Clone)]
pub struct Kpi {
    pub key: &'static str,
    pub label: String,
    pub value: String,
}

/// An ancestor in the breadcrumbs: linked when the viewer may read it.
#[derive(Debug, Clone)]
pub struct Crumb {
    pub id: i64,
    pub name: String,
    pub readable: bool,
}

/// Everything the overview and the big screen show.
pub struct Overview {
    pub node: Node,
    pub crumbs: Vec<Crumb>,
    pub kpis: Vec<Kpi>,
    pub gauges: Vec<Gauge>,
    pub children: Table,
    pub metrics: Table,
    pub below: Vec<Table>,
    pub unavailable: Vec<MetricInfo>,
    pub rolled_up_at: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
pub struct PeriodQuery {
    #[serde(default)]
    pub(crate) from: String,
    #[serde(default)]
    pub(crate) to: String,
    #[serde(default)]
    table: String,
}

impl PeriodQuery {
    pub(crate) fn period(&self) -> (Period, Validation) {
        match Period::parse(Some(&self.from), Some(&self.to)) {
            Ok(p) => (p, Validation::new()),
            Err(v) => (Period::default(), v),
        }
    }

    /// The period as a query string to carry on links (`from=…&to=…`), empty when open.
    fn carried(&self, period: &Period) -> String {
        let mut pairs = Vec::new();
        if let Some(f) = period.from {
            pairs.push(("from", f.format("%Y-%m-%d").to_string()));
        }
        if let Some(t) = period.to {
            pairs.push(("to", t.format("%Y-%m-%d").to_string()));
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

fn with_query(path: String, query: &str) -> String {
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

/// A metric for a node, or `None` when the viewer may not see it (residents, for an auditor).
async fn visible(
    store: &Store,
    actor: &Actor,
    id: &str,
    node: &Node,
    period: &Period,
    breakdown: bool,
) -> Result<Option<MetricValue>, PageError> {
    let Some(d) = def(id) else {
        return Ok(None);
    };
    match store.metric_at(actor, d, node, period, breakdown).await {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound | StoreError::Forbidden) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The levels below a node that the breakdown counts, with their column titles.
fn levels_below(node: &Node) -> Vec<(Level, &'static str)> {
    [
        (Level::District, "区（县）"),
        (Level::Street, "街道（镇）"),
        (Level::Community, "社区"),
        (Level::GridL2, "二级网格"),
        (Level::GridL3, "三级网格"),
    ]
    .into_iter()
    .filter(|(l, _)| l.as_i64() > node.level.as_i64())
    .collect()
}

pub async fn build(
    store: &Store,
    actor: &Actor,
    node: Node,
    period: &Period,
    carry: &str,
) -> Result<Overview, PageError> {
    let scope = actor.scope(Right::ReadTree);
    let crumbs = store
        .ancestors(actor, &node)
        .await?
        .into_iter()
        .map(|a| Crumb {
            readable: scope.contains_path(&a.path),
            id: a.id,
            name: a.name,
        })
        .collect();
    let counts: LevelCounts = store.subtree_counts(actor, node.id).await?;
    let kids = store.children(actor, node.id, false, None, 500).await?.items;

    // The breakdown: grid counts per child, then a few metrics per child.
    let levels = levels_below(&node);
    let mut headers: Vec<String> = vec!["名称".into(), "代码".into()];
    headers.extend(levels.iter().map(|(_, t)| t.to_string()));
    // Every available metric once; those of the breakdown table with their breakdown.
    let mut values = Vec::new();
    for d in METRICS.iter().filter(|d| d.basis.is_some()) {
        let breakdown = CHILD_METRICS.contains(&d.id);
        if let Some(v) = visible(store, actor, d.id, &node, period, breakdown).await? {
            values.push(v);
        }
    }
    let per_child: Vec<&MetricValue> = CHILD_METRICS
        .iter()
        .filter_map(|id| values.iter().find(|v| v.id == *id))
        .collect();
    headers.extend(per_child.iter().map(|v| v.title.clone()));
    let rows = kids
        .iter()
        .map(|k| {
            let mut cells = vec![Cell::text(&k.node.name), Cell::text(&k.node.code)];
            cells.extend(levels.iter().map(|(l, _)| Cell::count(k.counts.get(*l))));
            for v in &per_child {
                let c = v.breakdown.iter().find(|c| c.node_id == k.node.id);
                cells.push(Cell::number(c.and_then(|c| c.value), v.is_ratio()));
            }
            Row {
                href: Some(with_query(format!("/tree/{}/dashboard", k.node.id), carry)),
                cells,
            }
        })
        .collect();
    let children = Table {
        id: "children".into(),
        title: "下级单位".into(),
        numeric: (2..headers.len()).collect(),
        headers,
        rows,
    };

    let rolled_up_at = values.iter().find_map(|v| v.rolled_up_at.clone());
    let value_of = |id: &str| values.iter().find(|v| v.id == id).and_then(|v| v.value);
    let mut kpis: Vec<Kpi> = levels
        .iter()
        .map(|(l, t)| Kpi {
            key: l.key(),
            label: t.to_string(),
            value: counts.get(*l).to_string(),
        })
        .collect();
    let orgs = value_of("org.branch.count").unwrap_or(0.0) + value_of("org.committee.count").unwrap_or(0.0);
    kpis.push(Kpi {
        key: "orgs",
        label: "党组织（党委、党支部）".into(),
        value: format!("{orgs:.0}"),
    });
    if let Some(r) = value_of("people.residents") {
        kpis.push(Kpi {
            key: "residents",
            label: "登记居民".into(),
            value: format!("{r:.0}"),
        });
    }
    kpis.push(Kpi {
        key: "volunteers",
        label: "志愿者".into(),
        value: "尚未上线".into(),
    });

    let gauges = values
        .iter()
        .filter(|v| v.is_ratio())
        .map(|v| Gauge {
            id: v.id.replace('.', "-"),
            title: v.title.clone(),
            value: v.value,
            target: v.target,
            numerator: v.numerator.unwrap_or(0),
            denominator: v.denominator.unwrap_or(0),
        })
        .collect();
    let below = values
        .iter()
        .filter(|v| !v.below.is_empty())
        .map(|v| Table {
            id: format!("below-{}", v.id.replace('.', "-")),
            title: match v.target {
                Some(t) if !v.is_ratio() => format!("{}：低于目标 {t} 的节点", v.title),
                _ => format!("{}：未达标的节点", v.title),
            },
            headers: vec!["名称".into(), "代码".into(), "数值".into()],
            numeric: vec![2],
            rows: v
                .below
                .iter()
                .map(|b| Row {
                    href: Some(with_query(format!("/tree/{}/dashboard", b.node_id), carry)),
                    cells: vec![Cell::text(&b.name), Cell::text(&b.code), Cell::count(b.value)],
                })
                .collect(),
        })
        .collect();
    let metrics = Table {
        id: "metrics".into(),
        title: "全部指标".into(),
        headers: ["指标", "编号", "数值", "分子", "分母", "目标", "口径", "说明"]
            .map(String::from)
            .to_vec(),
        numeric: vec![2],
        rows: values
            .iter()
            .map(|v| {
                let basis = match v.basis {
                    Some(Basis::Flow) => format!(
                        "{} {}–{}",
                        Basis::Flow.label_zh(),
                        v.from.as_deref().unwrap_or("…"),
                        v.to
                    ),
                    Some(b) if b == Basis::Stock => format!("{} {}", b.label_zh(), v.to),
                    Some(b) => b.label_zh().to_string(),
                    None => String::new(),
                };
                Row {
                    href: None,
                    cells: vec![
                        Cell::text(&v.title),
                        Cell::text(&v.id),
                        Cell::number(v.value, v.is_ratio()),
                        v.numerator.map(Cell::count).unwrap_or_else(|| Cell::text("")),
                        v.denominator.map(Cell::count).unwrap_or_else(|| Cell::text("")),
                        v.target
                            .map(|t| Cell::number(Some(t), v.is_ratio()))
                            .unwrap_or_else(|| Cell::text("")),
                        Cell::text(basis),
                        Cell::text(&v.note),
                    ],
                }
            })
            .collect(),
    };
    Ok(Overview {
        node,
        crumbs,
        kpis,
        gauges,
        children,
        metrics,
        below,
        unavailable: metric_list().into_iter().filter(|m| !m.available).collect(),
        rolled_up_at,
    })
}

async fn trend_table(store: &Store, actor: &Actor, node: &Node, period: &Period) -> Result<Table, PageError> {
    let mut headers = vec!["月份".to_string()];
    let mut columns = Vec::new();
    for id in TREND_METRICS {
        if let Some(d) = def(id) {
            columns.push(store.metric_trend(actor, d, node, period).await?);
            headers.push(d.title.to_string());
        }
    }
    let months: Vec<String> = columns
        .first()
        .map(|c| c.iter().map(|p| p.month.clone()).collect())
        .unwrap_or_default();
    let rows = months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut cells = vec![Cell::text(m)];
            cells.extend(
                columns
                    .iter()
                    .map(|c| Cell::number(c.get(i).and_then(|p| p.value), false)),
            );
            Row { href: None, cells }
        })
        .collect();
    Ok(Table {
        id: "trends".into(),
        title: "按月趋势".into(),
        numeric: (1..headers.len()).collect(),
        headers,
        rows,
    })
}

/// The dashboard of the top of the viewer's scope.
async fn home(State(state): State<AppState>, user: CurrentUser) -> Result<Response, PageError> {
    let roots = state.store.roots(&user.actor).await?;
    Ok(match roots.first() {
        Some(root) => Redirect::to(&format!("/tree/{}/dashboard", root.id)).into_response(),
        None => Redirect::to("/tree").into_response(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboards/overview.html")]
struct OverviewPage {
    chrome: Chrome,
    o: Overview,
    from: String,
    to: String,
    carry: String,
    errors: Validation,
}

async fn overview(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let (period, errors) = q.period();
    let carry = q.carried(&period);
    let o = build(&state.store, &user.actor, node, &period, &carry).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = OverviewPage {
        chrome: user.chrome("dashboard"),
        o,
        from: q.from.trim().to_string(),
        to: q.to.trim().to_string(),
        carry,
        errors,
    };
    Ok((status, page).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboards/trends.html")]
struct TrendsFragment {
    node_id: i64,
    carry: String,
    table: Table,
}

/// The trends section, loaded after the page so the overview itself stays fast.
async fn trends(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<PeriodQuery>,
) -> Result<TrendsFragment, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let (period, _) = q.period();
    let table = trend_table(&state.store, &user.actor, &node, &period).await?;
    Ok(TrendsFragment {
        node_id: node.id,
        carry: q.carried(&period),
        table,
    })
}

/// One table of the overview as an xlsx workbook (`table` = the table's id; the breakdown by
/// child nodes when absent).
async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let (period, errors) = q.period();
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors).into());
    }
    let code = node.code.clone();
    let wanted = if q.table.is_empty() {
        "children"
    } else {
        q.table.as_str()
    };
    let table = if wanted == "trends" {
        trend_table(&state.store, &user.actor, &node, &period).await?
    } else {
        let o = build(&state.store, &user.actor, node, &period, "").await?;
        let mut all = vec![o.children, o.metrics];
        all.extend(o.below);
        all.into_iter().find(|t| t.id == wanted).ok_or_else(|| {
            PageError::BadRequest(format!(
                "没有名为“{}”的表格",
                wanted.chars().take(40).collect::<String>()
            ))
        })?
    };
    let bytes = workbook(&table).map_err(|e| PageError::Store(StoreError::Config(format!("xlsx: {e}"))))?;
    let filename = format!("{}-{code}.xlsx", table.id);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A table as a workbook: one sheet named after it, the header row in bold, numbers as
/// numbers (shares as percentages).
pub fn workbook(table: &Table) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(table.title.chars().take(31).collect::<String>())?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let percent = rust_xlsxwriter::Format::new().set_num_format("0.0%");
    for (c, h) in table.headers.iter().enumerate() {
        sheet.write_with_format(0, c as u16, h.as_str(), &bold)?;
    }
    for (i, row) in table.rows.iter().enumerate() {
        let r = (i + 1) as u32;
        for (c, cell) in row.cells.iter().enumerate() {
            let c = c as u16;
            match cell.value {
                Some(v) if cell.percent => sheet.write_number_with_format(r, c, v, &percent).map(|_| ())?,
                Some(v) => sheet.write_number(r, c, v).map(|_| ())?,
                None => sheet.write(r, c, cell.text.as_str()).map(|_| ())?,
            }
        }
    }
    sheet.autofit();
    book.save_to_buffer()
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboards/screen.html")]
struct ScreenPage {
    o: Overview,
    carry: String,
    updated: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboards/screen_panel.html")]
struct ScreenPanel {
    o: Overview,
    updated: String,
}

fn clock(store: &Store) -> String {
    (store.now() + chrono::TimeDelta::hours(8))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The big screen: the overview's figures in large type on a dark page of its own, which
/// fetches its panel again every minute.
async fn screen(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<PeriodQuery>,
) -> Result<ScreenPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let (period, _) = q.period();
    let carry = q.carried(&period);
    let o = build(&state.store, &user.actor, node, &period, "").await?;
    Ok(ScreenPage {
        o,
        carry,
        updated: clock(&state.store),
    })
}

async fn screen_panel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<PeriodQuery>,
) -> Result<ScreenPanel, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let (period, _) = q.period();
    let o = build(&state.store, &user.actor, node, &period, "").await?;
    Ok(ScreenPanel {
        o,
        updated: clock(&state.store),
    })
}
