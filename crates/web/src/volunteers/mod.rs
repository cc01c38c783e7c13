//! Volunteer service pages and API: teams, the activity calendar and detail with the check-in
//! QR screen, sign-up and "my activities" on the phone, attendance and hours; and a person's
//! service trajectory, the printable service record and the national-system export.

pub(crate) mod activities;
mod activity_form;
pub(crate) mod records;
pub(crate) mod teams;
pub(crate) mod trajectory;

use crate::Route;

pub fn routes() -> Vec<Route> {
    let mut r = activities::routes();
    r.extend(activity_form::routes());
    r.extend(records::routes());
    r.extend(teams::routes());
    r.extend(trajectory::routes());
    r
}
