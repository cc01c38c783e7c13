//! Volunteer service: volunteers and teams, activities with sign-up and a waitlist, attendance by
//! signed check-in codes or staff confirmation, service records (hours) with corrections, and the
//! views derived from them (a person's service trajectory, the printable service record, the
//! export for the national volunteer information system).

pub mod activities;
pub mod attendance;
pub mod campaigns;
pub mod export;
pub mod records;
pub mod teams;
pub mod trajectory;

pub use activities::{Activity, Signup, local};
pub use attendance::{BatchAttendance, ShownCode, instant};
pub use records::{AttendanceOutcome, ManualRecord, PointsRetry, ServiceRecord};
pub use teams::{Team, TeamMember, Volunteer};
