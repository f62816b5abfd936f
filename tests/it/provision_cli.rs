//! The one-shot provisioning commands end to end against the emulator: output, idempotence and
//! exit codes (0 done/already, 1 failed, 2 usage), and the token never printed.

use std::process::{Command, Output};

use monday_emulator::{Config, Emulator, EmulatorHandle};

fn run(emu: &EmulatorHandle, args: &[&str], token: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_monday-operator"));
    cmd.args(args).args(["--api-url", &emu.url()]);
    match token {
        Some(t) => cmd.env("BATON_MONDAY_API_KEY", t),
        None => cmd.env_remove("BATON_MONDAY_API_KEY"),
    };
    let out: Output = cmd.output().expect("run monday-operator");
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    if let Some(t) = token {
        assert!(!o.contains(t) && !e.contains(t), "token leaked");
    }
    (out.status.code().unwrap_or(-1), o, e)
}

fn has(emu: &EmulatorHandle, grant: &str) -> bool {
    emu.ground_truth().grants.iter().any(|g| g == grant)
}

#[test]
fn provisioning_commands_and_exit_codes() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let token = emu.admin_token().to_string();
    let t = Some(token.as_str());

    let grant = [
        "grant",
        "--entitlement",
        "board:413:subscriber",
        "--user-email",
        "max.member@edge.example",
    ];
    let (code, out, err) = run(&emu, &grant, t);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("granted: board:413:subscriber:user:102"),
        "{out}"
    );
    assert!(has(&emu, "board:413:subscriber:user:102"));
    let (code, out, _) = run(&emu, &grant, t);
    assert_eq!(code, 0);
    assert!(out.contains("already granted"), "{out}");
    let revoke = [
        "revoke",
        "--entitlement",
        "board:413:subscriber",
        "--user-id",
        "102",
    ];
    let (code, out, _) = run(&emu, &revoke, t);
    assert_eq!(code, 0);
    assert!(out.starts_with("revoked:"), "{out}");
    assert!(!has(&emu, "board:413:subscriber:user:102"));
    let (code, out, _) = run(&emu, &revoke, t);
    assert_eq!(code, 0);
    assert!(out.contains("already absent"), "{out}");

    // Role grant prints the previous role; revoke restores it.
    let (code, out, _) = run(
        &emu,
        &[
            "grant",
            "--entitlement",
            "role:admin:assigned",
            "--user-id",
            "107",
        ],
        t,
    );
    assert_eq!(code, 0);
    assert!(out.contains("--previous-role viewer"), "{out}");
    let (code, out, _) = run(
        &emu,
        &[
            "revoke",
            "--entitlement",
            "role:admin:assigned",
            "--user-id",
            "107",
            "--previous-role",
            "viewer",
        ],
        t,
    );
    assert_eq!(code, 0);
    assert!(out.contains("restored viewer"), "{out}");
    assert!(has(&emu, "role:viewer:assigned:user:107"));

    // Teams on boards.
    let (code, _, err) = run(
        &emu,
        &[
            "grant",
            "--entitlement",
            "board:413:owner",
            "--team-id",
            "202",
        ],
        t,
    );
    assert_eq!(code, 0, "{err}");
    assert!(has(&emu, "board:413:owner:team:202"));

    // Accounts.
    let (code, out, _) = run(
        &emu,
        &[
            "create-account",
            "--email",
            "cli.hire@edge.example",
            "--role",
            "guest",
        ],
        t,
    );
    assert_eq!(code, 0);
    assert!(out.starts_with("invited: user"), "{out}");
    let (code, out, _) = run(
        &emu,
        &["create-account", "--email", "cli.hire@edge.example"],
        t,
    );
    assert_eq!(code, 0);
    assert!(out.starts_with("account exists"), "{out}");
    let (code, _, err) = run(
        &emu,
        &["deactivate", "--user-email", "cli.hire@edge.example"],
        t,
    );
    assert_eq!(code, 1);
    assert!(err.contains("PendingInvitation"), "{err}");
    let (code, out, _) = run(&emu, &["deactivate", "--user-id", "102"], t);
    assert_eq!((code, out.trim()), (0, "deactivated: user 102"));
    let (code, out, _) = run(&emu, &["deactivate", "--user-id", "102"], t);
    assert_eq!((code, out.trim()), (0, "already deactivated: user 102"));
    let (code, out, _) = run(&emu, &["reactivate", "--user-id", "102"], t);
    assert_eq!((code, out.trim()), (0, "reactivated: user 102"));

    // Failures: 1 with a reason.
    let me = emu.admin_user_id().to_string();
    let (code, _, err) = run(&emu, &["deactivate", "--user-id", &me], t);
    assert_eq!(code, 1);
    assert!(
        err.contains("CannotUpdateSelf") && err.contains("CANNOT_UPDATE_SELF"),
        "{err}"
    );
    let (code, _, err) = run(
        &emu,
        &[
            "grant",
            "--entitlement",
            "board:413:owner",
            "--user-email",
            "nobody@edge.example",
        ],
        t,
    );
    assert_eq!(code, 1);
    assert!(err.contains("UserNotFound"), "{err}");
    let (code, _, err) = run(
        &emu,
        &[
            "grant",
            "--entitlement",
            "board:413:owner",
            "--user-id",
            "102",
        ],
        Some("wrong-token"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("InvalidToken"), "{err}");

    // Usage: 2.
    let (code, _, err) = run(
        &emu,
        &[
            "grant",
            "--entitlement",
            "board:413:member",
            "--user-id",
            "102",
        ],
        t,
    );
    assert_eq!(code, 2);
    assert!(err.contains("invalid entitlement"), "{err}");
    let (code, _, _) = run(
        &emu,
        &[
            "grant",
            "--entitlement",
            "board:413:owner",
            "--user-id",
            "102",
            "--team-id",
            "202",
        ],
        t,
    );
    assert_eq!(code, 2);
    let (code, _, err) = run(
        &emu,
        &[
            "grant",
            "--entitlement",
            "role:admin:assigned",
            "--team-id",
            "202",
        ],
        t,
    );
    assert_eq!(code, 1, "a team on a role is refused by the engine");
    assert!(err.contains("TeamPrincipalNotAllowed"), "{err}");
    let (code, _, err) = run(
        &emu,
        &[
            "grant",
            "--entitlement",
            "board:413:owner",
            "--user-id",
            "102",
        ],
        None,
    );
    assert_eq!(code, 2);
    assert!(err.contains("BATON_MONDAY_API_KEY"), "{err}");
}
