//! Volunteer service (志愿服务): volunteers, teams, activities, attendance and service hours, and
//! what is derived from them (star levels, service records). Rules from DOMAIN_RULES.md,
//! "Volunteer service".

pub mod activities;
pub mod attendance;
pub mod levels;
