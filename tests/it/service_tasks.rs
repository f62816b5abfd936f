//! Service mode end to end: the task loop against the ConductorOne double and the Monday
//! emulator, one test per task family. Every upload is read back and compared with the
//! emulator's ground truth; every grant/revoke is checked against the ground truth's change.

use std::time::Duration;

use crate::support::service::*;
use conductorone_double::pb::baton::task::SyncFullTask;
use conductorone_double::pb::connector as v2;
use conductorone_double::{Method, TaskBuilder};
use monday_emulator::{Config, Emulator};
use monday_operator::service::{ServiceEvent, TaskDetail, TaskOutcome};
use prost::Message;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn sync_full_uploads_exactly_the_emulators_ground_truth() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let double = quick_double();
    let mut running = start(&double, &emu, false, |_| {});
    let id = double.push_task(TaskBuilder::sync_full(SyncFullTask {
        storage_engine: "sqlite".into(),
        ..Default::default()
    }));
    let f = finished(&double, &id, LIMIT).await;
    let (response, annotations) = assert_success(&f);
    assert!(
        response.is_none() && annotations.is_empty(),
        "the SDK finishes a sync with nothing"
    );

    let uploads = double.uploads();
    assert_eq!(uploads.len(), 1);
    let up = &uploads[0];
    assert_eq!(up.task_id, id);
    assert!(up.chunk_sizes.iter().all(|&n| n <= 512 * 1024));
    assert_eq!(&up.data[..5], b"C1ZF\0", "a v1 c1z");
    let dir = tempfile::tempdir().expect("tempdir");
    let (grants, resources, entitlements) = read_upload(&up.data, dir.path());
    let truth = emu.ground_truth();
    assert_same("grants", &grants, &truth.grants.iter().cloned().collect());
    assert_same(
        "resources",
        &resources,
        &truth.resources.iter().map(|r| r.id.clone()).collect(),
    );
    assert_same(
        "entitlements",
        &entitlements,
        &truth.entitlements.iter().cloned().collect(),
    );

    // The first heartbeat precedes any work; the upload is complete and checked by the double.
    assert!(double.heartbeats(&id) >= 1);
    assert!(double.problems().is_empty(), "{:?}", double.problems());

    // Hello: what hello.go fills, the capabilities we support, the account-creation schema.
    let hellos = double.rpcs(Method::Hello);
    let conductorone_double::RecordedRpc { message: hello, .. } = &hellos[0];
    let conductorone_double::RpcMessage::Hello(h) = hello else {
        panic!("not a hello");
    };
    assert_eq!(h.host_id, "service-test-host");
    assert!(h.task_id.is_empty());
    let md = h.connector_metadata.as_ref().expect("metadata");
    assert_eq!(md.display_name, "Monday.com");
    let caps = md.capabilities.as_ref().expect("capabilities");
    let per_type: Vec<(String, Vec<i32>)> = caps
        .resource_type_capabilities
        .iter()
        .map(|c| {
            (
                c.resource_type.as_ref().expect("type").id.clone(),
                c.capabilities.clone(),
            )
        })
        .collect();
    use v2::Capability as C;
    assert_eq!(
        per_type,
        vec![
            (
                "board".to_string(),
                vec![C::Sync as i32, C::Provision as i32]
            ),
            (
                "role".to_string(),
                vec![C::Sync as i32, C::Provision as i32]
            ),
            (
                "team".to_string(),
                vec![
                    C::Sync as i32,
                    C::Provision as i32,
                    C::ResourceDelete as i32,
                    C::ResourceCreate as i32
                ]
            ),
            (
                "user".to_string(),
                vec![C::Sync as i32, C::AccountProvisioning as i32]
            ),
            (
                "workspace".to_string(),
                vec![C::Sync as i32, C::Provision as i32]
            ),
        ]
    );
    let schema = md.account_creation_schema.as_ref().expect("schema");
    assert!(schema.field_map.contains_key("email") && schema.field_map.contains_key("role"));

    let report = running.report(&id, Duration::from_secs(10)).await;
    assert_eq!(report.outcome, TaskOutcome::Succeeded);
    assert!(report.finish_reported);
    let TaskDetail::Sync {
        report: Some(sync),
        upload: Some(upload),
    } = &report.detail
    else {
        panic!("sync detail: {:?}", report.detail)
    };
    assert_eq!(sync.counts.grants as usize, truth.grants.len());
    assert_eq!(upload.bytes as usize, up.data.len());
    assert!(
        running.work_dir.join("last-upload.c1z").exists(),
        "the uploaded file is kept as last-upload.c1z"
    );
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}

