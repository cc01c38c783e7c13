//! Points and the points shop (积分超市): the JSON API under `/api/v1/points` and
//! `/api/v1/shop`, and (in `pages`) a resident's "my points" phone page, the shop's back office
//! and the ledger pages with their exports. Every write that moves points carries an
//! idempotency key (`Idempotency-Key` header, or `idempotency_key` in the body); a repeated key
//! answers with the first result and writes nothing, and a key used before for another request
//! (another content, kind or caller) answers 409 Conflict and writes nothing.

mod pages;

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use gongjian_domain::points::{CreditSource, Points, RedemptionStatus};
use gongjian_store::points::{
    ItemForm, LedgerLine, MyPoints, PointTx, RedeemInput, Redemption, Scheme, SchemeForm, ShopItem, Statement,
    TransferInput,
};
use gongjian_store::{Page, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{ApiUser, Client};
use crate::error::ApiResult;
use crate::{AppState, Route, get, post};

pub fn routes() -> Vec<Route> {
    let mut r = vec![
        get("/api/v1/points/schemes", api_schemes),
        post("/api/v1/points/schemes", api_create_scheme),
        get("/api/v1/points/schemes/{id}/ledger", api_ledger),
        post("/api/v1/points/credits", api_credit),
        post("/api/v1/points/deductions", api_deduct),
        post("/api/v1/points/transfers", api_transfer),
        post("/api/v1/points/links", api_link),
        get("/api/v1/points/me", api_me),
        get("/api/v1/shop/items", api_my_shop),
        get("/api/v1/shop/items/{id}", api_item),
        post("/api/v1/shop/items/{id}/stock", api_restock),
        get("/api/v1/nodes/{id}/shop/items", api_items_under),
        post("/api/v1/nodes/{id}/shop/items", api_create_item),
        get("/api/v1/nodes/{id}/shop/redemptions", api_redemptions_under),
        get("/api/v1/nodes/{id}/shop/statement", api_statement),
        post("/api/v1/shop/redemptions", api_redeem),
        get("/api/v1/shop/redemptions/{id}", api_redemption),
        post("/api/v1/shop/redemptions/{id}/pick-up", api_pick_up),
        post("/api/v1/shop/redemptions/{id}/cancel", api_cancel),
    ];
    r.extend(pages::routes());
    r
}

/// The `Idempotency-Key` header, when sent.
pub struct KeyHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for KeyHeader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(KeyHeader(
            parts
                .headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string()),
        ))
    }
}

/// The key from the header, else from the body; one of them is required.
fn key_of(header: KeyHeader, body: &Option<String>) -> Result<String, StoreError> {
    header
        .0
        .or_else(|| body.clone())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| StoreError::field("idempotency_key", "缺少幂等键（Idempotency-Key）"))
}

#[utoipa::path(get, path = "/api/v1/points/schemes", tag = "points", responses((status = 200, body = [Scheme])))]
pub async fn api_schemes(State(state): State<AppState>, ApiUser(actor): ApiUser) -> ApiResult<Json<Vec<Scheme>>> {
    Ok(Json(state.store.schemes(&actor).await?))
}

#[utoipa::path(post, path = "/api/v1/points/schemes", tag = "points", request_body = SchemeForm,
    responses((status = 201, body = Scheme), (status = 422, body = crate::error::Problem)))]
pub async fn api_create_scheme(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(form): Json<SchemeForm>,
) -> ApiResult<(StatusCode, Json<Scheme>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_scheme(&actor, &form, &client).await?),
    ))
}

/// A page of ledger lines (cursor pagination).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LedgerPage {
    items: Vec<LedgerLine>,
    next_cursor: Option<String>,
}

/// A page of redemptions (cursor pagination).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RedemptionPage {
    items: Vec<Redemption>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, Default, IntoParams)]
pub struct CursorQuery {
    cursor: Option<i64>,
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/points/schemes/{id}/ledger", tag = "points", params(("id" = i64, Path), CursorQuery),
    responses((status = 200, body = LedgerPage), (status = 404, body = crate::error::Problem)))]
pub async fn api_ledger(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<CursorQuery>,
) -> ApiResult<Json<Page<LedgerLine>>> {
    Ok(Json(
        state.store.ledger(&actor, id, q.cursor, q.limit.unwrap_or(100)).await?,
    ))
}

