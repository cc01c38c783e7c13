//! Volunteer star levels by cumulative hours (a setting).