#[tokio::test]
async fn sync_options_are_honoured_and_pebble_still_gets_a_v1_file() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let double = quick_double();
    let running = start(&double, &emu, false, |_| {});
    let dir = tempfile::tempdir().expect("tempdir");
    let truth = emu.ground_truth();

    let skip_grants = double.push_task(TaskBuilder::sync_full(SyncFullTask {
        skip_grants: true,
        storage_engine: "pebble".into(),
        ..Default::default()
    }));
    assert_success(&finished(&double, &skip_grants, LIMIT).await);
    let only_teams = double.push_task(TaskBuilder::sync_full(SyncFullTask {
        sync_resource_type_ids: vec!["team".into()],
        skip_expand_grants: true,
        ..Default::default()
    }));
    assert_success(&finished(&double, &only_teams, LIMIT).await);
    let resources_only = double.push_task(TaskBuilder::sync_full(SyncFullTask {
        skip_entitlements_and_grants: true,
        targeted_sync_resources: vec![v2::Resource {
            id: Some(v2::ResourceId {
                resource_type: "board".into(),
                resource: "401".into(),
                baton_resource: false,
            }),
            ..Default::default()
        }],
        ..Default::default()
    }));
    assert_success(&finished(&double, &resources_only, LIMIT).await);

    let upload = |id: &str| {
        double
            .uploads()
            .into_iter()
            .find(|u| u.task_id == id)
            .expect("uploaded")
    };
    let u = upload(&skip_grants);
    assert_eq!(&u.data[..5], b"C1ZF\0", "pebble asked, v1 written");
    let (grants, resources, entitlements) = read_upload(&u.data, dir.path());
    assert!(grants.is_empty());
    assert_eq!(resources.len(), truth.resources.len());
    assert_eq!(entitlements.len(), truth.entitlements.len());

    let (grants, resources, _) = read_upload(&upload(&only_teams).data, dir.path());
    assert!(
        resources
            .iter()
            .all(|r| r.starts_with("user:") || r.starts_with("team:")),
        "{resources:?}"
    );
    let want: std::collections::BTreeSet<String> = truth
        .grants
        .iter()
        // The synthetic "everyone" team exists only when a synced board or workspace names it.
        .filter(|g| g.starts_with("team:") && !g.starts_with("team:-1:"))
        .cloned()
        .collect();
    assert_same("team grants", &grants, &want);

    // Targeted: a full sync (a superset), here of resources only.
    let (grants, resources, entitlements) = read_upload(&upload(&resources_only).data, dir.path());
    assert!(grants.is_empty() && entitlements.is_empty());
    assert_eq!(resources.len(), truth.resources.len());
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}

