//! The pages of points and the shop: "my points" on a phone (balances, the shop, redemptions),
//! the shop's back office at a node (items, stock, redemptions to hand over or cancel, the
//! monthly statement as xlsx), and the ledger of a scheme with its export.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gongjian_domain::points::RedemptionStatus;
use gongjian_store::points::{ItemForm, LedgerLine, MyPoints, RedeemInput, Redemption, Scheme, ShopItem};
use gongjian_store::tree::Node;
use gongjian_store::{Page, StoreError};
use serde::Deserialize;

use super::{CursorQuery, MonthQuery};
use crate::auth::CurrentUser;
use crate::error::PageError;
use crate::ui::Chrome;
use crate::{AppState, Route, export, get, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/m/points", my_points),
        post("/m/points/redeem", redeem),
        post("/m/points/redemptions/{id}/cancel", cancel_mine),
        get("/points", schemes),
        get("/points/schemes/{id}/ledger", ledger),
        get("/points/schemes/{id}/ledger/export", ledger_export),
        get("/tree/{id}/shop", shop),
        post("/tree/{id}/shop/items", create_item),
        get("/tree/{id}/shop/statement.xlsx", statement_export),
        post("/shop/items/{id}/stock", restock),
        post("/shop/redemptions/{id}/pick-up", pick_up),
        post("/shop/redemptions/{id}/cancel", cancel),
    ]
}

/// A fresh idempotency key for a form, so a double click redeems once.
fn form_key() -> String {
    format!("form-{}", uuid::Uuid::new_v4().simple())
}

#[derive(Template, WebTemplate)]
#[template(path = "points/mine.html")]
struct MinePage {
    chrome: Chrome,
    mine: MyPoints,
    items: Vec<ShopItem>,
    key: String,
}

async fn my_points(State(state): State<AppState>, user: CurrentUser) -> Result<MinePage, PageError> {
    let mine = state.store.my_points(&user.actor).await?;
    let items = state.store.my_shop(&user.actor).await?;
    Ok(MinePage {
        chrome: user.chrome("points"),
        mine,
        items,
        key: form_key(),
    })
}

#[derive(Deserialize)]
struct RedeemValues {
    item_id: i64,
    #[serde(default)]
    key: String,
}

async fn redeem(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(f): Form<RedeemValues>,
) -> Result<Redirect, PageError> {
    let input = RedeemInput {
        item_id: f.item_id,
        quantity: 1,
        person_id: None,
    };
    state.store.redeem(&user.actor, &input, &f.key, &user.client).await?;
    Ok(Redirect::to("/m/points"))
}

async fn cancel_mine(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Redirect, PageError> {
    state.store.cancel_redemption(&user.actor, id, &user.client).await?;
    Ok(Redirect::to("/m/points"))
}

#[derive(Template, WebTemplate)]
#[template(path = "points/schemes.html")]
struct SchemesPage {
    chrome: Chrome,
    schemes: Vec<Scheme>,
}

async fn schemes(State(state): State<AppState>, user: CurrentUser) -> Result<SchemesPage, PageError> {
    let schemes = state.store.schemes(&user.actor).await?;
    Ok(SchemesPage {
        chrome: user.chrome("points"),
        schemes,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "points/ledger.html")]
struct LedgerPage {
    chrome: Chrome,
    scheme: Scheme,
    page: Page<LedgerLine>,
    next_href: Option<String>,
}

async fn ledger(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<CursorQuery>,
) -> Result<LedgerPage, PageError> {
    let scheme = state.store.scheme(&user.actor, id).await?;
    let page = state.store.ledger(&user.actor, id, q.cursor, 100).await?;
    let next_href = export::next_href(&format!("/points/schemes/{id}/ledger"), &[], page.next_cursor.as_ref());
    Ok(LedgerPage {
        chrome: user.chrome("points"),
        scheme,
        page,
        next_href,
    })
}

async fn ledger_export(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let scheme = state.store.scheme(&user.actor, id).await?;
    let rows = export::all_pages(|c| state.store.ledger(&user.actor, id, c, 500)).await?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|l| {
            vec![
                l.transaction_id.to_string(),
                l.created_at.clone(),
                l.kind_label().to_string(),
                l.holder_label(),
                l.node_name.clone(),
                l.amount.to_string(),
                l.source.clone(),
                l.item.clone(),
                l.memo.clone(),
            ]
        })
        .collect();
    let headers = [
        "交易号",
        "时间（UTC）",
        "类型",
        "账户",
        "所在",
        "积分",
        "来源",
        "事项",
        "说明",
    ];
    let bytes = export::workbook("积分流水", &headers, &[0, 5], &cells)?;
    Ok(export::download(&format!("points-ledger-{}.xlsx", scheme.id), bytes))
}

#[derive(Template, WebTemplate)]
#[template(path = "points/shop.html")]
struct ShopPage {
    chrome: Chrome,
    node: Node,
    schemes: Vec<Scheme>,
    items: Vec<ShopItem>,
    reserved: Page<Redemption>,
    month: String,
}

async fn shop(State(state): State<AppState>, user: CurrentUser, Path(id): Path<i64>) -> Result<ShopPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let items = state.store.items_under(&user.actor, id).await?;
    let reserved = state
        .store
        .redemptions_under(&user.actor, id, Some(RedemptionStatus::Reserved), None, 200)
        .await?;
    let schemes = state
        .store
        .schemes(&user.actor)
        .await?
        .into_iter()
        .filter(|s| s.rules.redeemable && node.path.starts_with(&s.node_path))
        .collect();
    Ok(ShopPage {
        chrome: user.chrome("tree"),
        node,
        schemes,
        items,
        reserved,
        month: MonthQuery::default().month(state.store.today()),
    })
}

