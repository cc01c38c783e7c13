//! Points: amounts, the rules of a points scheme, and the states of a shop redemption.
//!
//! Every rule of a scheme is a setting ([`SchemeRules`]): a resident volunteer scheme, a
//! party-member scheme (base + bonus − deduction, floor 0, yearly reset, per-item yearly caps)
//! and a time bank (1 hour = 1 unit, a storage cap, transfer to relatives, donation, a minimum
//! age to redeem) differ only in their settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Validation;

/// An amount of points: a positive whole number, at most [`Points::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Points(i64);

impl Points {
    /// Larger than any real balance, small enough that sums never overflow.
    pub const MAX: i64 = 1_000_000_000;

    pub fn new(n: i64) -> Result<Points, String> {
        if n <= 0 {
            Err("积分数应为正整数".to_string())
        } else if n > Points::MAX {
            Err(format!("积分数不能超过 {}", Points::MAX))
        } else {
            Ok(Points(n))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// The kind of a scheme, which gives its defaults and its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemeKind {
    Volunteer,
    PartyMember,
    TimeBank,
}

impl SchemeKind {
    pub const ALL: [SchemeKind; 3] = [SchemeKind::Volunteer, SchemeKind::PartyMember, SchemeKind::TimeBank];

    pub fn key(self) -> &'static str {
        match self {
            SchemeKind::Volunteer => "volunteer",
            SchemeKind::PartyMember => "party_member",
            SchemeKind::TimeBank => "time_bank",
        }
    }

    pub fn from_key(s: &str) -> Option<SchemeKind> {
        SchemeKind::ALL.into_iter().find(|k| k.key() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            SchemeKind::Volunteer => "居民志愿积分",
            SchemeKind::PartyMember => "党员积分",
            SchemeKind::TimeBank => "时间银行",
        }
    }

    /// The settings a new scheme of this kind starts with.
    pub fn default_rules(self) -> SchemeRules {
        match self {
            SchemeKind::Volunteer => SchemeRules {
                redeemable: true,
                ..SchemeRules::default()
            },
            SchemeKind::PartyMember => SchemeRules {
                base: 60,
                yearly_reset: true,
                ..SchemeRules::default()
            },
            SchemeKind::TimeBank => SchemeRules {
                redeemable: true,
                storage_cap: Some(1500),
                transfer_to_relatives: true,
                donation: true,
                redeem_min_age: Some(65),
                ..SchemeRules::default()
            },
        }
    }
}

/// The settings of a scheme. Balances never go below zero in any scheme (a deduction larger
/// than the balance takes the balance to zero).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchemeRules {
    /// Points may be spent in the points shop.
    pub redeemable: bool,
    /// Points each holder starts the year with (party-member points' 基础分).
    pub base: i64,
    /// Balances go to the expiry account at the turn of the year.
    pub yearly_reset: bool,
    /// Most points one holder may be credited per item and year (e.g. "先锋作用" → 20).
    pub item_caps: BTreeMap<String, i64>,
    /// Most points one holder may hold (time bank: e.g. 1500 hours).
    pub storage_cap: Option<i64>,
    /// Holders may give points to relatives (same household).
    pub transfer_to_relatives: bool,
    /// Holders may donate points to anyone in the scheme.
    pub donation: bool,
    /// Youngest age at which points are redeemed.
    pub redeem_min_age: Option<u32>,
}

impl SchemeRules {
    /// Parses and checks stored or submitted settings.
    pub fn parse(json: &str) -> Result<SchemeRules, Validation> {
        let rules: SchemeRules =
            serde_json::from_str(json).map_err(|_| Validation::single("rules", "积分规则格式不正确"))?;
        rules.check()?;
        Ok(rules)
    }