/// Grants, then revokes, checking every step against the emulator's ground truth.
#[tokio::test]
async fn grant_and_revoke_tasks_change_the_ground_truth_by_that_grant() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let double = quick_double();
    let mut running = start(&double, &emu, true, |_| {});

    // (task, grants added, grants removed)
    let cases: Vec<(conductorone_double::pb::baton::Task, Vec<&str>, Vec<&str>)> = vec![
        (
            TaskBuilder::grant("team:201:member", "user:107", None),
            vec!["team:201:member:user:107"],
            vec![],
        ),
        (
            TaskBuilder::grant("board:402:owner", "user:102", Some(3600)),
            vec!["board:402:owner:user:102"],
            vec![],
        ),
        (
            TaskBuilder::grant("workspace:302:subscriber", "team:202", None),
            vec!["workspace:302:subscriber:team:202"],
            vec![],
        ),
        (
            TaskBuilder::grant("board:404:subscriber", "team:-1", None),
            vec![],
            vec![],
        ),
        (
            TaskBuilder::grant("role:admin:assigned", "user:107", None),
            vec!["role:admin:assigned:user:107"],
            vec!["role:viewer:assigned:user:107"],
        ),
        // Revokes are exact: the owner grant goes, the subscription the snapshot lists stays.
        (
            TaskBuilder::revoke("board:402:owner:user:102"),
            vec![],
            vec!["board:402:owner:user:102"],
        ),
        (
            TaskBuilder::revoke("team:201:member:user:107"),
            vec![],
            vec!["team:201:member:user:107"],
        ),
        (
            TaskBuilder::revoke("workspace:302:subscriber:team:202"),
            vec![],
            vec!["workspace:302:subscriber:team:202"],
        ),
        (
            TaskBuilder::revoke("board:401:owner:user:110"),
            vec![],
            vec!["board:401:owner:user:110"],
        ),
        (
            TaskBuilder::revoke("team:204:member:user:102"),
            vec![],
            vec!["team:204:member:user:102", "team:204:owner:user:102"],
        ),
    ];
    for (task, added, removed) in cases {
        let before = truth_grants(&emu);
        let label = format!(
            "{:?}",
            task.task_type
                .as_ref()
                .map(|t| format!("{t:?}").chars().take(60).collect::<String>())
        );
        let id = double.push_task(task);
        let f = finished(&double, &id, LIMIT).await;
        let (response, _) = assert_success(&f);
        assert!(response.is_some(), "{label}: a response");
        let (got_added, got_removed) = diff(&before, &truth_grants(&emu));
        assert_eq!(got_added, set(&added), "{label}: added");
        assert_eq!(got_removed, set(&removed), "{label}: removed");
    }

    // Idempotency annotations: a second grant / revoke of the same thing.
    let id = double.push_task(TaskBuilder::grant("team:201:member", "user:102", None));
    let (response, annotations) = assert_success(&finished(&double, &id, LIMIT).await);
    let resp =
        v2::GrantManagerServiceGrantResponse::decode(response.expect("response").value.as_slice())
            .expect("GrantManagerServiceGrantResponse");
    assert_eq!(resp.grants.len(), 1);
    assert_eq!(resp.grants[0].id, "team:201:member:user:102");
    assert!(
        annotations
            .iter()
            .any(|a| a.type_url.ends_with("c1.connector.v2.GrantAlreadyExists"))
    );
    let id = double.push_task(TaskBuilder::revoke("team:201:member:user:107"));
    let (_, annotations) = assert_success(&finished(&double, &id, LIMIT).await);
    assert!(
        annotations
            .iter()
            .any(|a| a.type_url.ends_with("c1.connector.v2.GrantAlreadyRevoked"))
    );

    // The duration of a time-bound grant reaches the embedding program.
    let events = running.drain().to_vec();
    let timed = events.iter().find_map(|e| match e {
        ServiceEvent::TaskFinished(r) => r
            .info
            .grant
            .as_ref()
            .filter(|g| g.grant_id == "board:402:owner:user:102" && g.duration.is_some())
            .cloned(),
        _ => None,
    });
    assert_eq!(
        timed.expect("grant event").duration,
        Some(Duration::from_secs(3600))
    );
    // Errors: non-retryable, as the SDK marks every grant failure.
    let id = double.push_task(TaskBuilder::grant("board:999:owner", "user:102", None));
    let (code, message, non_retryable) = assert_error(&finished(&double, &id, LIMIT).await);
    assert_eq!(code, tonic::Code::NotFound as i32, "{message}");
    assert!(
        non_retryable && message.ends_with("task failed and is non-retryable"),
        "{message}"
    );
    let id = double.push_task(TaskBuilder::grant("role:guest:assigned", "team:201", None));
    let (code, _, non_retryable) = assert_error(&finished(&double, &id, LIMIT).await);
    assert_eq!(code, tonic::Code::InvalidArgument as i32);
    assert!(non_retryable);
    assert!(double.problems().is_empty(), "{:?}", double.problems());
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}