#[derive(Deserialize)]
struct ItemValues {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scheme_id: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    stock: String,
}

async fn create_item(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<ItemValues>,
) -> Result<Redirect, PageError> {
    let form = ItemForm {
        name: f.name,
        scheme_id: f.scheme_id.trim().parse().ok(),
        price: f.price.trim().parse().ok(),
        stock: f.stock.trim().parse().ok(),
    };
    state.store.create_item(&user.actor, id, &form, &user.client).await?;
    Ok(Redirect::to(&format!("/tree/{id}/shop")))
}

#[derive(Deserialize)]
struct StockValues {
    #[serde(default)]
    change: String,
}

async fn restock(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<StockValues>,
) -> Result<Redirect, PageError> {
    let change = f
        .change
        .trim()
        .parse()
        .map_err(|_| StoreError::field("change", "库存变动应为整数"))?;
    let item = state.store.restock(&user.actor, id, change, &user.client).await?;
    Ok(Redirect::to(&format!("/tree/{}/shop", item.node_id)))
}

async fn pick_up(State(state): State<AppState>, user: CurrentUser, Path(id): Path<i64>) -> Result<Redirect, PageError> {
    let r = state.store.pick_up(&user.actor, id, &user.client).await?;
    Ok(Redirect::to(&format!("/tree/{}/shop", r.node_id)))
}

async fn cancel(State(state): State<AppState>, user: CurrentUser, Path(id): Path<i64>) -> Result<Redirect, PageError> {
    let r = state.store.cancel_redemption(&user.actor, id, &user.client).await?;
    Ok(Redirect::to(&format!("/tree/{}/shop", r.node_id)))
}

async fn statement_export(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let st = state
        .store
        .monthly_statement(&user.actor, id, &q.month(state.store.today()))
        .await?;
    let mut cells: Vec<Vec<String>> = st
        .lines
        .iter()
        .map(|l| {
            vec![
                l.item_name.clone(),
                l.node_name.clone(),
                l.price.to_string(),
                l.redemptions.to_string(),
                l.reserved.to_string(),
                l.picked_up.to_string(),
                l.cancelled.to_string(),
                l.points.to_string(),
                l.stock.to_string(),
            ]
        })
        .collect();
    cells.push(vec![
        "合计".into(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        st.total_points.to_string(),
        String::new(),
    ]);
    let headers = [
        "商品",
        "所在",
        "单价（积分）",
        "兑换单数",
        "待领取",
        "已领取",
        "已取消",
        "兑出积分",
        "现有库存",
    ];
    let bytes = export::workbook(&format!("{} 月结", st.month), &headers, &[2, 3, 4, 5, 6, 7, 8], &cells)?;
    Ok(export::download(&format!("shop-statement-{}-{}.xlsx", st.month, id), bytes).into_response())
}