/// Points issued to a person from a source (confirmed hours, a completed order, an award).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CreditInput {
    pub scheme_id: i64,
    pub person_id: i64,
    pub amount: i64,
    /// `{"kind": "hours", "record_id": 1}`, `{"kind": "order", "order_id": 1}` or
    /// `{"kind": "award", "item": "先锋作用"}`.
    #[schema(value_type = Object)]
    pub source: CreditSource,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

fn points(n: i64) -> Result<Points, StoreError> {
    Points::new(n).map_err(|m| StoreError::field("amount", m))
}

#[utoipa::path(post, path = "/api/v1/points/credits", tag = "points", request_body = CreditInput,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = PointTx), (status = 409, body = crate::error::Problem,
        description = "The Idempotency-Key was used before for another request; nothing was written"),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_credit(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    header: KeyHeader,
    Json(input): Json<CreditInput>,
) -> ApiResult<(StatusCode, Json<PointTx>)> {
    let key = key_of(header, &input.idempotency_key)?;
    let amount = points(input.amount)?;
    let tx = state
        .store
        .credit_points(
            &actor,
            &input.source,
            input.person_id,
            input.scheme_id,
            amount,
            &key,
            &client,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(tx)))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct DeductInput {
    pub scheme_id: i64,
    pub person_id: i64,
    pub amount: i64,
    /// What the deduction is for.
    pub item: String,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/points/deductions", tag = "points", request_body = DeductInput,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = PointTx), (status = 409, body = crate::error::Problem,
        description = "The Idempotency-Key was used before for another request; nothing was written"),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_deduct(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    header: KeyHeader,
    Json(input): Json<DeductInput>,
) -> ApiResult<(StatusCode, Json<PointTx>)> {
    let key = key_of(header, &input.idempotency_key)?;
    let amount = points(input.amount)?;
    let tx = state
        .store
        .deduct_points(
            &actor,
            input.person_id,
            input.scheme_id,
            amount,
            &input.item,
            &key,
            &client,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(tx)))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct TransferBody {
    #[serde(flatten)]
    pub transfer: TransferInput,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/points/transfers", tag = "points", request_body = TransferInput,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = PointTx), (status = 409, body = crate::error::Problem,
        description = "The Idempotency-Key was used before for another request; nothing was written"),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_transfer(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    header: KeyHeader,
    Json(input): Json<TransferBody>,
) -> ApiResult<(StatusCode, Json<PointTx>)> {
    let key = key_of(header, &input.idempotency_key)?;
    let tx = state
        .store
        .transfer_points(&actor, &input.transfer, &key, &client)
        .await?;
    Ok((StatusCode::CREATED, Json(tx)))
}

/// Links a user account to a resident's record.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct LinkInput {
    pub user_id: i64,
    pub person_id: i64,
}

#[utoipa::path(post, path = "/api/v1/points/links", tag = "points", request_body = LinkInput,
    responses((status = 204), (status = 422, body = crate::error::Problem)))]
pub async fn api_link(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(input): Json<LinkInput>,
) -> ApiResult<StatusCode> {
    state
        .store
        .link_person(&actor, input.user_id, input.person_id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/points/me", tag = "points", responses((status = 200, body = MyPoints)))]
pub async fn api_me(State(state): State<AppState>, ApiUser(actor): ApiUser) -> ApiResult<Json<MyPoints>> {
    Ok(Json(state.store.my_points(&actor).await?))
}

#[utoipa::path(get, path = "/api/v1/shop/items", tag = "points", responses((status = 200, body = [ShopItem])))]
pub async fn api_my_shop(State(state): State<AppState>, ApiUser(actor): ApiUser) -> ApiResult<Json<Vec<ShopItem>>> {
    Ok(Json(state.store.my_shop(&actor).await?))
}

#[utoipa::path(get, path = "/api/v1/shop/items/{id}", tag = "points", params(("id" = i64, Path)),
    responses((status = 200, body = ShopItem), (status = 404, body = crate::error::Problem)))]
pub async fn api_item(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ShopItem>> {
    Ok(Json(state.store.shop_item(&actor, id).await?))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct StockInput {
    /// Units added (negative: taken off the shelf).
    pub change: i64,
}

#[utoipa::path(post, path = "/api/v1/shop/items/{id}/stock", tag = "points", params(("id" = i64, Path)),
    request_body = StockInput,
    responses((status = 200, body = ShopItem), (status = 422, body = crate::error::Problem)))]