    pub fn check(&self) -> Result<(), Validation> {
        let mut v = Validation::new();
        if !(0..=Points::MAX).contains(&self.base) {
            v.push("rules", "基础分应为 0 或正整数");
        }
        for (item, cap) in &self.item_caps {
            if item.trim().is_empty() || item.chars().count() > 40 {
                v.push("rules", "封顶项目名称应为 1 到 40 个字符");
            }
            if !(1..=Points::MAX).contains(cap) {
                v.push("rules", format!("“{item}”的年度封顶应为正整数"));
            }
        }
        if let Some(cap) = self.storage_cap
            && !(1..=Points::MAX).contains(&cap)
        {
            v.push("rules", "存储上限应为正整数");
        }
        if let Some(age) = self.redeem_min_age
            && age > 120
        {
            v.push("rules", "兑换最低年龄不合理");
        }
        v.into_result()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// The yearly cap of an item, if it has one.
    pub fn cap_of(&self, item: &str) -> Option<i64> {
        self.item_caps.get(item).copied()
    }
}

/// Where credited points come from. Every issuance names its source, so the same hours or
/// order can never be paid twice (the source is part of the idempotency key of the callers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CreditSource {
    /// Confirmed volunteer service hours (a service record).
    Hours { record_id: i64 },
    /// A completed service order.
    Order { order_id: i64 },
    /// A bonus or base award under a rule item (party-member points).
    Award { item: String },
}

impl CreditSource {
    /// The stored form, e.g. `hours:12`.
    pub fn reference(&self) -> String {
        match self {
            CreditSource::Hours { record_id } => format!("hours:{record_id}"),
            CreditSource::Order { order_id } => format!("order:{order_id}"),
            CreditSource::Award { item } => format!("award:{item}"),
        }
    }

    /// The rule item whose yearly cap applies.
    pub fn item(&self) -> &str {
        match self {
            CreditSource::Hours { .. } => "志愿服务",
            CreditSource::Order { .. } => "服务订单",
            CreditSource::Award { item } => item,
        }
    }
}

/// The state of a shop redemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedemptionStatus {
    Reserved,
    PickedUp,
    Cancelled,
}

impl RedemptionStatus {
    pub fn key(self) -> &'static str {
        match self {
            RedemptionStatus::Reserved => "reserved",
            RedemptionStatus::PickedUp => "picked_up",
            RedemptionStatus::Cancelled => "cancelled",
        }
    }

    pub fn from_key(s: &str) -> Option<RedemptionStatus> {
        [
            RedemptionStatus::Reserved,
            RedemptionStatus::PickedUp,
            RedemptionStatus::Cancelled,
        ]
        .into_iter()
        .find(|k| k.key() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            RedemptionStatus::Reserved => "待领取",
            RedemptionStatus::PickedUp => "已领取",
            RedemptionStatus::Cancelled => "已取消",
        }
    }

    /// Only a reserved redemption is picked up or cancelled; both are final.
    pub fn transition(self, to: RedemptionStatus) -> Result<RedemptionStatus, String> {
        match (self, to) {
            (RedemptionStatus::Reserved, RedemptionStatus::PickedUp | RedemptionStatus::Cancelled) => Ok(to),
            _ => Err(format!("兑换单{}，不能改为{}", self.label_zh(), to.label_zh())),
        }
    }
}

/// Checks an idempotency key: 8 to 100 printable ASCII characters.
pub fn check_idempotency_key(key: &str) -> Result<(), String> {
    let n = key.len();
    if !(8..=100).contains(&n) || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("幂等键应为 8 到 100 个可打印字符".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_positive_and_bounded() {
        assert!(Points::new(0).is_err());
        assert!(Points::new(-3).is_err());
        assert_eq!(Points::new(5).map(Points::get), Ok(5));
        assert!(Points::new(Points::MAX + 1).is_err());
    }

    #[test]
    fn rules_round_trip_and_are_checked() {
        let mut r = SchemeKind::PartyMember.default_rules();
        r.item_caps.insert("先锋作用".into(), 20);
        assert_eq!(SchemeRules::parse(&r.to_json()), Ok(r.clone()));
        assert_eq!(r.cap_of("先锋作用"), Some(20));
        r.item_caps.insert("x".into(), 0);
        assert!(r.check().is_err());
        assert!(SchemeRules::parse("not json").is_err());
        assert!(SchemeRules::parse(r#"{"storage_cap": -1}"#).is_err());
        assert_eq!(SchemeRules::parse("{}"), Ok(SchemeRules::default()));
    }

    #[test]
    fn redemptions_close_once() {
        use RedemptionStatus::*;
        assert_eq!(Reserved.transition(PickedUp), Ok(PickedUp));
        assert!(PickedUp.transition(Cancelled).is_err());
        assert!(Cancelled.transition(PickedUp).is_err());
        assert!(Reserved.transition(Reserved).is_err());
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_idempotency_key("short").is_err());
        assert!(check_idempotency_key("a key with spaces").is_err());
        assert!(check_idempotency_key("redeem-0001-abcd").is_ok());
    }
}
