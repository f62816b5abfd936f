//! Deterministic tenants: size presets (`S`, `M`, `L`) from a seed, and the hand-built edge tenant.
//!
//! The generator uses its own SplitMix64 so the same seed gives the same tenant on every platform and
//! with every version of `rand`; tests compare against ground truth, never against fixed numbers.

use crate::model::*;

/// SplitMix64 finaliser: also used to derive stable per-ID values (timestamps).
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Small seeded RNG (SplitMix64).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(mix(seed ^ 0x6d6f_6e64_6179))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `permille`/1000.
    fn chance(&mut self, permille: u32) -> bool {
        self.below(1000) < permille as usize
    }

    /// Between `lo` and `hi` (about) distinct items of `pool`, sorted.
    fn sample_between(&mut self, pool: &[i64], lo: usize, hi: usize) -> Vec<i64> {
        let k = self.range(lo, hi);
        self.sample(pool, k)
    }

    /// About `k` distinct items of `pool` (duplicates drawn are dropped), sorted.
    fn sample(&mut self, pool: &[i64], k: usize) -> Vec<i64> {
        if pool.is_empty() {
            return Vec::new();
        }
        if k >= pool.len() {
            return pool.to_vec();
        }
        let mut v: Vec<i64> = (0..k).map(|_| pool[self.below(pool.len())]).collect();
        sort_dedup(&mut v);
        v
    }
}

/// Generated tenant sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// ≈ 50 users: quick unit tests.
    S,
    /// ≈ 5,000 users: the seeded "realistic" tenant of the engine tests.
    M,
    /// 50,000 users / 20,000 boards / 500 teams / 300 workspaces / ≈ 1M grants: the benchmark.
    L,
}

struct Shape {
    users: usize,
    teams: usize,
    workspaces: usize,
    boards: usize,
    team_members: (usize, usize),
    ws_members: (usize, usize),
    board_subscribers: (usize, usize),
}

impl Size {
    fn shape(self) -> Shape {
        match self {
            Size::S => Shape {
                users: 50,
                teams: 6,
                workspaces: 4,
                boards: 30,
                team_members: (0, 12),
                ws_members: (2, 30),
                board_subscribers: (1, 12),
            },
            Size::M => Shape {
                users: 5_000,
                teams: 100,
                workspaces: 60,
                boards: 2_000,
                team_members: (5, 150),
                ws_members: (5, 120),
                board_subscribers: (3, 90),
            },
            Size::L => Shape {
                users: 50_000,
                teams: 500,
                workspaces: 300,
                boards: 20_000,
                team_members: (20, 180),
                ws_members: (10, 110),
                board_subscribers: (5, 90),
            },
        }
    }
}

impl std::str::FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "S" | "s" => Ok(Size::S),
            "M" | "m" => Ok(Size::M),
            "L" | "l" => Ok(Size::L),
            _ => Err(format!("unknown size {s:?} (S, M or L)")),
        }
    }
}

const FIRST: &[&str] = &[
    "Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jade", "Kai", "Lea", "Milo",
    "Nia", "Omar", "Pia", "Quin", "Rosa", "Sami", "Tara", "Uma", "Vik", "Wen", "Xia", "Yuri",
    "Zoe",
];
const LAST: &[&str] = &[
    "Adler", "Brandt", "Costa", "Diaz", "Engel", "Fischer", "Garcia", "Haas", "Ito", "Jensen",
    "Kowal", "Lopez", "Meyer", "Novak", "Okafor", "Park", "Quinn", "Rossi", "Silva", "Tanaka",
];
const TITLES: &[&str] = &[
    "",
    "Engineer",
    "Designer",
    "Product Manager",
    "Analyst",
    "Sales Lead",
    "Support",
    "Director",
];
const WORDS: &[&str] = &[
    "Alpha", "Beacon", "Comet", "Delta", "Ember", "Falcon", "Harbor", "Indigo", "Juniper",
    "Kepler", "Lumen", "Meridian", "Nimbus", "Orbit", "Pioneer", "Quartz", "Summit", "Tundra",
    "Vertex",
];

