//! Who is asking, and what they may see.
//!
//! Every use-case call carries an [`Actor`]. Rights are granted per subtree of the governance
//! tree; the storage layer turns the actor's grants into one path filter (see
//! `gongjian_store::scope`), so no handler filters by hand.

use serde::Serialize;

/// A role an account may hold on a subtree. Stored as its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    SystemAdmin,
    SecurityAdmin,
    AuditAdmin,
    OrgDepartment,
    StreetStaff,
    CommunityStaff,
    GridWorker,
    PartyMember,
    Resident,
    UnitLiaison,
    ServiceProvider,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::SystemAdmin,
        Role::SecurityAdmin,
        Role::AuditAdmin,
        Role::OrgDepartment,
        Role::StreetStaff,
        Role::CommunityStaff,
        Role::GridWorker,
        Role::PartyMember,
        Role::Resident,
        Role::UnitLiaison,
        Role::ServiceProvider,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Role::SystemAdmin => "system_admin",
            Role::SecurityAdmin => "security_admin",
            Role::AuditAdmin => "audit_admin",
            Role::OrgDepartment => "org_department",
            Role::StreetStaff => "street_staff",
            Role::CommunityStaff => "community_staff",
            Role::GridWorker => "grid_worker",
            Role::PartyMember => "party_member",
            Role::Resident => "resident",
            Role::UnitLiaison => "unit_liaison",
            Role::ServiceProvider => "service_provider",
        }
    }

    pub fn from_key(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.key() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::SystemAdmin => "系统管理员",
            Role::SecurityAdmin => "安全管理员",
            Role::AuditAdmin => "审计管理员",
            Role::OrgDepartment => "组织部",
            Role::StreetStaff => "街道工作人员",
            Role::CommunityStaff => "社区工作人员",
            Role::GridWorker => "网格员",
            Role::PartyMember => "党员",
            Role::Resident => "居民",
            Role::UnitLiaison => "驻区单位联络员",
            Role::ServiceProvider => "服务商",
        }
    }

    /// May change the structure of the two trees inside the granted subtree.
    pub fn manages_tree(self) -> bool {
        matches!(
            self,
            Role::SystemAdmin | Role::OrgDepartment | Role::StreetStaff | Role::CommunityStaff
        )
    }

    /// May read the two trees inside the granted subtree.
    pub fn reads_tree(self) -> bool {
        self.manages_tree() || matches!(self, Role::GridWorker | Role::AuditAdmin | Role::SecurityAdmin)
    }

    /// The three separated administrator roles (三员分立); each needs a second factor, and no
    /// account may hold two of them.
    pub fn is_administrator(self) -> bool {
        matches!(self, Role::SystemAdmin | Role::SecurityAdmin | Role::AuditAdmin)
    }

    /// The roles a holder of this role may grant to another account, inside the holder's
    /// subtree. The security administrator alone grants the administrator roles; nobody grants
    /// to themselves (checked where grants are written).
    pub fn may_grant(self, role: Role) -> bool {
        use Role::*;
        match self {
            SecurityAdmin => true,
            SystemAdmin => !role.is_administrator(),
            AuditAdmin => false,
            OrgDepartment => matches!(
                role,
                OrgDepartment
                    | StreetStaff
                    | CommunityStaff
                    | GridWorker
                    | PartyMember
                    | Resident
                    | UnitLiaison
                    | ServiceProvider
            ),
            StreetStaff => matches!(
                role,
                StreetStaff | CommunityStaff | GridWorker | PartyMember | Resident | UnitLiaison | ServiceProvider
            ),
            CommunityStaff => {
                matches!(
                    role,
                    CommunityStaff | GridWorker | PartyMember | Resident | UnitLiaison | ServiceProvider
                )
            }
            GridWorker | PartyMember | Resident | UnitLiaison | ServiceProvider => false,
        }
    }

    /// May create accounts and grant roles at all.
    pub fn manages_accounts(self) -> bool {
        Role::ALL.iter().any(|r| self.may_grant(*r))
    }
}

/// Where a grant applies: everywhere, or a subtree given by its root's materialised path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    All,
    Subtree { node_id: i64, path: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub reach: Reach,
}

/// What a permission check asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    ReadTree,
    ManageTree,
    /// Create accounts and grant roles inside the subtree.
    ManageAccounts,
    /// Read and export the audit log (the audit administrator).
    ReadAudit,
    /// Read residents' records, with ID and phone numbers masked.
    ReadPeople,
    /// Add and change residents' records.
    ManagePeople,
    /// See a full ID or phone number (each reveal is audited).
    RevealPersonal,
    /// Register oneself as an in-service party member at a residence community (双报到).
    RegisterSelf,
}

