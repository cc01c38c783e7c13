//! The API's shared parts: the OpenAPI document and its offline docs page.

use axum::Router;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Gongjian API", description = "党建引领城市基层治理平台 JSON API. Errors are application/problem+json; \
        lists use cursor pagination (`next_cursor`). Authenticate with the session cookie and send the \
        `X-CSRF-Token` header (from `/api/v1/me`) on state-changing requests, or send a personal access token as \
        `Authorization: Bearer gjt_…`."),
    paths(
        crate::auth::me, crate::account::api_tokens, crate::account::api_create_token, crate::account::api_revoke_token,
        crate::audit::api_list, crate::stats::api_list, crate::stats::api_metric,
        crate::people::api_list, crate::people::api_search, crate::people::api_create, crate::people::api_get, crate::people::api_reveal,
        crate::members::api_list, crate::members::api_create, crate::members::api_get, crate::members::api_transfer,
        crate::members::api_transfers,
        crate::units::api_list, crate::units::api_create, crate::units::api_get, crate::units::api_update,
        crate::units::api_contacts, crate::units::api_add_contact,
        crate::registrations::api_list, crate::registrations::api_create, crate::registrations::api_get,
        crate::registrations::api_decide, crate::registrations::api_claim, crate::registrations::api_record_service,
        crate::registrations::mobile::api_self_register, crate::registrations::reports::api_report,
        crate::registrations::cadres::api_pairings, crate::registrations::cadres::api_create_pairing,
        crate::registrations::cadres::api_deployments, crate::registrations::cadres::api_create_deployment,
        crate::tree::api_roots, crate::tree::api_search, crate::tree::api_create, crate::tree::api_get,
        crate::tree::api_by_code, crate::tree::api_edit, crate::tree::api_children, crate::tree::api_counts,
        crate::tree::api_move, crate::tree::api_archive, crate::tree::api_restore, crate::tree::api_history,
        crate::party::api_roots, crate::party::api_create, crate::party::api_get, crate::party::api_edit,
        crate::party::api_children, crate::party::api_move, crate::party::api_archive, crate::party::api_restore,
        crate::party::api_history, crate::party::api_at_node,
        crate::points::api_schemes, crate::points::api_create_scheme, crate::points::api_ledger,
        crate::points::api_credit, crate::points::api_deduct, crate::points::api_transfer, crate::points::api_link,
        crate::points::api_me, crate::points::api_my_shop, crate::points::api_item, crate::points::api_restock,
        crate::points::api_items_under, crate::points::api_create_item, crate::points::api_redemptions_under,
        crate::points::api_statement, crate::points::api_redeem, crate::points::api_redemption,
        crate::points::api_pick_up, crate::points::api_cancel,
        crate::volunteers::trajectory::api_trajectory, crate::volunteers::trajectory::api_my_trajectory,
        crate::volunteers::trajectory::api_issue_print, crate::volunteers::trajectory::api_print,
        crate::volunteers::trajectory::api_national, crate::volunteers::trajectory::api_settings,
        crate::volunteers::trajectory::api_save_settings, crate::volunteers::trajectory::campaigns::api_list,
        crate::volunteers::trajectory::campaigns::api_create, crate::volunteers::trajectory::campaigns::api_get,
        crate::volunteers::activities::api_list, crate::volunteers::activities::api_create,
        crate::volunteers::activities::api_get, crate::volunteers::activities::api_update,
        crate::volunteers::activities::api_cancel, crate::volunteers::activities::api_signups,
        crate::volunteers::activities::api_sign_up, crate::volunteers::activities::api_cancel_signup,
        crate::volunteers::activities::api_code, crate::volunteers::activities::api_check,
        crate::volunteers::activities::api_mine,
        crate::volunteers::records::api_presence, crate::volunteers::records::api_confirm,
        crate::volunteers::records::api_activity_records, crate::volunteers::records::api_person_records,
        crate::volunteers::records::api_record, crate::volunteers::records::api_correct,
        crate::volunteers::records::api_points, crate::volunteers::records::api_manual,
        crate::volunteers::records::api_pending, crate::volunteers::records::api_decide,
        crate::volunteers::teams::api_volunteers, crate::volunteers::teams::api_register,
        crate::volunteers::teams::api_volunteer, crate::volunteers::teams::api_leave,
        crate::volunteers::teams::api_teams, crate::volunteers::teams::api_create_team,
        crate::volunteers::teams::api_team, crate::volunteers::teams::api_add_member,
        crate::volunteers::teams::api_remove_member, crate::volunteers::teams::api_dissolve,
    ),
    tags((name = "tree", description = "The governance tree (行政区划与网格)"),
         (name = "party", description = "The party-organisation tree (党组织)"),
         (name = "account", description = "The caller's account and API tokens"),
         (name = "audit", description = "The audit log (audit administrator)"),
         (name = "stats", description = "Metrics of the seed reports, computed from records"),
         (name = "people", description = "Residents (居民) and party members; ID and phone numbers masked unless revealed"),
         (name = "units", description = "Units in the area (驻区单位) and their liaison contacts"),
         (name = "volunteers", description = "Volunteer service (志愿服务): volunteers, teams, activities with sign-up and waitlist, signed check-in codes, attendance, service records with corrections; service trajectories, printed service records, the national-system export of hours, star levels, campaigns"),
         (name = "points", description = "Points ledger (积分) and the points shop (积分超市); writes carry an Idempotency-Key"),
         (name = "registration", description = "Double registration (双报到): in-service members, pairings, cadres sent down, reports to employers"))
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    // The validator badge would load an image from another site: switched off.
    let config = utoipa_swagger_ui::Config::from("/api/openapi.json").validator_url("none");
    Router::new().merge(
        SwaggerUi::new("/api/docs")
            .url("/api/openapi.json", ApiDoc::openapi())
            .config(config),
    )
}
