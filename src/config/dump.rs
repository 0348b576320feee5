//! The resolved configuration as the oracle's JSON
//! (`corpus/oracle/supervisord_dump.py` defines the schema and the modes).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value as Json};

use super::load::{realize, MainSource, Outcome};
use super::model::*;
use super::values::signal_name;
use super::LoadOptions;

const NO_SUPERVISORD_SECTION: &str = ".ini file does not include supervisord section";
const MAIN_TOKEN: &str = "@MAIN@";

/// How to read the file (the oracle's `--main`, `--fragment`, `--auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Main,
    Fragment,
    Auto,
}

/// The oracle document for `path` (absolute, as the oracle passes it).
pub fn dump(path: &Path, mode: Mode, opts: &LoadOptions) -> Json {
    let mut doc = match mode {
        Mode::Main => dump_main(path, opts),
        Mode::Fragment => dump_fragment(path, opts),
        Mode::Auto => {
            let main = dump_main(path, opts);
            if main.get("error").and_then(Json::as_str) == Some(NO_SUPERVISORD_SECTION) {
                let mut frag = dump_fragment(path, opts);
                if let Some(obj) = frag.as_object_mut() {
                    obj.insert("main_error".into(), json!(NO_SUPERVISORD_SECTION));
                }
                frag
            } else {
                main
            }
        }
    };
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("supervisor_version".into(), json!("4.2.5"));
    }
    doc
}

/// Whether the document reports a refused configuration.
pub fn has_error(doc: &Json) -> bool {
    doc.get("error").is_some()
}

fn dump_main(path: &Path, opts: &LoadOptions) -> Json {
    let outcome = realize(&MainSource::File(path.to_path_buf()), opts);
    document(outcome, "main")
}

fn dump_fragment(path: &Path, opts: &LoadOptions) -> Json {
    let outcome = realize(&MainSource::Fragment(path.to_path_buf()), opts);
    let own = format!("Included extra file \"{}\" during parsing", path.display());
    let mut doc = document(outcome, "fragment");
    if let Some(infos) = doc.get_mut("infos").and_then(Json::as_array_mut) {
        infos.retain(|i| i.as_str() != Some(own.as_str()));
    }
    let main_dir = std::env::temp_dir().join("rinit-fragment-main");
    scrub(doc, &main_dir.to_string_lossy(), MAIN_TOKEN)
}

fn document(outcome: Outcome, mode: &str) -> Json {
    let mut obj = match outcome.result {
        Ok(config) => config_json(&config),
        Err(e) => {
            let mut m = Map::new();
            m.insert("error".into(), json!(e.message));
            m
        }
    };
    obj.insert("mode".into(), json!(mode));
    obj.insert("warnings".into(), json!(outcome.warnings));
    obj.insert("infos".into(), json!(outcome.infos));
    Json::Object(obj)
}

/// Replace `from` by `to` in every string (keys included), as the oracle's `scrub`.
pub fn scrub(v: Json, from: &str, to: &str) -> Json {
    match v {
        Json::String(s) => Json::String(s.replace(from, to)),
        Json::Array(a) => Json::Array(a.into_iter().map(|x| scrub(x, from, to)).collect()),
        Json::Object(o) => Json::Object(
            o.into_iter()
                .map(|(k, x)| (k.replace(from, to), scrub(x, from, to)))
                .collect(),
        ),
        other => other,
    }
}

fn octal(v: u32) -> String {
    format!("{v:03o}")
}