/// ID bases: distinct ranges make a stray ID in a test obvious.
pub const USER_BASE: i64 = 10_000_000;
pub const TEAM_BASE: i64 = 20_000_000;
pub const WORKSPACE_BASE: i64 = 30_000_000;
pub const BOARD_BASE: i64 = 1_000_000_000;

/// Generates a tenant of the given size. The first user is an active admin (the admin token's
/// owner) and the second an active member (the non-admin token's owner).
pub fn generate(size: Size, seed: u64) -> Tenant {
    let sh = size.shape();
    let mut rng = Rng::new(seed);
    let slug = format!("acme-{seed}");

    let mut users = Vec::with_capacity(sh.users);
    // Pools of users that may appear in membership lists (deactivated users are never placed).
    let mut staff: Vec<i64> = Vec::new(); // admins + members (can own things)
    let mut viewers_and_staff: Vec<i64> = Vec::new();
    let mut guests: Vec<i64> = Vec::new();
    for i in 0..sh.users {
        let id = USER_BASE + 1 + i as i64;
        let (kind, status) = match i {
            0 => (UserKind::Admin, UserStatus::Active),
            1 => (UserKind::Member, UserStatus::Active),
            _ => {
                let r = rng.below(1000);
                let kind = if r < 30 {
                    UserKind::Admin
                } else if r < 830 {
                    UserKind::Member
                } else if r < 930 {
                    UserKind::Guest
                } else {
                    UserKind::ViewOnly
                };
                let r = rng.below(1000);
                let status = if r < 900 {
                    UserStatus::Active
                } else if r < 950 {
                    UserStatus::Pending
                } else {
                    UserStatus::Inactive
                };
                (kind, status)
            }
        };
        let first = FIRST[rng.below(FIRST.len())];
        let last = LAST[rng.below(LAST.len())];
        let email = if kind == UserKind::Guest {
            format!(
                "{}.{}{}@partner.example",
                first.to_lowercase(),
                last.to_lowercase(),
                i
            )
        } else {
            format!(
                "{}.{}{}@{slug}.example",
                first.to_lowercase(),
                last.to_lowercase(),
                i
            )
        };
        if status != UserStatus::Inactive {
            match kind {
                UserKind::Admin | UserKind::Member => {
                    staff.push(id);
                    viewers_and_staff.push(id);
                }
                UserKind::ViewOnly => viewers_and_staff.push(id),
                UserKind::Guest => guests.push(id),
            }
        }
        users.push(User {
            id,
            name: format!("{first} {last}"),
            email,
            title: TITLES[rng.below(TITLES.len())].to_string(),
            kind,
            status,
            created_at: None,
        });
    }

    let mut teams = Vec::with_capacity(sh.teams);
    for i in 0..sh.teams {
        let id = TEAM_BASE + 1 + i as i64;
        let is_guest = i > 0 && rng.chance(30) && !guests.is_empty();
        let k = rng.range(sh.team_members.0, sh.team_members.1);
        let (members, owners) = if is_guest {
            (rng.sample(&guests, k.min(20)), Vec::new())
        } else {
            let members = rng.sample(&viewers_and_staff, k);
            let owner_pool: Vec<i64> = members
                .iter()
                .copied()
                .filter(|m| staff.binary_search(m).is_ok())
                .collect();
            let owners = rng.sample_between(&owner_pool, 0, 2);
            (members, owners)
        };
        teams.push(Team {
            id,
            name: format!("{} {}", WORDS[rng.below(WORDS.len())], i + 1),
            is_guest,
            members,
            owners,
        });
    }
    let regular_teams: Vec<i64> = teams.iter().filter(|t| !t.is_guest).map(|t| t.id).collect();

    let mut workspaces = Vec::with_capacity(sh.workspaces);
    for i in 0..sh.workspaces {
        let id = WORKSPACE_BASE + 1 + i as i64;
        let r = rng.below(1000);
        let kind = if r < 850 {
            WorkspaceKind::Open
        } else if r < 950 {
            WorkspaceKind::Closed
        } else {
            WorkspaceKind::Template
        };
        let r = rng.below(1000);
        let state = if i == 0 || r < 950 {
            State::Active
        } else if r < 980 {
            State::Archived
        } else {
            State::Deleted
        };
        let owners = rng.sample_between(&staff, 1, 3);
        let mut subscribers =
            rng.sample_between(&viewers_and_staff, sh.ws_members.0, sh.ws_members.1);
        if rng.chance(900) {
            subscribers.extend(owners.iter().copied());
            sort_dedup(&mut subscribers);
        }
        let team_subscribers = rng.sample_between(&regular_teams, 0, 3);
        let team_owners = if rng.chance(200) {
            rng.sample(&team_subscribers, 1)
        } else {
            Vec::new()
        };
        workspaces.push(Workspace {
            id,
            name: format!("{} Workspace {}", WORDS[rng.below(WORDS.len())], i + 1),
            kind,
            state,
            description: None,
            owners,
            subscribers,
            team_owners,
            team_subscribers,
        });
    }

    let mut boards = Vec::with_capacity(sh.boards);
    for i in 0..sh.boards {
        let id = BOARD_BASE + 1 + i as i64;
        let workspace = if rng.chance(80) {
            None
        } else {
            Some(&workspaces[rng.below(workspaces.len())])
        };
        let r = rng.below(1000);
        let mut state = if r < 950 {
            State::Active
        } else if r < 990 {
            State::Archived
        } else {
            State::Deleted
        };
        if let Some(w) = workspace
            && w.state != State::Active
        {
            state = w.state;
        }
        let r = rng.below(1000);
        let board_type = if r < 30 {
            BoardType::Document
        } else if r < 50 {
            BoardType::SubItemsBoard
        } else {
            BoardType::Board
        };
        let hierarchy = if rng.chance(20) {
            Hierarchy::MultiLevel
        } else {
            Hierarchy::Classic
        };
        let r = rng.below(1000);
        let board_kind = if r < 550 {
            BoardKind::Public
        } else if r < 850 {
            BoardKind::Private
        } else {
            BoardKind::Share
        };
        let owners = rng.sample_between(&staff, 1, 3);
        let k = rng.range(sh.board_subscribers.0, sh.board_subscribers.1);
        let mut subscribers = rng.sample(&viewers_and_staff, k);
        if board_kind == BoardKind::Share {
            subscribers.extend(rng.sample_between(&guests, 0, 4));
        }
        for &o in &owners {
            // Most owners are also subscribers (as in Monday's UI); some are owners only.
            if rng.chance(900) {
                subscribers.push(o);
            }
        }
        sort_dedup(&mut subscribers);
        subscribers.truncate(400);
        let mut team_subscribers = if rng.chance(10) {
            // Rare boards with more than one page (25) of teams.
            rng.sample_between(&regular_teams, 26, 40)
        } else if rng.chance(200) {
            rng.sample_between(&regular_teams, 1, 3)
        } else {
            Vec::new()
        };
        if rng.chance(5) {
            team_subscribers.push(EVERYONE_TEAM);
            sort_dedup(&mut team_subscribers);
        }
        let team_owners = if rng.chance(50) {
            rng.sample(&regular_teams, 1)
        } else {
            Vec::new()
        };
        boards.push(Board {
            id,
            name: format!("{} Board {}", WORDS[rng.below(WORDS.len())], i + 1),
            board_kind,
            state,
            board_type,
            hierarchy,
            permissions: "everyone".into(),
            workspace_id: workspace.map(|w| w.id),
            owners,
            subscribers,
            team_owners,
            team_subscribers,
        });
    }

    let account = Account {
        id: 9_000_000 + (seed % 1_000_000) as i64,
        name: format!("Acme {seed}"),
        slug,
        tier: "enterprise".into(),
        max_users: 100_000,
    };
    Tenant::new(account, users, teams, workspaces, boards).expect("generated tenant is consistent")
}