#[tokio::test]
async fn provisioning_off_refuses_every_provisioning_task_and_leaves_monday_untouched() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let double = quick_double();
    let running = start(&double, &emu, false, |_| {});
    let before_tenant = format!("{:?}", emu.tenant());
    emu.reset_stats();
    let tasks = vec![
        TaskBuilder::grant("team:201:member", "user:107", None),
        TaskBuilder::revoke("board:401:owner:user:110"),
        TaskBuilder::create_account("new.person@edge.example", &[]),
        TaskBuilder::create_resource("team", "Should Not Exist"),
        TaskBuilder::delete_resource("team", "202"),
        TaskBuilder::action_invoke_on_user("disable_user", "102"),
    ];
    for t in tasks {
        let id = double.push_task(t);
        let (code, message, non_retryable) = assert_error(&finished(&double, &id, LIMIT).await);
        assert_eq!(code, tonic::Code::FailedPrecondition as i32);
        assert_eq!(
            message,
            "rpc error: code = FailedPrecondition desc = provisioning is not enabled\ntask failed and is non-retryable"
        );
        assert!(non_retryable);
    }
    assert_eq!(
        format!("{:?}", emu.tenant()),
        before_tenant,
        "Monday untouched"
    );
    assert_eq!(
        emu.stats().requests,
        0,
        "not even a read was sent to Monday"
    );
    // Reading tasks still work while provisioning is off.
    let id = double.push_task(TaskBuilder::action_list_schemas());
    assert_success(&finished(&double, &id, LIMIT).await);
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}

