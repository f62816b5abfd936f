//! The MondayAccessGrant schema on a real kube-apiserver: malformed entitlements, ambiguous
//! principals and forbidden team principals are rejected, and after creation the spec only
//! accepts a longer expiry.

use crate::support;

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use monday_operator::api::MondayAccessGrant;
use serde_json::{Value, json};

use support::install_crds;

fn grant(name: &str, spec: Value) -> MondayAccessGrant {
    serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1",
        "kind": "MondayAccessGrant",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("object")
}

fn rejected(r: Result<MondayAccessGrant, kube::Error>, needle: &str) {
    match r {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422, "{s:?}");
            assert!(
                s.message.contains(needle),
                "expected {needle:?} in {}",
                s.message
            );
        }
        other => panic!("expected a 422 mentioning {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn schema_rejects_bad_specs_and_only_allows_extending_expiry() {
    let client = support::client().await;
    install_crds(&client).await;
    let ns = support::namespace(&client, "jit-val").await;
    let api: Api<MondayAccessGrant> = Api::namespaced(client.clone(), &ns);
    let pp = PostParams::default();
    let base = |ent: &str| {
        json!({"connectorRef": {"name": "acme"}, "principal": {"email": "a@b.example"},
               "entitlement": ent, "duration": "1h", "reason": "INC-1"})
    };

    for (i, bad) in [
        "board:42:member",
        "board:x:owner",
        "role:owner:assigned",
        "team:1:subscriber",
        "workspace:1",
        "user:1:active",
        "board:42:owner ",
    ]
    .iter()
    .enumerate()
    {
        rejected(
            api.create(&pp, &grant(&format!("bad{i}"), base(bad))).await,
            "entitlement must be",
        );
    }
    let mut both = base("board:42:owner");
    both["principal"] = json!({"email": "a@b.example", "userId": "7"});
    rejected(
        api.create(&pp, &grant("both", both)).await,
        "exactly one of",
    );
    let mut none = base("board:42:owner");
    none["principal"] = json!({});
    rejected(
        api.create(&pp, &grant("none", none)).await,
        "exactly one of",
    );
    let mut team_role = base("role:admin:assigned");
    team_role["principal"] = json!({"teamId": "7"});
    rejected(
        api.create(&pp, &grant("teamrole", team_role)).await,
        "a team can only hold",
    );
    let mut two_expiries = base("board:42:owner");
    two_expiries["expiresAt"] = json!("2030-01-01T00:00:00Z");
    rejected(
        api.create(&pp, &grant("twoexp", two_expiries)).await,
        "not both",
    );
    let mut bad_duration = base("board:42:owner");
    bad_duration["duration"] = json!("one hour");
    rejected(
        api.create(&pp, &grant("baddur", bad_duration)).await,
        "duration must be",
    );

    // Valid ones, every kind.
    for (i, ok) in [
        "role:guest:assigned",
        "team:201:owner",
        "workspace:301:subscriber",
        "board:42:owner",
        "account:active",
        "account:deactivated",
    ]
    .iter()
    .enumerate()
    {
        api.create(&pp, &grant(&format!("ok{i}"), base(ok)))
            .await
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    let mut team_board = base("board:42:subscriber");
    team_board["principal"] = json!({"teamId": "-1"});
    api.create(&pp, &grant("teamboard", team_board))
        .await
        .expect("team on a board");

    // Transitions: immutable except a longer expiry.
    let dynamic: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &kube::discovery::ApiResource::erase::<MondayAccessGrant>(&()),
    );
    let merge = |spec: Value| Patch::Merge(json!({"spec": spec}));
    let pp2 = PatchParams::default();
    let err = dynamic
        .patch(
            "ok3",
            &pp2,
            &merge(json!({"entitlement": "board:43:owner"})),
        )
        .await
        .expect_err("entitlement immutable");
    assert!(
        err.to_string().contains("entitlement is immutable"),
        "{err}"
    );
    let err = dynamic
        .patch(
            "ok3",
            &pp2,
            &merge(json!({"principal": {"email": "c@d.example"}})),
        )
        .await
        .expect_err("principal immutable");
    assert!(err.to_string().contains("principal is immutable"), "{err}");
    let err = dynamic
        .patch("ok3", &pp2, &merge(json!({"duration": "30m"})))
        .await
        .expect_err("shorter");
    assert!(err.to_string().contains("only be extended"), "{err}");
    dynamic
        .patch("ok3", &pp2, &merge(json!({"duration": "2h"})))
        .await
        .expect("extend duration");
    let err = dynamic
        .patch(
            "ok3",
            &pp2,
            &merge(json!({"duration": null, "expiresAt": "2030-01-01T00:00:00Z"})),
        )
        .await
        .expect_err("kind of expiry");
    assert!(err.to_string().contains("kind of expiry"), "{err}");

    let mut at = base("board:42:owner");
    at["duration"] = Value::Null;
    at["expiresAt"] = json!("2030-01-01T00:00:00Z");
    api.create(&pp, &grant("at", at)).await.expect("expiresAt");
    let err = dynamic
        .patch(
            "at",
            &pp2,
            &merge(json!({"expiresAt": "2029-01-01T00:00:00Z"})),
        )
        .await
        .expect_err("earlier");
    assert!(err.to_string().contains("moved later"), "{err}");
    dynamic
        .patch(
            "at",
            &pp2,
            &merge(json!({"expiresAt": "2031-01-01T00:00:00Z"})),
        )
        .await
        .expect("later");
}