fn env_json(env: &[(String, String)]) -> Json {
    if env.is_empty() {
        return Json::Null;
    }
    Json::Object(env.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn config_json(c: &Config) -> Map<String, Json> {
    let s = &c.supervisord;
    let mut m = Map::new();
    m.insert(
        "supervisord".into(),
        json!({
            "nodaemon": s.nodaemon, "logfile": s.logfile, "logfile_maxbytes": s.logfile_maxbytes,
            "logfile_backups": s.logfile_backups, "loglevel": s.loglevel, "pidfile": s.pidfile,
            "user": s.user, "umask": octal(s.umask), "directory": s.directory,
            "identifier": s.identifier, "childlogdir": s.childlogdir, "minfds": s.minfds,
            "minprocs": s.minprocs, "nocleanup": s.nocleanup, "strip_ansi": s.strip_ansi,
            "silent": s.silent, "environment": env_json(s.environment.as_deref().unwrap_or(&[])),
        }),
    );
    m.insert(
        "servers".into(),
        Json::Array(c.servers.iter().map(server_json).collect()),
    );
    m.insert("serverurl".into(), json!(c.serverurl));
    m.insert(
        "rpcinterfaces".into(),
        Json::Array(
            c.rpcinterfaces
                .iter()
                .map(|r| {
                    let extras: BTreeMap<&str, &str> =
                        r.extras.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    json!({"name": r.name, "factory": r.factory, "extras": extras})
                })
                .collect(),
        ),
    );
    m.insert("groups".into(), Json::Array(groups_json(c)));
    m
}

fn server_json(s: &ServerConfig) -> Json {
    if s.kind == "inet_http_server" {
        let port: Json = s
            .port
            .as_deref()
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(Json::Null, |p| json!(p));
        json!({"section": s.section, "type": s.kind, "host": s.host, "port": port,
               "username": s.username, "password": s.password})
    } else {
        json!({"section": s.section, "type": s.kind, "file": s.file, "chmod": s.chmod, "chown": s.chown,
               "username": s.username, "password": s.password})
    }
}

/// All groups (FastCGI ones too) sorted by name, as the oracle lists them.
fn groups_json(c: &Config) -> Vec<Json> {
    let hetero: BTreeMap<String, String> = c
        .groups
        .iter()
        .filter(|g| g.section.starts_with("group:"))
        .map(|g| (g.name.clone(), g.section.clone()))
        .collect();
    let mut all: Vec<(&GroupConfig, Option<&FcgiGroupConfig>)> = c
        .groups
        .iter()
        .map(|g| (g, None))
        .chain(c.fcgi_groups.iter().map(|f| (&f.group, Some(f))))
        .collect();
    all.sort_by(|a, b| {
        a.0.priority
            .cmp(&b.0.priority)
            .then_with(|| a.0.name.cmp(&b.0.name))
    });
    all.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    all.into_iter().map(|(g, f)| group_json(g, f, &hetero)).collect()
}

fn group_json(g: &GroupConfig, fcgi: Option<&FcgiGroupConfig>, hetero: &BTreeMap<String, String>) -> Json {
    let mut m = Map::new();
    m.insert("name".into(), json!(g.name));
    m.insert("priority".into(), json!(g.priority));
    m.insert(
        "processes".into(),
        Json::Array(g.processes.iter().map(process_json).collect()),
    );
    if let Some(l) = &g.listener {
        m.insert("type".into(), json!("eventlistener"));
        m.insert("section".into(), json!(format!("eventlistener:{}", g.name)));
        m.insert("buffer_size".into(), json!(l.buffer_size));
        m.insert("events".into(), json!(l.events));
        m.insert("result_handler".into(), json!(l.result_handler));
    } else if let Some(f) = fcgi {
        m.insert("type".into(), json!("fcgi-program"));
        m.insert(
            "section".into(),
            json!(g
                .processes
                .first()
                .map_or(g.section.clone(), |p| p.section.clone())),
        );
        m.insert("socket".into(), json!(f.socket));
        m.insert("socket_owner".into(), json!(f.socket_owner));
        m.insert("socket_mode".into(), json!(f.socket_mode.map(octal)));
        m.insert("socket_backlog".into(), json!(f.socket_backlog));
    } else {
        m.insert("type".into(), json!("program"));
        if let Some(section) = hetero.get(&g.name) {
            m.insert("section".into(), json!(section));
            let mut programs: Vec<&str> = Vec::new();
            for p in &g.processes {
                if !programs.contains(&p.section.as_str()) {
                    programs.push(&p.section);
                }
            }
            m.insert("programs".into(), json!(programs));
        } else {
            m.insert(
                "section".into(),
                json!(g.processes.first().map(|p| p.section.clone())),
            );
        }
    }
    Json::Object(m)
}

fn process_json(p: &ProcessConfig) -> Json {
    let autorestart = match p.autorestart {
        AutoRestart::True => json!(true),
        AutoRestart::False => json!(false),
        AutoRestart::Unexpected => json!("unexpected"),
    };
    let stopsignal = signal_name(p.stopsignal).map_or(json!(p.stopsignal), |n| json!(n));
    json!({
        "name": p.name, "program": p.section, "numprocs": p.numprocs,
        "numprocs_start": p.numprocs_start, "process_num": p.process_num, "command": p.command,
        "priority": p.priority, "autostart": p.autostart, "autorestart": autorestart,
        "startsecs": p.startsecs, "startretries": p.startretries, "exitcodes": p.exitcodes,
        "stopsignal": stopsignal, "stopwaitsecs": p.stopwaitsecs, "stopasgroup": p.stopasgroup,
        "killasgroup": p.killasgroup, "user": p.user, "directory": p.directory,
        "umask": p.umask.map(octal), "environment": env_json(&p.environment),
        "redirect_stderr": p.redirect_stderr, "serverurl": p.serverurl,
        "stdout_logfile": p.stdout_logfile, "stdout_logfile_maxbytes": p.stdout_logfile_maxbytes,
        "stdout_logfile_backups": p.stdout_logfile_backups,
        "stdout_capture_maxbytes": p.stdout_capture_maxbytes,
        "stdout_events_enabled": p.stdout_events_enabled, "stdout_syslog": p.stdout_syslog,
        "stderr_logfile": p.stderr_logfile, "stderr_logfile_maxbytes": p.stderr_logfile_maxbytes,
        "stderr_logfile_backups": p.stderr_logfile_backups,
        "stderr_capture_maxbytes": p.stderr_capture_maxbytes,
        "stderr_events_enabled": p.stderr_events_enabled, "stderr_syslog": p.stderr_syslog,
    })
}