impl Right {
    fn granted_by(self, role: Role) -> bool {
        match self {
            Right::ReadTree => role.reads_tree(),
            Right::ManageTree => role.manages_tree(),
            Right::ManageAccounts => role.manages_accounts(),
            Right::ReadAudit => role == Role::AuditAdmin,
            Right::ReadPeople | Right::ManagePeople => matches!(
                role,
                Role::SystemAdmin | Role::OrgDepartment | Role::StreetStaff | Role::CommunityStaff | Role::GridWorker
            ),
            Right::RevealPersonal => matches!(role, Role::StreetStaff | Role::CommunityStaff | Role::GridWorker),
            Right::RegisterSelf => role == Role::PartyMember,
        }
    }
}

/// The account behind a request, with its grants resolved to subtree paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
    pub grants: Vec<Grant>,
}

/// The subtrees in which an actor holds a right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Everything,
    /// Materialised paths of subtree roots; empty means nothing.
    Paths(Vec<String>),
}

impl Scope {
    /// Whether the right is held nowhere.
    pub fn is_none(&self) -> bool {
        matches!(self, Scope::Paths(p) if p.is_empty())
    }

    pub fn contains_path(&self, path: &str) -> bool {
        match self {
            Scope::Everything => true,
            Scope::Paths(roots) => roots.iter().any(|r| path.starts_with(r.as_str())),
        }
    }

    /// Whether some node of the subtree at `path` is visible (the node itself or a descendant):
    /// true for the ancestors of a granted subtree, so breadcrumbs can show the way down.
    pub fn touches_path(&self, path: &str) -> bool {
        match self {
            Scope::Everything => true,
            Scope::Paths(roots) => roots
                .iter()
                .any(|r| path.starts_with(r.as_str()) || r.starts_with(path)),
        }
    }
}