pub async fn api_restock(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(input): Json<StockInput>,
) -> ApiResult<Json<ShopItem>> {
    Ok(Json(state.store.restock(&actor, id, input.change, &client).await?))
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}/shop/items", tag = "points", params(("id" = i64, Path)),
    responses((status = 200, body = [ShopItem]), (status = 404, body = crate::error::Problem)))]
pub async fn api_items_under(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ShopItem>>> {
    Ok(Json(state.store.items_under(&actor, id).await?))
}

#[utoipa::path(post, path = "/api/v1/nodes/{id}/shop/items", tag = "points", params(("id" = i64, Path)),
    request_body = ItemForm,
    responses((status = 201, body = ShopItem), (status = 422, body = crate::error::Problem)))]
pub async fn api_create_item(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(form): Json<ItemForm>,
) -> ApiResult<(StatusCode, Json<ShopItem>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_item(&actor, id, &form, &client).await?),
    ))
}

#[derive(Deserialize, Default, IntoParams)]
pub struct RedemptionQuery {
    /// `reserved`, `picked_up` or `cancelled`.
    #[serde(default)]
    status: String,
    cursor: Option<i64>,
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}/shop/redemptions", tag = "points",
    params(("id" = i64, Path), RedemptionQuery),
    responses((status = 200, body = RedemptionPage), (status = 404, body = crate::error::Problem)))]
pub async fn api_redemptions_under(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<RedemptionQuery>,
) -> ApiResult<Json<Page<Redemption>>> {
    let status = RedemptionStatus::from_key(&q.status);
    Ok(Json(
        state
            .store
            .redemptions_under(&actor, id, status, q.cursor, q.limit.unwrap_or(100))
            .await?,
    ))
}

#[derive(Deserialize, Default, IntoParams)]
pub struct MonthQuery {
    /// `YYYY-MM` (China time); this month when left out.
    #[serde(default)]
    pub month: String,
}

impl MonthQuery {
    /// The month asked for, or the month of `today`.
    pub fn month(&self, today: chrono::NaiveDate) -> String {
        if self.month.trim().is_empty() {
            today.format("%Y-%m").to_string()
        } else {
            self.month.trim().to_string()
        }
    }
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}/shop/statement", tag = "points", params(("id" = i64, Path), MonthQuery),
    responses((status = 200, body = Statement), (status = 404, body = crate::error::Problem)))]
pub async fn api_statement(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<MonthQuery>,
) -> ApiResult<Json<Statement>> {
    Ok(Json(
        state
            .store
            .monthly_statement(&actor, id, &q.month(state.store.today()))
            .await?,
    ))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RedeemBody {
    #[serde(flatten)]
    pub redeem: RedeemInput,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/shop/redemptions", tag = "points", request_body = RedeemInput,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Redemption), (status = 409, body = crate::error::Problem,
        description = "The Idempotency-Key was used before for another request; nothing was written"),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_redeem(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    header: KeyHeader,
    Json(input): Json<RedeemBody>,
) -> ApiResult<(StatusCode, Json<Redemption>)> {
    let key = key_of(header, &input.idempotency_key)?;
    let r = state.store.redeem(&actor, &input.redeem, &key, &client).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[utoipa::path(get, path = "/api/v1/shop/redemptions/{id}", tag = "points", params(("id" = i64, Path)),
    responses((status = 200, body = Redemption), (status = 404, body = crate::error::Problem)))]
pub async fn api_redemption(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Redemption>> {
    Ok(Json(state.store.redemption(&actor, id).await?))
}

#[utoipa::path(post, path = "/api/v1/shop/redemptions/{id}/pick-up", tag = "points", params(("id" = i64, Path)),
    responses((status = 200, body = Redemption), (status = 422, body = crate::error::Problem)))]
pub async fn api_pick_up(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
) -> ApiResult<Json<Redemption>> {
    Ok(Json(state.store.pick_up(&actor, id, &client).await?))
}

#[utoipa::path(post, path = "/api/v1/shop/redemptions/{id}/cancel", tag = "points", params(("id" = i64, Path)),
    responses((status = 200, body = Redemption), (status = 422, body = crate::error::Problem)))]
pub async fn api_cancel(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
) -> ApiResult<Json<Redemption>> {
    Ok(Json(state.store.cancel_redemption(&actor, id, &client).await?))
}
