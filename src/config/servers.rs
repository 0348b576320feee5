//! `[inet_http_server]` / `[unix_http_server]`: parsed and validated like
//! supervisord's `server_configs_from_parser`, not served by rinit.

use super::expand::Scope;
use super::load::{fail, strip, Loader};
use super::model::ServerConfig;
use super::{paths, values, ConfigError};

impl Loader<'_> {
    pub(crate) fn servers(&self) -> Result<Vec<ServerConfig>, ConfigError> {
        let mut out = Vec::new();
        let sections = self.ini.section_names();
        for section in sections.iter().filter(|s| s.starts_with("inet_http_server")) {
            out.push(self.inet_server(section)?);
        }
        for section in sections.iter().filter(|s| s.starts_with("unix_http_server")) {
            out.push(self.unix_server(section)?);
        }
        Ok(out)
    }

    fn credentials(&self, section: &str) -> Result<(Option<String>, Option<String>), ConfigError> {
        let username = self.text(section, "username", &[])?;
        let password = self.text(section, "password", &[])?;
        if username.is_some() != password.is_some() {
            return Err(fail(
                format!(
                    "Section [{section}] contains incomplete authentication: If a username or a password is specified, both the username and password must be specified"
                ),
                None,
            ));
        }
        Ok((username, password))
    }

    fn inet_server(&self, section: &str) -> Result<ServerConfig, ConfigError> {
        let (username, password) = self.credentials(section)?;
        let Some((port, at)) = self.get(section, "port", &[])? else {
            return Err(fail(format!("section [{section}] has no port value"), None));
        };
        let (host, port) = values::inet_address(&port).map_err(|m| fail(m, Some(&at)))?;
        Ok(ServerConfig {
            section: section.to_string(),
            kind: "inet_http_server".into(),
            username,
            password,
            file: None,
            chmod: None,
            chown: None,
            host: Some(host),
            port: Some(port.to_string()),
        })
    }

    fn unix_server(&self, section: &str) -> Result<ServerConfig, ConfigError> {
        let here = self.here_scope();
        let here: &[&dyn Scope] = &[&here];
        let Some((file, _)) = self.get(section, "file", here)? else {
            return Err(fail(format!("section [{section}] has no file value"), None));
        };
        let file = self.normalize_path(strip(&file));
        let (username, password) = self.credentials(section)?;
        let chown = match self.get(section, "chown", &[])? {
            Some((v, at)) => {
                if self.opts.host_checks {
                    let ok = match v.split_once(':') {
                        Some((u, g)) => {
                            paths::check_user(self.passwd(), u).and_then(|_| paths::check_group(g))
                        }
                        None => paths::check_user(self.passwd(), &v),
                    };
                    ok.map_err(|_| fail(format!("Invalid sockchown value {v}"), Some(&at)))?;
                }
                Some(v)
            }
            None => None,
        };
        let chmod = match self.get(section, "chmod", &[])? {
            Some((v, at)) => {
                values::octal(&v).map_err(|_| fail(format!("Invalid chmod value {v}"), Some(&at)))?
            }
            None => 0o700,
        };
        Ok(ServerConfig {
            section: section.to_string(),
            kind: "unix_http_server".into(),
            username,
            password,
            file: Some(file),
            chmod: Some(format!("{chmod:03o}")),
            chown,
            host: None,
            port: None,
        })
    }
}