#[tokio::test]
async fn accounts_actions_and_teams_go_through_the_engine() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let double = quick_double();
    let mut running = start(&double, &emu, true, |_| {});

    // create_account: an invitation with the schema's role.
    let id = double.push_task(TaskBuilder::create_account(
        "new.hire@edge.example",
        &[("role", "guest")],
    ));
    let (response, _) = assert_success(&finished(&double, &id, LIMIT).await);
    let resp = v2::CreateAccountResponse::decode(response.expect("response").value.as_slice())
        .expect("decode");
    let Some(v2::create_account_response::Result::Success(ok)) = resp.result else {
        panic!("not a success result: {resp:?}")
    };
    let r = ok.resource.expect("resource");
    let rid = r.id.expect("id");
    assert_eq!(rid.resource_type, "user");
    let new_id: i64 = rid.resource.parse().expect("numeric id");
    let u = emu
        .with_tenant(|t| t.user(new_id).cloned())
        .expect("invited user");
    assert_eq!(u.email, "new.hire@edge.example");
    assert_eq!(format!("{:?}", u.kind), "Guest");
    // Again: already exists.
    let id = double.push_task(TaskBuilder::create_account("new.hire@edge.example", &[]));
    let (response, _) = assert_success(&finished(&double, &id, LIMIT).await);
    let resp = v2::CreateAccountResponse::decode(response.expect("response").value.as_slice())
        .expect("decode");
    assert!(matches!(
        resp.result,
        Some(v2::create_account_response::Result::AlreadyExists(_))
    ));

    // Actions: schemas, disable, enable, status.
    let id = double.push_task(TaskBuilder::action_list_schemas());
    let (response, _) = assert_success(&finished(&double, &id, LIMIT).await);
    let list = v2::ListActionSchemasResponse::decode(response.expect("response").value.as_slice())
        .expect("decode");
    let names: Vec<&str> = list.schemas.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["enable_user", "disable_user"]);
    let id = double.push_task(TaskBuilder::action_get_schema("disable_user"));
    assert_success(&finished(&double, &id, LIMIT).await);
    let before = truth_grants(&emu);
    let id = double.push_task(TaskBuilder::action_invoke_on_user("disable_user", "107"));
    let (response, _) = assert_success(&finished(&double, &id, LIMIT).await);
    let inv = v2::InvokeActionResponse::decode(response.expect("response").value.as_slice())
        .expect("decode");
    assert_eq!(inv.status, v2::BatonActionStatus::Complete as i32);
    assert_eq!(inv.id.len(), 27);
    assert_eq!(
        emu.with_tenant(|t| format!("{:?}", t.user(107).expect("107").status)),
        "Inactive"
    );
    // A deactivated user's memberships disappear from Monday's lists; its role grant stays.
    let (_, removed) = diff(&before, &truth_grants(&emu));
    assert!(
        removed.iter().all(|g| !g.starts_with("role:")),
        "{removed:?}"
    );
    let id = double.push_task(TaskBuilder::action_status("disable_user", &inv.id));
    assert_success(&finished(&double, &id, LIMIT).await);
    let id = double.push_task(TaskBuilder::action_invoke_on_user("enable_user", "107"));
    assert_success(&finished(&double, &id, LIMIT).await);
    assert_eq!(
        truth_grants(&emu),
        before,
        "reactivation restores every grant"
    );
    // The token's own user cannot be deactivated: a retryable error (the SDK's action rule).
    let admin = emu.admin_user_id().to_string();
    let id = double.push_task(TaskBuilder::action_invoke_on_user("disable_user", &admin));
    let (_, message, non_retryable) = assert_error(&finished(&double, &id, LIMIT).await);
    assert!(
        !non_retryable && message.contains("CannotUpdateSelf"),
        "{message}"
    );

    // Teams: create, then delete.
    let id = double.push_task(TaskBuilder::create_resource("team", "Created By C1"));
    let (response, _) = assert_success(&finished(&double, &id, LIMIT).await);
    let created = v2::CreateResourceResponse::decode(response.expect("response").value.as_slice())
        .expect("decode");
    let team = created.created.expect("created").id.expect("id");
    assert_eq!(team.resource_type, "team");
    let truth = emu.ground_truth();
    assert!(
        truth
            .resources
            .iter()
            .any(|r| r.id == format!("team:{}", team.resource))
    );
    let id = double.push_task(TaskBuilder::delete_resource("team", &team.resource));
    assert_success(&finished(&double, &id, LIMIT).await);
    assert!(
        !emu.ground_truth()
            .resources
            .iter()
            .any(|r| r.id == format!("team:{}", team.resource))
    );
    // Deleting again: already gone is success.
    let id = double.push_task(TaskBuilder::delete_resource("team", &team.resource));
    assert_success(&finished(&double, &id, LIMIT).await);
    // Boards cannot be created by this connector.
    let id = double.push_task(TaskBuilder::create_resource("board", "Nope"));
    let (code, _, non_retryable) = assert_error(&finished(&double, &id, LIMIT).await);
    assert_eq!(code, tonic::Code::Unimplemented as i32);
    assert!(non_retryable);

    let events = running.drain().to_vec();
    assert!(events.iter().any(|e| matches!(e, ServiceEvent::TaskFinished(r) if matches!(r.detail, TaskDetail::TeamCreated { .. }))));
    assert!(double.problems().is_empty(), "{:?}", double.problems());
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}

#[tokio::test]
async fn hello_and_unsupported_tasks_are_answered_like_the_sdk() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let double = quick_double();
    let running = start(&double, &emu, true, |_| {});
    let hello = double.push_task(TaskBuilder::hello());
    let ok = double
        .wait_for(LIMIT, |d| (d.hellos_accepted() >= 2).then_some(()))
        .await;
    assert!(ok.is_some(), "a second Hello for the hello task");
    let hellos = double.rpcs(Method::Hello);
    let conductorone_double::RpcMessage::Hello(h) = &hellos[1].message else {
        panic!("hello")
    };
    assert_eq!(h.task_id, hello);
    let unsupported = double.push_task(TaskBuilder::create_sync_diff());
    let (code, message, non_retryable) =
        assert_error(&finished(&double, &unsupported, LIMIT).await);
    assert_eq!(
        (code, message.as_str(), non_retryable),
        (tonic::Code::Unknown as i32, "unsupported task type", false)
    );
    assert!(
        double.finished().iter().all(|f| f.task_id != hello),
        "the SDK never finishes a hello task"
    );
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}
