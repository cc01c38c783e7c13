//! See `super`.

use crate::Route;

pub(super) fn routes() -> Vec<Route> {
    Vec::new()
}
