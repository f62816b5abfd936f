//! Kubernetes Events (`events.k8s.io/v1`) that never show a stale fact.
//!
//! kube's `Recorder` folds every Event with the same type, reason, action and object into one
//! series and keeps the *first* note, so "1 grants added" stays on screen after a sync that
//! removed one. Here the note is part of the identity: a note that carries counts or ids is its
//! own Event, and only a repeat of the very same note within [`SERIES_WINDOW`] becomes a series
//! (count and last time bumped on the existing Event).
//!
//! [`Events::publish_once`] publishes a group of notes at most once per marker (a sync's sequence
//! number, a Secret version), so a reconcile that runs again for the same fact stays quiet.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::reason::Reason;

/// How long a repeat of the same note joins the Event's series (as client-go and kube do).
pub const SERIES_WINDOW: SignedDuration = SignedDuration::from_mins(6);

/// Normal or Warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Normal,
    Warning,
}

/// One Event to publish about an object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Note {
    pub kind: Kind,
    pub reason: Reason,
    /// What the operator was doing (`Sync`, `Provision`, `Read`).
    pub action: &'static str,
    pub text: String,
}

impl Note {
    pub fn normal(reason: Reason, action: &'static str, text: impl Into<String>) -> Self {
        Note {
            kind: Kind::Normal,
            reason,
            action,
            text: text.into(),
        }
    }

    pub fn warning(reason: Reason, action: &'static str, text: impl Into<String>) -> Self {
        Note {
            kind: Kind::Warning,
            reason,
            action,
            text: text.into(),
        }
    }
}

/// The Event last published for one (object, note).
struct Published {
    name: String,
    count: i32,
    last: Timestamp,
}

/// Publishes Events as one reporting controller.
pub struct Events {
    client: kube::Client,
    controller: String,
    instance: String,
    series: Mutex<HashMap<u64, Published>>,
    once: Mutex<HashMap<(String, String, &'static str), String>>,
}

fn note_key(regarding: &ObjectReference, note: &Note) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        &regarding.uid,
        &regarding.namespace,
        &regarding.name,
        &regarding.kind,
    )
        .hash(&mut h);
    note.hash(&mut h);
    h.finish()
}

impl Events {
    pub fn new(client: kube::Client, controller: &str, instance: &str) -> Self {
        Events {
            client,
            controller: controller.to_string(),
            instance: instance.to_string(),
            series: Mutex::default(),
            once: Mutex::default(),
        }
    }

    /// Publishes `note` about `regarding`; failures are logged, never returned (an Event is a
    /// report, not part of the work).
    pub async fn publish(&self, regarding: &ObjectReference, note: &Note) {
        if let Err(e) = self.try_publish(regarding, note).await {
            tracing::warn!(error = %e, reason = %note.reason, "could not publish Event");
        }
    }

    /// Publishes `notes` unless this `channel` of the object already published them for
    /// `marker` (the last marker per object and channel is remembered).
    pub async fn publish_once(
        &self,
        regarding: &ObjectReference,
        channel: &'static str,
        marker: &str,
        notes: &[Note],
    ) {
        let key = (
            regarding.namespace.clone().unwrap_or_default(),
            regarding.name.clone().unwrap_or_default(),
            channel,
        );
        {
            let mut once = self.once.lock().unwrap_or_else(|p| p.into_inner());
            if once.get(&key).is_some_and(|m| m == marker) {
                return;
            }
            once.insert(key, marker.to_string());
        }
        for n in notes {
            self.publish(regarding, n).await;
        }
    }

    /// Forgets what was published for an object that is gone.
    pub fn forget(&self, namespace: &str, name: &str) {
        self.once
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(ns, n, _), _| !(ns == namespace && n == name));
    }

    async fn try_publish(
        &self,
        regarding: &ObjectReference,
        note: &Note,
    ) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let key = note_key(regarding, note);
        let api: Api<Event> = Api::namespaced(
            self.client.clone(),
            regarding.namespace.as_deref().unwrap_or_default(),
        );
        match self.repeat(key, now) {
            Some((name, count)) => {
                let patch = serde_json::json!({"series": EventSeries {
                    count,
                    last_observed_time: MicroTime(now),
                }});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(drop)
            }
            None => {
                let event = self.event(regarding, note, now);
                let name = event.metadata.name.clone().unwrap_or_default();
                api.create(&PostParams::default(), &event).await?;
                self.series
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(
                        key,
                        Published {
                            name,
                            count: 1,
                            last: now,
                        },
                    );
                Ok(())
            }
        }
    }

    /// The Event this note repeats within the series window, counted up: its name and count.
    fn repeat(&self, key: u64, now: Timestamp) -> Option<(String, i32)> {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        series.retain(|_, p| p.last + SERIES_WINDOW > now);
        series.get_mut(&key).map(|p| {
            p.count += 1;
            p.last = now;
            (p.name.clone(), p.count)
        })
    }

    /// A new `events.k8s.io/v1` Event for `note`.
    fn event(&self, regarding: &ObjectReference, note: &Note, now: Timestamp) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    regarding.name.as_deref().unwrap_or(&self.controller),
                    now.as_nanosecond()
                )),
                namespace: regarding.namespace.clone(),
                ..Default::default()
            },
            action: Some(note.action.to_string()),
            reason: Some(note.reason.to_string()),
            note: Some(note.text.clone()),
            type_: Some(
                match note.kind {
                    Kind::Normal => "Normal",
                    Kind::Warning => "Warning",
                }
                .to_string(),
            ),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        }
    }
}