impl Actor {
    /// The subtrees in which the actor holds `right`, with nested subtrees folded away.
    pub fn scope(&self, right: Right) -> Scope {
        let mut paths: Vec<String> = Vec::new();
        for g in self.grants.iter().filter(|g| right.granted_by(g.role)) {
            match &g.reach {
                Reach::All => return Scope::Everything,
                Reach::Subtree { path, .. } => paths.push(path.clone()),
            }
        }
        paths.sort();
        let mut folded: Vec<String> = Vec::new();
        for p in paths {
            if !folded.iter().any(|f| p.starts_with(f.as_str())) {
                folded.push(p);
            }
        }
        Scope::Paths(folded)
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    /// Whether the actor may grant `role` on a subtree at `path` (`None` = everywhere).
    pub fn may_grant(&self, role: Role, path: Option<&str>) -> bool {
        self.grants.iter().any(|g| {
            g.role.may_grant(role)
                && match (&g.reach, path) {
                    (Reach::All, _) => true,
                    (Reach::Subtree { path: own, .. }, Some(p)) => p.starts_with(own.as_str()),
                    (Reach::Subtree { .. }, None) => false,
                }
        })
    }

    /// The same actor with every grant narrowed to the subtree at `path` (rooted at node
    /// `node_id`): a grant above it reaches only that subtree, a grant inside it stays as it is,
    /// a grant elsewhere is dropped. Used where work is done "at" a node, such as an import.
    pub fn within(&self, node_id: i64, path: &str) -> Actor {
        let grants = self
            .grants
            .iter()
            .filter_map(|g| {
                let reach = match &g.reach {
                    Reach::All => Reach::Subtree {
                        node_id,
                        path: path.to_string(),
                    },
                    Reach::Subtree { path: own, .. } if path.starts_with(own.as_str()) => Reach::Subtree {
                        node_id,
                        path: path.to_string(),
                    },
                    Reach::Subtree { path: own, .. } if own.starts_with(path) => g.reach.clone(),
                    Reach::Subtree { .. } => return None,
                };
                Some(Grant { role: g.role, reach })
            })
            .collect();
        Actor {
            user_id: self.user_id,
            username: self.username.clone(),
            grants,
        }
    }

    /// The actor's role keys, comma-separated (for the audit log).
    pub fn role_keys(&self) -> String {
        let mut keys: Vec<&str> = self.grants.iter().map(|g| g.role.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(grants: Vec<Grant>) -> Actor {
        Actor {
            user_id: 1,
            username: "u".into(),
            grants,
        }
    }

    #[test]
    fn nested_subtrees_fold_and_roles_filter() {
        let a = actor(vec![
            Grant {
                role: Role::CommunityStaff,
                reach: Reach::Subtree {
                    node_id: 5,
                    path: "/1/2/5/".into(),
                },
            },
            Grant {
                role: Role::StreetStaff,
                reach: Reach::Subtree {
                    node_id: 2,
                    path: "/1/2/".into(),
                },
            },
            Grant {
                role: Role::Resident,
                reach: Reach::Subtree {
                    node_id: 9,
                    path: "/1/9/".into(),
                },
            },
        ]);
        assert_eq!(a.scope(Right::ManageTree), Scope::Paths(vec!["/1/2/".into()]));
        let s = a.scope(Right::ReadTree);
        assert!(s.contains_path("/1/2/5/77/"));
        assert!(!s.contains_path("/1/9/"));
        assert!(!s.contains_path("/1/20/"));
        assert!(s.touches_path("/1/"));
    }

    #[test]
    fn all_reach_is_everything() {
        let a = actor(vec![Grant {
            role: Role::SystemAdmin,
            reach: Reach::All,
        }]);
        assert_eq!(a.scope(Right::ManageTree), Scope::Everything);
        let none = actor(vec![]);
        assert_eq!(none.scope(Right::ReadTree), Scope::Paths(vec![]));
    }

    #[test]
    fn within_narrows_every_grant_to_the_subtree() {
        let a = actor(vec![
            Grant {
                role: Role::SystemAdmin,
                reach: Reach::All,
            },
            Grant {
                role: Role::CommunityStaff,
                reach: Reach::Subtree {
                    node_id: 9,
                    path: "/1/3/9/".into(),
                },
            },
            Grant {
                role: Role::StreetStaff,
                reach: Reach::Subtree {
                    node_id: 7,
                    path: "/1/2/5/7/".into(),
                },
            },
        ]);
        let n = a.within(5, "/1/2/5/");
        assert_eq!(n.grants.len(), 2);
        assert_eq!(n.scope(Right::ManagePeople), Scope::Paths(vec!["/1/2/5/".into()]));
        assert!(!n.scope(Right::ReadTree).contains_path("/1/3/9/"));
        assert!(n.scope(Right::RevealPersonal).contains_path("/1/2/5/7/8/"));
        assert!(!n.scope(Right::RevealPersonal).contains_path("/1/2/5/6/"));
    }
}

/// Password rules: at least 10 characters, three of the four character classes (lower case,
/// upper case, digits, symbols), and not containing the user name.
pub fn check_password(username: &str, password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 10 {
        return Err(format!("密码至少 10 个字符，现有 {n} 个"));
    }
    if n > 128 {
        return Err("密码最多 128 个字符".to_string());
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|b| **b).count() < 3 {
        return Err("密码须包含小写字母、大写字母、数字、符号中的至少三类".to_string());
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err("密码不能包含用户名".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod grant_tests {
    use super::*;

    #[test]
    fn separation_of_administrators() {
        assert!(Role::SecurityAdmin.may_grant(Role::AuditAdmin));
        assert!(!Role::SystemAdmin.may_grant(Role::SecurityAdmin));
        assert!(!Role::SystemAdmin.may_grant(Role::SystemAdmin));
        assert!(Role::SystemAdmin.may_grant(Role::StreetStaff));
        assert!(!Role::AuditAdmin.manages_accounts());
        assert!(!Role::CommunityStaff.may_grant(Role::StreetStaff));
        let street = Actor {
            user_id: 1,
            username: "s".into(),
            grants: vec![Grant {
                role: Role::StreetStaff,
                reach: Reach::Subtree {
                    node_id: 2,
                    path: "/1/2/".into(),
                },
            }],
        };
        assert!(street.may_grant(Role::CommunityStaff, Some("/1/2/7/")));
        assert!(!street.may_grant(Role::CommunityStaff, Some("/1/3/")));
        assert!(!street.may_grant(Role::CommunityStaff, None));
        assert_eq!(street.scope(Right::ReadAudit), Scope::Paths(vec![]));
    }
}

#[cfg(test)]
mod password_tests {
    use super::check_password;

    #[test]
    fn rules() {
        assert!(check_password("admin", "Gj-2026-strong").is_ok());
        assert!(check_password("admin", "short1A!").is_err());
        assert!(check_password("admin", "alllowercaseletters").is_err());
        assert!(check_password("admin", "xxAdmin-2026x").is_err());
        assert!(check_password("admin", "abcdefgh12").is_err());
        assert!(check_password("admin", "abcdefgh1!").is_ok());
    }
}
