//! The protoc-gen-validate rules of `baton.proto` (stripped from the generated code by build.rs),
//! enforced by hand, plus the non-empty build/OS fields of the strict Hello (reference §8).

use crate::pb::baton;

pub type Check = Result<(), String>;

/// `^[a-zA-Z0-9]{27}$`.
pub fn task_id(field: &str, id: &str) -> Check {
    if id.len() == 27 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!("{field} {id:?} is not 27 alphanumeric characters"))
    }
}

/// `min_len: 1, max_len: 256` (characters).
pub fn host_id(id: &str) -> Check {
    let n = id.chars().count();
    if (1..=256).contains(&n) {
        Ok(())
    } else {
        Err(format!("host_id must be 1..256 characters, got {n}"))
    }
}

fn annotations(field: &str, n: usize) -> Check {
    if n <= 16 {
        Ok(())
    } else {
        Err(format!("{field} has {n} annotations, at most 16 allowed"))
    }
}

fn bounded_nonempty(field: &str, v: &str) -> Check {
    match v.chars().count() {
        0 => Err(format!("{field} is empty")),
        n if n > 256 => Err(format!("{field} is longer than 256 characters")),
        _ => Ok(()),
    }
}

pub fn hello(r: &baton::BatonServiceHelloRequest) -> Check {
    host_id(&r.host_id)?;
    if !r.task_id.is_empty() {
        task_id("task_id", &r.task_id)?;
    }
    annotations("annotations", r.annotations.len())?;
    let md = r
        .connector_metadata
        .as_ref()
        .ok_or("connector_metadata is required")?;
    let n = md.display_name.len();
    if !(1..=1024).contains(&n) {
        return Err(format!(
            "connector_metadata.display_name must be 1..1024 bytes, got {n}"
        ));
    }
    if md.description.len() > 4096 {
        return Err("connector_metadata.description is longer than 4096 bytes".into());
    }
    let b = r.build_info.as_ref().ok_or("build_info is required")?;
    bounded_nonempty("build_info.lang_version", &b.lang_version)?;
    bounded_nonempty("build_info.package", &b.package)?;
    bounded_nonempty("build_info.package_version", &b.package_version)?;
    let o = r.os_info.as_ref().ok_or("os_info is required")?;
    for (f, v) in [
        ("hostname", &o.hostname),
        ("os", &o.os),
        ("platform", &o.platform),
        ("platform_version", &o.platform_version),
        ("platform_family", &o.platform_family),
        ("kernel_version", &o.kernel_version),
        ("kernel_arch", &o.kernel_arch),
        ("virtualization_system", &o.virtualization_system),
    ] {
        bounded_nonempty(&format!("os_info.{f}"), v)?;
    }
    Ok(())
}

pub fn heartbeat(r: &baton::BatonServiceHeartbeatRequest) -> Check {
    host_id(&r.host_id)?;
    task_id("task_id", &r.task_id)?;
    annotations("annotations", r.annotations.len())?;
    if r.task_ids.len() > 100 {
        return Err("task_ids has more than 100 items".into());
    }
    for id in &r.task_ids {
        task_id("task_ids[]", id)?;
    }
    Ok(())
}

pub fn finish(r: &baton::BatonServiceFinishTaskRequest) -> Check {
    use baton::baton_service_finish_task_request::FinalState;
    host_id(&r.host_id)?;
    task_id("task_id", &r.task_id)?;
    match &r.final_state {
        None => Err("final_state is required".into()),
        Some(FinalState::Error(e)) => annotations("error.annotations", e.annotations.len()),
        Some(FinalState::Success(s)) => annotations("success.annotations", s.annotations.len()),
    }
}

pub fn chunk(data: &[u8]) -> Check {
    if (1..=1024 * 1024).contains(&data.len()) {
        Ok(())
    } else {
        Err(format!(
            "upload data chunk of {} bytes (1..1048576 allowed)",
            data.len()
        ))
    }
}