/// The edge-case tenant: every corner the sync must get right, small enough to read.
///
/// Users 101 (admin, admin token) and 102 (member, non-admin token); 103 pending member, 104
/// deactivated member, 105 guest, 106 pending guest, 107 viewer, 108 second admin, 109 deactivated
/// admin, 110 board owner who is also a subscriber, 111–140 a crowd of 30 members (so workspace 301
/// has more than 25 user subscribers). Extra tokens: `edge-viewer-token` (107),
/// `edge-deactivated-token` (104), `edge-scoped-token` (102, scopes `me:read boards:read`),
/// `edge-guest-token` (105).
pub fn edge() -> Tenant {
    let u = |id: i64, name: &str, kind: UserKind, status: UserStatus| User {
        id,
        name: name.into(),
        email: format!("{}@edge.example", name.to_lowercase().replace(' ', ".")),
        title: String::new(),
        kind,
        status,
        created_at: None,
    };
    use UserKind::*;
    use UserStatus::*;
    let mut users = vec![
        u(101, "Ada Admin", Admin, Active),
        u(102, "Max Member", Member, Active),
        u(103, "Pia Pending", Member, Pending),
        u(104, "Dan Deactivated", Member, Inactive),
        u(105, "Gus Guest", Guest, Active),
        u(106, "Gia Pending Guest", Guest, Pending),
        u(107, "Vic Viewer", ViewOnly, Active),
        u(108, "Ann Second Admin", Admin, Active),
        u(109, "Ivy Inactive Admin", Admin, Inactive),
        u(110, "Olga Owner", Member, Active),
    ];
    let crowd: Vec<i64> = (111..=140).collect();
    for &id in &crowd {
        users.push(u(id, &format!("Crowd {id}"), Member, Active));
    }

    let team = |id: i64, name: &str, is_guest: bool, members: Vec<i64>, owners: Vec<i64>| Team {
        id,
        name: name.into(),
        is_guest,
        members,
        owners,
    };
    let mut teams = vec![
        team(201, "Platform", false, vec![101, 102, 110], vec![101]),
        team(202, "Empty Team", false, vec![], vec![]),
        team(203, "Guests", true, vec![105, 106], vec![]),
        // 104 is deactivated: hidden from `users` and from ground truth.
        team(204, "Mixed", false, vec![102, 103, 104, 107], vec![102]),
    ];
    let squads: Vec<i64> = (205..=234).collect();
    for (i, &id) in squads.iter().enumerate() {
        let a = crowd[i % crowd.len()];
        let b = crowd[(i + 7) % crowd.len()];
        teams.push(team(
            id,
            &format!("Squad {}", i + 1),
            false,
            vec![a, b],
            vec![],
        ));
    }

    let ws = |id: i64, name: &str, kind: WorkspaceKind, state: State| Workspace {
        id,
        name: name.into(),
        kind,
        state,
        ..Default::default()
    };
    let mut w301 = ws(301, "Main Product", WorkspaceKind::Open, State::Active);
    w301.owners = vec![101, 110];
    w301.subscribers = [vec![101, 102, 110], crowd.clone()].concat();
    w301.team_subscribers = vec![201, 204];
    w301.team_owners = vec![201];
    let w302 = ws(302, "Empty Workspace", WorkspaceKind::Open, State::Active);
    let mut w303 = ws(303, "Closed Ops", WorkspaceKind::Closed, State::Active);
    w303.owners = vec![108];
    w303.subscribers = vec![103, 107, 108];
    w303.team_subscribers = vec![203];
    let mut w304 = ws(304, "Archived Stuff", WorkspaceKind::Open, State::Archived);
    w304.owners = vec![101];
    w304.subscribers = vec![101, 102];
    let mut w305 = ws(305, "Templates", WorkspaceKind::Template, State::Active);
    w305.owners = vec![101];
    w305.subscribers = vec![101];
    let mut w306 = ws(
        306,
        "Owner Not Subscriber",
        WorkspaceKind::Open,
        State::Active,
    );
    w306.owners = vec![102];
    w306.subscribers = vec![110];
    let workspaces = vec![w301, w302, w303, w304, w305, w306];

    let board = |id: i64, name: &str, kind: BoardKind, ws: Option<i64>| Board {
        id,
        name: name.into(),
        board_kind: kind,
        workspace_id: ws,
        permissions: "everyone".into(),
        ..Default::default()
    };
    let mut b = Vec::new();
    let mut x = board(401, "Roadmap", BoardKind::Public, Some(301));
    x.owners = vec![110];
    x.subscribers = vec![101, 102, 110];
    x.team_subscribers = vec![201];
    b.push(x);
    let mut x = board(402, "Main Workspace Board", BoardKind::Public, None);
    x.owners = vec![101];
    x.subscribers = vec![101, 102, 107];
    b.push(x);
    let mut x = board(403, "Client Share", BoardKind::Share, Some(301));
    x.owners = vec![102];
    x.subscribers = vec![102, 105, 106];
    x.team_subscribers = vec![203];
    b.push(x);
    let mut x = board(404, "Everyone Board", BoardKind::Public, None);
    x.owners = vec![108];
    x.subscribers = vec![108];
    x.team_subscribers = vec![EVERYONE_TEAM, 201];
    b.push(x);
    let mut x = board(405, "Many Teams", BoardKind::Private, Some(301));
    x.owners = vec![101];
    x.subscribers = vec![101];
    x.team_subscribers = [vec![201], squads.clone()].concat();
    x.team_owners = vec![201, 205];
    b.push(x);
    let mut x = board(406, "Owner Only", BoardKind::Private, Some(303));
    x.owners = vec![108];
    b.push(x);
    let mut x = board(407, "Spec Doc", BoardKind::Public, Some(301));
    x.board_type = BoardType::Document;
    x.owners = vec![101];
    x.subscribers = vec![101, 102];
    b.push(x);
    let mut x = board(408, "Subitems of Roadmap", BoardKind::Public, Some(301));
    x.board_type = BoardType::SubItemsBoard;
    x.owners = vec![110];
    x.subscribers = vec![102, 110];
    b.push(x);
    let mut x = board(409, "Old Board", BoardKind::Public, Some(301));
    x.state = State::Archived;
    x.owners = vec![101];
    x.subscribers = vec![101];
    b.push(x);
    let mut x = board(410, "Deleted Board", BoardKind::Public, None);
    x.state = State::Deleted;
    x.owners = vec![101];
    b.push(x);
    let mut x = board(411, "Portfolio", BoardKind::Public, Some(301));
    x.hierarchy = Hierarchy::MultiLevel;
    x.owners = vec![101];
    x.subscribers = vec![101, 108];
    b.push(x);
    let mut x = board(412, "In Archived Workspace", BoardKind::Public, Some(304));
    x.state = State::Archived;
    x.owners = vec![101];
    b.push(x);
    b.push(board(413, "Empty Board", BoardKind::Public, Some(305)));
    let mut x = board(414, "Team Owner Only", BoardKind::Public, Some(306));
    x.owners = vec![102];
    x.subscribers = vec![102, 104];
    x.team_owners = vec![204];
    b.push(x);
    let mut x = board(415, "Big Board", BoardKind::Public, Some(301));
    x.owners = vec![101];
    x.subscribers = [vec![101], crowd.clone()].concat();
    b.push(x);

    let account = Account {
        id: 4_000_001,
        name: "Edge Cases Ltd".into(),
        slug: "edge-cases".into(),
        tier: "enterprise".into(),
        max_users: 1000,
    };
    let mut t =
        Tenant::new(account, users, teams, workspaces, b).expect("edge tenant is consistent");
    t.tokens = vec![
        TokenSpec {
            token: "edge-viewer-token".into(),
            user_id: 107,
            scopes: None,
        },
        TokenSpec {
            token: "edge-deactivated-token".into(),
            user_id: 104,
            scopes: None,
        },
        TokenSpec {
            token: "edge-scoped-token".into(),
            user_id: 102,
            scopes: Some(vec!["me:read".into(), "boards:read".into()]),
        },
        TokenSpec {
            token: "edge-guest-token".into(),
            user_id: 105,
            scopes: None,
        },
    ];
    t
}
